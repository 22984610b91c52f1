"""`tools/decode.py --diagnose`: one JSON line, the same on CPython and MicroPython."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DECODE = os.path.join(ROOT, "tools", "decode.py")
FRAMES = os.path.join(ROOT, "frames")
sys.path.insert(0, os.path.join(ROOT, "tests", "upy"))

from uart_sim import transfer  # noqa: E402

NETZ_NOE = os.path.join(FRAMES, "netz-noe-doc", "kaifa-ma309-evn-mbus-2seg-encrypted.bin")
KAMSTRUP = os.path.join(FRAMES, "amshan", "kamstrup-se-list-3phase-hdlc.bin")
WRAPPER_KEY = "4D5944554D4D59474C4F42414C4B4559"


def cpython(args, stdin=None):
    return subprocess.run([sys.executable, DECODE] + args, input=stdin, capture_output=True, cwd=ROOT)


def both(micropython, args, stdin=None):
    """Run on both interpreters; the one line of output, parsed, after checking it is the same."""
    on_cpython = cpython(args, stdin)
    on_micropython = micropython([DECODE] + args, stdin=stdin)
    assert on_cpython.returncode == 0, on_cpython.stderr.decode()
    assert on_micropython.returncode == 0, on_micropython.stderr.decode()
    assert on_micropython.stdout == on_cpython.stdout
    lines = on_cpython.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    out = json.loads(lines[0])
    assert list(out) == ["diagnosis", "detail"]
    assert lines[0].startswith('{"diagnosis": ')
    return out["diagnosis"], out["detail"]


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_seed_noise_log_is_noise(micropython):
    log = os.path.join(FRAMES, "seed", "noise-unknown-data-telnet-log.txt")
    code, detail = both(micropython, ["--diagnose", "--hex", log])
    assert code == "noise" and "power supply" in detail


def test_clean_capture_and_stdin(micropython):
    assert both(micropython, ["--diagnose", KAMSTRUP])[0] == "ok"
    with open(KAMSTRUP, "rb") as f:
        assert both(micropython, ["--diagnose"], stdin=f.read())[0] == "ok"


def test_keys(micropython):
    code, detail = both(micropython, ["--diagnose", NETZ_NOE])
    assert code == "no_key" and "GUEK" in detail and "GPK60" in detail and "4B464D6750000009" in detail
    assert both(micropython, ["--key", "00" * 16, "--diagnose", NETZ_NOE])[0] == "wrong_key"
    path = os.path.join(FRAMES, "dlms-cosem", "unknown-udp-wrapper-ggc-datanotification.bin")
    code, detail = both(micropython, ["--diagnose", "--key", WRAPPER_KEY, "--auth-key", WRAPPER_KEY, path])
    assert code == "unknown_layout" and "octet-string(34)" in detail


def test_line_problems(micropython, tmp_path):
    with open(KAMSTRUP, "rb") as f:
        frame = f.read()
    received = transfer(frame * 3, (2400, 8, None, 1, False), (2400, 8, "E", 1, False))
    wrong = _write(tmp_path, "8e1.bin", received)
    assert both(micropython, ["--diagnose", wrong])[0] == "serial_settings"
    damaged = bytearray(frame)
    damaged[50] ^= 1
    corrupted = _write(tmp_path, "corrupted.bin", (bytes(damaged) + frame + bytes(damaged)) * 2)
    code, detail = both(micropython, ["--diagnose", corrupted])
    assert code == "corrupted" and "4 of 6" in detail
    idle = _write(tmp_path, "idle.bin", b"\xff" * 300)
    assert both(micropython, ["--diagnose", idle])[0] == "idle_or_inverted"
    assert both(micropython, ["--diagnose", "/dev/null"])[0] == "no_data"


def test_without_diagnose_the_output_is_unchanged(micropython):
    plain = cpython([NETZ_NOE])
    assert json.loads(plain.stdout.decode())["error"] == "no_key"
    assert micropython([DECODE, NETZ_NOE]).stdout == plain.stdout


@pytest.mark.parametrize("args", [["--diagnose", "--key", "0x12"], ["--diagnose", "a", "b"]])
def test_bad_arguments_still_exit_2(micropython, args):
    assert cpython(args).returncode == 2
    assert micropython([DECODE] + args).returncode == 2
