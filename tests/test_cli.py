"""tools/decode.py as users run it: under CPython and MicroPython, from files, stdin and hex dumps."""
import glob
import json
import os
import subprocess
import sys

import pytest
from conftest import micropython_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DECODE = os.path.join(ROOT, "tools", "decode.py")
CAPTURES = sorted(glob.glob(os.path.join(ROOT, "frames", "*", "*.json")))


def capture_args(sidecar):
    with open(sidecar) as f:
        meta = json.load(f)
    args = []
    keys = meta.get("keys") or {}
    if keys.get("encryption"):
        args += ["--key", keys["encryption"]]
    if keys.get("authentication"):
        args += ["--auth-key", keys["authentication"]]
    if meta.get("input") == "hex":
        args += ["--hex", sidecar[:-5] + ".txt"]
    else:
        args.append(sidecar[:-5] + ".bin")
    return args


def cpython(args, stdin=None):
    return subprocess.run([sys.executable, DECODE] + args, input=stdin, capture_output=True, cwd=ROOT)


@pytest.mark.parametrize("sidecar", CAPTURES, ids=lambda p: os.path.relpath(p, ROOT + "/frames")[:-5])
def test_identical_output_on_both_interpreters(sidecar, micropython):
    args = capture_args(sidecar)
    on_cpython = cpython(args)
    on_micropython = micropython([DECODE] + args)
    assert on_cpython.returncode == 0, on_cpython.stderr.decode()
    assert on_micropython.returncode == 0, on_micropython.stderr.decode()
    assert on_cpython.stdout, "no output at all"
    assert on_micropython.stdout == on_cpython.stdout
    for line in on_cpython.stdout.decode().splitlines():
        entry = json.loads(line)
        assert ("obis" in entry and "time" in entry) or ("error" in entry and "detail" in entry)


def test_telnet_hex_dump_decodes_like_the_raw_frame(micropython, tmp_path):
    dump = os.path.join(ROOT, "frames", "seed", "kamstrup-no-list-telnet-dump.txt")
    with open(dump) as f:
        raw = bytes(int(t, 16) for t in f.read().split() if len(t) == 2 and t != "(V)")
    binary = tmp_path / "frame.bin"
    binary.write_bytes(raw)
    from_hex = micropython([DECODE, "--hex", dump])
    from_bin = micropython([DECODE, str(binary)])
    assert from_hex.stdout == from_bin.stdout
    reading = json.loads(from_hex.stdout.decode().splitlines()[0])
    assert reading["obis"]["1.1.1.7.0.255"] == [3825, "W"]
    assert reading["time"] == "2024-10-30T17:32:00"


def test_reads_stdin_on_both_interpreters(micropython):
    path = os.path.join(ROOT, "frames", "amshan", "kamstrup-se-list-3phase-hdlc.bin")
    with open(path, "rb") as f:
        data = f.read()
    on_cpython = cpython([], stdin=data)
    on_micropython = micropython([DECODE], stdin=data)
    assert on_cpython.stdout == on_micropython.stdout
    assert json.loads(on_cpython.stdout.decode())["obis"]["1.1.1.7.0.255"] == [826, "W"]


@pytest.mark.parametrize("key", ["00112233445566778899AABBCCDDEEF", "00112233445566778899AABBCCDDEEFG",
                                 "", "0x1234"])
def test_malformed_key_exits_2_with_a_clear_message(key, micropython):
    for run in (lambda a: cpython(a), lambda a: micropython([DECODE] + a)):
        proc = run(["--key", key, "/dev/null"])
        assert proc.returncode == 2
        assert b"32 hex digits" in proc.stderr
        assert proc.stdout == b""


def test_keys_may_be_pasted_with_separators():
    sidecar = os.path.join(ROOT, "frames", "kamstrup-dk-script", "kamstrup-omnipower-dk-ggc.json")
    with open(sidecar) as f:
        keys = json.load(f)["keys"]
    spaced = " ".join(keys["encryption"][i:i + 2] for i in range(0, 32, 2))
    coloned = ":".join(keys["authentication"][i:i + 2] for i in range(0, 32, 2))
    proc = cpython(["--key", spaced, "--auth-key", coloned, sidecar[:-5] + ".bin"])
    assert proc.returncode == 0
    assert "obis" in json.loads(proc.stdout.decode())


def test_bad_usage_exits_2(micropython):
    for args in (["--bogus"], ["a", "b"], ["--key"]):
        assert cpython(args).returncode == 2
        assert micropython([DECODE] + args).returncode == 2


def test_garbage_input_is_read_and_reported_with_exit_0(micropython):
    junk = bytes((i * 37 + 11) & 0xFF for i in range(5000))
    proc = micropython([DECODE], stdin=junk)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert lines and all("error" in line for line in lines)
    assert any(line["error"] == "noise" for line in lines)


def test_wrong_key_is_reported_as_wrong_key(micropython):
    path = os.path.join(ROOT, "frames", "netz-noe-doc", "kaifa-ma309-evn-mbus-2seg-encrypted.bin")
    proc = micropython([DECODE, "--key", "00" * 16, path])
    line = json.loads(proc.stdout.decode())
    assert line["error"] == "decrypt"
    assert "wrong encryption key" in line["detail"]


def test_missing_key_names_the_system_title(micropython):
    path = os.path.join(ROOT, "frames", "netz-noe-doc", "kaifa-ma309-evn-mbus-2seg-encrypted.bin")
    line = json.loads(micropython([DECODE, path]).stdout.decode())
    assert line["error"] == "no_key"
    assert "no key configured" in line["detail"] and "4B464D6750000009" in line["detail"]


def _hundred_encrypted_frames(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import bench
    frame, _ = bench.sized_frame(encrypted=True)
    stream = tmp_path / "stream.bin"
    stream.write_bytes(frame * 100)
    return [DECODE, "--key", bench.KEY.hex(), "--auth-key", bench.AUTH_KEY.hex(), str(stream)]


def _assert_hundred_readings(proc):
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 100
    assert all("obis" in json.loads(line) for line in lines)


def test_hundred_encrypted_frames_in_a_96k_heap_from_source(micropython, tmp_path):
    _assert_hundred_readings(micropython(_hundred_encrypted_frames(tmp_path), heap="96K"))


def test_hundred_encrypted_frames_in_a_96k_heap_precompiled(micropython, tmp_path):
    """As on the board: the library precompiled with mpy-cross (here for this machine)."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import build_mpy
    lib = tmp_path / "lib"
    assert build_mpy.build(os.path.join(ROOT, "firmware", "lib"), str(lib), "host") > 20
    args = _hundred_encrypted_frames(tmp_path)
    env = dict(os.environ, MICROPYPATH=str(lib))
    proc = subprocess.run([micropython_binary(), "-X", "heapsize=96K"] + args, env=env,
                          capture_output=True, cwd=ROOT, timeout=120)
    _assert_hundred_readings(proc)
