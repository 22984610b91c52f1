# One sentence for what is wrong with the line (both interpreters).
#
# Inputs go through the CLI's own --diagnose path (tools/decode.py: bytes to the diagnosis,
# then to the pipeline, events to the diagnosis), or through a runtime-like loop that flushes
# the pipeline when the line goes idle between pushes.
import json
import sys

from support import FRAMES, ROOT, read_bytes
from encoder import (Rng, data_notification, double_long_unsigned, hdlc_address, hdlc_frame, llc,
                     long_unsigned, octet_string, structure)
from uart_sim import transfer
from han.byte_sample import ByteSample
from han.diagnosis import Diagnosis
from han.errors import Error
from han.keys import cipher
from han.pipeline import Pipeline
from han.values import Reading
from han.verdicts import expected_distinct, pattern

# han.verdicts' byte sample patterns (private consts there: the board's heap keeps no names for them)
PATTERN_IDLE, PATTERN_SLOW, PATTERN_STRUCTURED, PATTERN_RANDOM = 1, 2, 3, 4
BYTE_WINDOW, NO_DATA_MS = 16384, 30000  # han.diagnosis' window of bytes, its silence for no_data

sys.path.insert(0, ROOT + "/tools")
import decode as cli  # noqa: E402

E1 = (2400, 8, "E", 1, False)
N1 = (2400, 8, None, 1, False)
P1 = (115200, 8, None, 1, True)
SEED_LOG = FRAMES + "/seed/noise-unknown-data-telnet-log.txt"
KAMSTRUP = "amshan/kamstrup-se-list-3phase-hdlc.bin"
NETZ_NOE = "netz-noe-doc/kaifa-ma309-evn-mbus-2seg-encrypted.bin"


def capture(path):
    return read_bytes(FRAMES + "/" + path)


def cli_verdict(data, keys=None):
    """What `decode.py --diagnose` prints for `data`, as (code, sentence)."""
    lines = []
    pieces = iter([memoryview(data)[i:i + cli.CHUNK] for i in range(0, len(data), cli.CHUNK)])
    cli.diagnose(pieces, keys, lines.append)
    assert len(lines) == 1 and lines[0].endswith("\n")
    out = json.loads(lines[0])
    assert sorted(out) == ["detail", "diagnosis"]
    return out["diagnosis"], out["detail"]


def pushes_verdict(pushes, keys=None):
    """A runtime's view: each push arrives, then the line goes idle (pipeline flushed)."""
    pipeline = Pipeline(keys)
    diagnosis = Diagnosis()
    now = 0
    for data in pushes:
        diagnosis.observe_bytes(len(data), data, now)
        for event in pipeline.feed(data):
            diagnosis.observe(event)
        for event in pipeline.flush():
            diagnosis.observe(event)
        now += 2000
    return diagnosis.verdict(now)


def test_seed_noise_log_is_noise_and_names_the_power_supply():
    with open(SEED_LOG) as f:
        data = cli.hex_tokens(f.read())
    code, sentence = cli_verdict(data)
    assert code == "noise", sentence
    assert "power supply" in sentence and "noise" in sentence.lower()
    assert "serial" not in sentence.lower() and "key" not in sentence


def test_clean_capture_is_ok():
    assert cli_verdict(capture(KAMSTRUP)) == ("ok", "Frames decode (1 reading).")
    code, sentence = cli_verdict(capture("amsreader-frames/Kaifa-TN-3p-log-2024-10-01.bin"))
    assert code == "ok" and "8 readings" in sentence


def test_encrypted_without_key_asks_for_the_guek_and_names_the_meter():
    code, sentence = cli_verdict(capture(NETZ_NOE))
    assert code == "no_key"
    assert "GUEK" in sentence and "GPK60" in sentence
    assert "4B464D6750000009" in sentence and "Kaifa" in sentence
    code, sentence = cli_verdict(capture("kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin"))
    assert code == "no_key" and "4B414D4501A4DC52" in sentence and "Kamstrup" in sentence


def test_wrong_key():
    code, sentence = cli_verdict(capture(NETZ_NOE), cipher(bytes(16), None))
    assert code == "wrong_key" and "GUEK/GPK60" in sentence and "wrong" in sentence


def test_authentication_failure():
    # the published authentication key of this capture does not verify its tag
    keys = cipher(bytes.fromhex("A8C74F67ECA8EF9C55C4743FF6F4F031"),
                  bytes.fromhex("F6089912E1CC910884DFC86E9F028201"))
    code, sentence = cli_verdict(capture("energy-decrypter-tests/sagemcom-t210d-p1-ggc-dsmr-text.bin"), keys)
    assert code == "auth_failed" and "GAK/GPK61" in sentence


def _flip(frame, at):
    damaged = bytearray(frame)
    damaged[at] ^= 0x10
    return bytes(damaged)


def test_corrupted_frames_give_the_count():
    frame = capture(KAMSTRUP)
    stream = b"".join(_flip(frame, 40 + i) if i % 3 else frame for i in range(12))  # 8 of 12 damaged
    code, sentence = cli_verdict(stream)
    assert code == "corrupted", sentence
    assert "8 of 12 failed the checksum" in sentence and "power supply" in sentence


def test_a_few_checksum_errors_among_many_good_frames_are_ok():
    frame = capture(KAMSTRUP)
    stream = b"".join(_flip(frame, 60) if i in (3, 11) else frame for i in range(20))
    code, sentence = cli_verdict(stream)
    assert code == "ok" and "18 readings" in sentence and "2 of 20" in sentence


def test_only_ff_or_00_is_idle_or_inverted():
    for byte in (b"\xff", b"\x00"):
        code, sentence = cli_verdict(byte * 500)
        assert code == "idle_or_inverted" and "invert" in sentence
    code, _ = cli_verdict(b"\xff\x00" * 100)
    assert code == "idle_or_inverted"


def test_nothing_is_no_data():
    code, sentence = cli_verdict(b"")
    assert code == "no_data" and "wiring" in sentence and "grid operator" in sentence


def test_silence_after_data_is_no_data():
    diagnosis = Diagnosis()
    diagnosis.observe_bytes(3, b"abc", 1000)
    diagnosis.observe(Reading())
    assert diagnosis.verdict(1000 + NO_DATA_MS)[0] == "ok"
    code, sentence = diagnosis.verdict(1001 + NO_DATA_MS)
    assert code == "no_data" and sentence.startswith("No data for 30 s")
    assert Diagnosis().verdict(5)[0] == "no_data"


def test_kamstrup_read_at_8e1_is_serial_settings():
    received = transfer(capture(KAMSTRUP) * 3, N1, E1)
    code, sentence = cli_verdict(received)  # one stream: the byte pattern tells
    assert code == "serial_settings", sentence
    assert "2400 8N1 for Kamstrup" in sentence and "115200 8N1 inverted" in sentence
    push = transfer(capture(KAMSTRUP), N1, E1)
    assert pushes_verdict([push] * 4)[0] == "serial_settings"  # pushes garbled the same way


def test_inverted_or_too_fast_uart_is_serial_settings():
    kaifa = capture("amsreader-frames/Kaifa-TN-3p-log-2024-10-01.bin")
    for rx in ((2400, 8, "E", 1, True), (9600, 8, None, 1, False), (9600, 8, None, 1, True)):
        code, sentence = cli_verdict(transfer(kaifa, E1, rx))
        assert code == "serial_settings", (rx, sentence)
    code, sentence = cli_verdict(transfer(kaifa, E1, (9600, 8, None, 1, False)))
    assert "higher than the meter's" in sentence


def test_p1_telegrams_at_a_wrong_setting_are_serial_settings():
    telegram = capture("dsmr/telegram_v5.bin")
    for rx in ((115200, 8, None, 1, False), (9600, 8, None, 1, True)):
        assert cli_verdict(transfer(telegram * 2, P1, rx))[0] == "serial_settings", rx


def test_a_meter_drowned_in_glitches_is_noise():
    rng = Rng(3)
    frame = capture(KAMSTRUP)
    pushes = [transfer(frame, N1, N1, noise=100, rng=rng) for _ in range(6)]
    code, sentence = pushes_verdict(pushes)
    assert code == "noise" and "power supply" in sentence
    assert cli_verdict(b"".join(pushes))[0] == "noise"


def test_a_meter_with_some_glitches_is_corrupted():
    rng = Rng(4)
    frame = capture("amsreader-frames/Kaifa-TN-3p-log-2024-10-01.bin")
    pushes = [transfer(frame, E1, E1, noise=5, rng=rng) for _ in range(3)]
    code, sentence = pushes_verdict(pushes)
    assert code == "corrupted" and "failed the checksum" in sentence


def test_unknown_layout_gives_the_list_shape():
    body = structure([long_unsigned(230), double_long_unsigned(1234), octet_string(b"\x01\x02\x03")])
    frame = hdlc_frame(llc(data_notification(body)), hdlc_address([0x20]), hdlc_address([1, 1]))
    code, sentence = cli_verdict(frame * 3)
    assert code == "unknown_layout"
    assert "structure(3: integer, integer, octet-string(3))" in sentence
    key = bytes.fromhex("4D5944554D4D59474C4F42414C4B4559")
    wrapped = capture("dlms-cosem/unknown-udp-wrapper-ggc-datanotification.bin")
    code, sentence = cli_verdict(wrapped, cipher(key, key))
    assert code == "unknown_layout" and "octet-string(34)" in sentence


def test_key_problems_dominate_noise_and_checksum_errors():
    diagnosis = Diagnosis()
    diagnosis.observe_bytes(4000, bytes(range(256)) * 15 + bytes(160))
    for _ in range(10):
        noise = Error("noise", "")
        noise.size = 300
        diagnosis.observe(noise)
        bad = Error("checksum", "")
        bad.size = 200
        diagnosis.observe(bad)
    diagnosis.observe(Error("decrypt", "wrong encryption key (GUEK, GPK60)"))
    assert diagnosis.verdict()[0] == "wrong_key"


def test_the_window_follows_the_line():
    diagnosis = Diagnosis(window=16)
    for _ in range(40):
        diagnosis.observe(Reading())
    assert diagnosis.verdict()[0] == "ok"
    for _ in range(40):
        diagnosis.observe(Error("no_key", "encrypted frame, no key configured (system title "
                                          "4B414D4501A4DC52 (KAM))"))
    code, sentence = diagnosis.verdict()
    assert code == "no_key" and "Kamstrup" in sentence
    assert sum(diagnosis.n) <= 16


def test_byte_sample_patterns():
    sample = ByteSample()
    sample.add(b"\x00\xff" * 40, 80)
    assert pattern(sample) == PATTERN_IDLE
    sample.reset()
    sample.add(b"\x80\x78\xf8\x00\x80" * 20, 100)
    assert pattern(sample) == PATTERN_SLOW
    sample.reset()
    rng = Rng(1)
    sample.add(bytes(rng.next32() & 0xFF for _ in range(400)), 400)
    assert pattern(sample) == PATTERN_RANDOM
    sample.reset()
    sample.add(capture(KAMSTRUP), 228)
    assert pattern(sample) == PATTERN_STRUCTURED
    sample.reset()
    sample.add(b"\x12" * 1000, 1000)
    assert sample.count == sample.limit  # bounded work per window
    assert expected_distinct(0) == 0 and 196 <= expected_distinct(379) <= 198


def test_byte_window_takes_a_fresh_sample():
    diagnosis = Diagnosis()
    diagnosis.observe_bytes(600, b"\xff" * 600)
    assert diagnosis.verdict()[0] == "idle_or_inverted"
    rng = Rng(2)
    chunk = bytes(rng.next32() & 0xFF for _ in range(1024))
    for _ in range(BYTE_WINDOW // 1024 + 1):
        diagnosis.observe_bytes(1024, chunk)
    assert diagnosis.bytes <= BYTE_WINDOW
    assert diagnosis.verdict()[0] == "noise"


def test_the_byte_sample_goes_with_the_first_frame():
    # A line that gave a frame is never judged by its bytes again: the sample and its code
    # (han.byte_sample, loaded for the sample alone) leave the heap.
    diagnosis = Diagnosis()
    diagnosis.observe_bytes(600, bytes(range(200)) * 3)
    noise = Error("noise", "", b"\x12\x34\x56\x78\x9a\xbc\xde")
    for _ in range(3):
        diagnosis.observe(noise)
    hcs = Error("checksum", "")
    hcs.size = 1
    diagnosis.observe(hcs)
    assert diagnosis.sample is not None and diagnosis.n[12] == 2  # (the repeated noise runs)
    assert diagnosis.verdict()[0] == "serial_settings"
    diagnosis.observe(Error("truncated", ""))
    assert diagnosis.sample is None
    diagnosis.observe_bytes(20000, bytes(20000))  # a new byte window: no sample to start
    diagnosis.observe(noise)
    assert diagnosis.verdict()[0] == "corrupted"
