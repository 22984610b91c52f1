# The line detective finds the meter's serial settings (both interpreters).
#
# Meters are simulated from real captures: uart_sim serialises a capture at the meter's real
# setting and samples it as a UART at the detective's current setting would, so a wrong
# candidate sees what a real ESP32 UART would deliver. The runtime loop below is the one a
# board runs: bytes to the detective and the pipeline, pipeline events to the detective,
# decide() every 100 ms, the UART re-opened on NEXT.
from support import FRAMES, read_bytes
from uart_sim import Meter, transfer
from encoder import Rng
from han import detective
from han.detective import KEEP, NEXT, SETTLED, DWELL_MS, LineDetective, describe, setting_at
from han.errors import Error
from han.pipeline import Pipeline
from han.values import Reading

E1 = (2400, 8, "E", 1, False)     # Aidon, Kaifa, Netz NÖ (M-Bus)
N1 = (2400, 8, None, 1, False)    # Kamstrup
IR = (9600, 8, None, 1, False)    # optical head
P1 = (115200, 8, None, 1, True)   # DSMR P1, inverted line
STEP = 100


def run(meter, det, limit_ms=200000):
    """Drive the detective like a runtime; (settle time ms, setting, settings left in order)."""
    pipeline = Pipeline()
    left = []
    now = 0
    last_byte = None
    meter.open(det.setting, now)
    while now <= limit_ms:
        for piece in meter.read(now):
            det.observe_bytes(len(piece), piece)
            last_byte = now
            for event in pipeline.feed(piece):
                det.observe(event)
        if last_byte is not None and now - last_byte >= 300:  # the line went idle
            for event in pipeline.flush():
                det.observe(event)
            last_byte = None
        before = det.setting
        verdict = det.decide(now)
        if verdict == NEXT:
            left.append(describe(before))
            for _ in pipeline.flush():  # what the old setting buffered is dropped
                pass
            last_byte = None
            meter.open(det.setting, now)
        elif verdict == SETTLED:
            return now, det.setting, left
        now += STEP
    return None, det.setting, left


def capture(path):
    return read_bytes(FRAMES + "/" + path)


def test_default_candidates_in_order():
    names = [describe(setting_at(detective.DEFAULT, i)) for i in range(8)]
    assert names == ["2400 8E1", "2400 8E1 inverted", "2400 8N1", "2400 8N1 inverted",
                     "9600 8N1", "9600 8N1 inverted", "115200 8N1", "115200 8N1 inverted"]
    det = LineDetective()
    assert det.setting == E1


def test_kamstrup_8n1_is_left_at_8e1_and_settles_on_8n1():
    meter = Meter([capture("amshan/kamstrup-se-list-3phase-hdlc.bin")], N1, 10000, phase_ms=3000)
    at, setting, left = run(meter, LineDetective())
    assert setting == N1, (setting, left)
    assert left == ["2400 8E1", "2400 8E1 inverted"]
    assert at <= 2 * DWELL_MS + 25000, at  # two dwells, then two 10 s pushes


def test_kamstrup_dk_encrypted_without_key_settles_on_8n1():
    # no key: the frames only give no_key errors, which prove the serial settings all the same
    meter = Meter([capture("kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin")], N1, 10000, phase_ms=500)
    at, setting, left = run(meter, LineDetective())
    assert setting == N1 and left == ["2400 8E1", "2400 8E1 inverted"], (setting, left)


def test_aidon_8e1_settles_at_once():
    meter = Meter([capture("amshan/aidon-hdlc-escape-char-in-info.bin")], E1, 2500, phase_ms=700)
    at, setting, left = run(meter, LineDetective())
    assert setting == E1 and left == []
    assert at <= 6000, at


def test_kaifa_lists_settle_on_8e1():
    frames = [capture("amstomqttbridge/kaifa-kfm001-list1-hdlc.bin")] * 4 + \
        [capture("amsreader-frames/Kaifa-TN-3p-list2-MA304H3E.bin")]
    meter = Meter(frames, E1, 2000, phase_ms=1500)
    at, setting, left = run(meter, LineDetective())
    assert setting == E1 and left == [] and at <= 5000, (at, setting, left)


def test_netz_noe_mbus_encrypted_settles_on_8e1():
    meter = Meter([capture("netz-noe-doc/kaifa-ma309-evn-mbus-2seg-encrypted.bin")], E1, 5000, phase_ms=100)
    at, setting, left = run(meter, LineDetective())
    assert setting == E1 and left == [] and at <= 11000, (at, setting, left)


def test_p1_dsmr_inverted_115200_is_found_last():
    meter = Meter([capture("dsmr/telegram_v5.bin")], P1, 1000, phase_ms=200)
    at, setting, left = run(meter, LineDetective())
    assert setting == P1, (setting, left)
    assert left == ["2400 8E1", "2400 8E1 inverted", "2400 8N1", "2400 8N1 inverted",
                    "9600 8N1", "9600 8N1 inverted", "115200 8N1"]
    assert at <= 6 * DWELL_MS + 12000, at  # 115200 plain is left early: many bytes, no frame


def test_ir_head_9600_settles_and_faster_candidates_are_never_reached():
    meter = Meter([capture("amsreader-frames/lng-single-frame.bin")], IR, 5000, phase_ms=100)
    at, setting, left = run(meter, LineDetective())
    assert setting == IR and len(left) == 4, (setting, left)


def test_a_uart_faster_than_the_meter_is_left_on_the_first_push():
    # Aidon at 2400 read at 115200: every falling edge gives a 0x00 byte
    meter = Meter([capture("amshan/aidon-hdlc-escape-char-in-info.bin")], E1, 2500, phase_ms=1000)
    det = LineDetective(start=6)  # begin at 115200 8N1 (a saved setting, a changed meter)
    at, setting, left = run(meter, det)
    assert left[:2] == ["115200 8N1", "115200 8N1 inverted"] and setting == E1
    assert at <= 2 * 2500 + 6000, at  # one push per fast candidate, not a dwell each


def test_noise_never_settles_and_cycles():
    rng = Rng(5)
    noise = [bytes(rng.next32() & 0xFF for _ in range(300)) for _ in range(3)]
    meter = Meter(noise, N1, 2000)
    at, setting, left = run(meter, LineDetective(), limit_ms=8 * DWELL_MS + 2000)
    assert at is None
    assert left[:8] == [describe(setting_at(detective.DEFAULT, i)) for i in range(8)]
    assert left[8] == "2400 8E1"  # and round again


def test_a_noisy_line_still_settles_when_some_frames_pass():
    # a noisy supply: glitches hit most pushes; the two that pass their checksum settle it
    data = capture("amshan/kaifa-hdlc-flag-byte-in-info.bin")
    rng = Rng(9)
    frames = [transfer(data, E1, E1, noise=20, rng=rng) for _ in range(3)] + [data]
    assert frames[:3] != [data] * 3
    meter = Meter(frames, E1, 2000, phase_ms=100)
    at, setting, left = run(meter, LineDetective())
    assert setting == E1 and left == [], (at, left)


# ---------------------------------------------------------------------------------------------
# The rules, event by event.


def _reading():
    return Reading()


def test_two_proofs_settle_and_a_settled_detective_stays():
    det = LineDetective()
    assert det.decide(0) == KEEP
    det.observe(Error("no_key", "encrypted"))
    assert det.decide(1000) == KEEP
    det.observe(_reading())
    assert det.decide(2000) == SETTLED
    for _ in range(50):
        bad = Error("checksum", "FCS")
        bad.size = 200
        det.observe(bad)
        det.observe_bytes(4, b"\x00\x00\x00\x00")
    assert det.decide(60000) == SETTLED and det.setting == setting_at(detective.DEFAULT, 0)


def test_errors_that_no_valid_frame_gives_prove_nothing():
    det = LineDetective()
    det.decide(0)
    for code in ("checksum", "noise", "truncated", "sequence"):
        error = Error(code, "")
        error.size = 100
        det.observe(error)
    assert det.proofs == 0
    assert det.decide(DWELL_MS - 1) == KEEP
    assert det.decide(DWELL_MS) == NEXT
    assert det.setting == (2400, 8, "E", 1, True)


def test_a_proof_gives_the_next_push_a_full_dwell():
    det = LineDetective()
    det.decide(0)
    det.observe(_reading())
    assert det.decide(11000) == KEEP
    assert det.decide(DWELL_MS + 5000) == KEEP  # 11 s + 12 s
    assert det.decide(11000 + DWELL_MS) == NEXT


def test_a_frame_still_arriving_at_the_deadline_gets_a_grace():
    det = LineDetective()
    det.decide(0)
    t = DWELL_MS - 200
    while t < DWELL_MS + 2000:
        det.observe_bytes(24, b"\x7e\xa0\xe2\x2b\x21\x13" * 4)
        assert det.decide(t) == KEEP
        t += 100
    assert det.decide(t + detective.QUIET_MS) == NEXT  # quiet again: move on


def test_grace_is_bounded_on_an_endless_stream():
    det = LineDetective()
    det.decide(0)
    t = 0
    verdict = KEEP
    while verdict == KEEP:
        t += 100
        det.observe_bytes(10, bytes(range(1, 11)))  # varied bytes, below the early limits
        verdict = det.decide(t)
    assert verdict == NEXT and t <= DWELL_MS + detective.GRACE_MS


def test_many_bytes_without_a_frame_move_on_early():
    det = LineDetective(start=6)
    det.decide(0)
    chunk = bytes((i * 37 + 11) & 0xFF for i in range(256))
    for i in range(detective.EARLY_BYTES // 256):
        det.observe_bytes(256, chunk)
    assert det.decide(1000) == NEXT and det.index == 7


def test_zero_bytes_and_long_bit_runs_move_on_early():
    det = LineDetective()
    det.decide(0)
    det.observe_bytes(200, bytes(200))
    assert det.decide(500) == NEXT
    det.decide(600)
    pattern = b"\x80\x78\xf8\x80\x00\xf8\x78\x80" * 20  # 2400 baud read at 9600
    det.observe_bytes(len(pattern), pattern)
    assert det.decide(700) == NEXT and det.index == 2


def test_idle_bytes_from_glitches_alone_do_not_move_on_early():
    det = LineDetective()
    det.decide(0)
    det.observe_bytes(200, b"\xff" * 200)
    assert det.decide(500) == KEEP


def test_ticks_wrap():
    det = LineDetective()
    start = (1 << 30) - 1000
    det.decide(start)
    assert det.decide((start + DWELL_MS - 1) & 0x3FFFFFFF) == KEEP
    assert det.decide((start + DWELL_MS) & 0x3FFFFFFF) == NEXT


def test_custom_candidates_and_restart():
    mine = ((2400, 8, None, 1, False), (115200, 8, None, 1, True))
    det = LineDetective(mine)
    assert det.setting == mine[0]
    det.decide(0)
    assert det.decide(DWELL_MS) == NEXT and det.setting == mine[1]
    det.decide(DWELL_MS)
    assert det.decide(2 * DWELL_MS) == NEXT and det.setting == mine[0] and det.cycles == 1
    det.observe(_reading())
    det.observe(_reading())
    assert det.decide(2 * DWELL_MS + 100) == SETTLED
    det.restart(1)
    assert not det.settled and det.setting == mine[1] and det.cycles == 0


# ---------------------------------------------------------------------------------------------
# The UART simulator itself.


def test_uart_sim_round_trips_at_the_meters_own_setting():
    data = bytes(range(256))
    for setting in (E1, N1, IR, P1, (2400, 8, "O", 2, False), (9600, 7, "E", 1, False)):
        bits = setting[1]
        assert transfer(data, setting, setting) == bytes(b & ((1 << bits) - 1) for b in data), setting


def test_uart_sim_parity_mismatches_behave_like_a_uart():
    frame = capture("amshan/kamstrup-se-list-3phase-hdlc.bin")
    # 8E1 read as 8N1: the parity bit is taken for the stop bit, the next start bit still found
    assert transfer(frame, E1, N1) == frame
    # 8N1 read as 8E1: back to back, the next start bit is taken for the stop bit: garbage
    assert transfer(frame, N1, E1) != frame
    # ... unless the sender leaves a bit of idle between bytes (parity errors ignored)
    assert transfer(frame, N1, E1, gap=1) == frame
    # a UART that drops bytes with parity errors keeps only about half
    kept = transfer(frame, N1, E1, gap=1, check_parity=True)
    assert 0 < len(kept) < len(frame)


def test_uart_sim_wrong_baud_and_inversion():
    frame = capture("amshan/kamstrup-se-list-3phase-hdlc.bin")
    fast = transfer(frame, N1, (115200, 8, None, 1, False))
    assert fast and fast == bytes(len(fast))  # one 0x00 per falling edge
    assert set(transfer(frame, N1, IR)) <= set(b"\x00\x80\x78\xf8")
    assert transfer(frame, N1, (2400, 8, None, 1, True)) != frame
    assert transfer(b"", N1, N1) == b""


def test_custom_candidates_find_a_dsmr4_meter_at_7e1():
    # DSMR 4 meters send 115200 7E1 (inverted): not a default candidate, but a table can add it
    dsmr4 = (115200, 7, "E", 1, True)
    table = tuple(setting_at(detective.DEFAULT, i) for i in range(8)) + (dsmr4,)
    meter = Meter([capture("dsmr/telegram_v4_2.bin")], dsmr4, 1000, phase_ms=100)
    at, setting, left = run(meter, LineDetective(table, start=6))
    assert setting == dsmr4 and left == ["115200 8N1", "115200 8N1 inverted"], (setting, left)
