"""Link layer: CRCs, the streaming scanner, HDLC and M-Bus frames, segments (both interpreters).

Frames are real captures: a Kamstrup HAN-NVE push (telnet dump of a Norwegian meter) and the
Netz NÖ example (two M-Bus segments) published by the grid operator.
"""
from han import framing
from han.framing import NAMES, Scanner, find_marked, payload
from han import _pure
from han.framing.segments import Reassembly
from han.p1 import crc16_arc  # (P1 meters' code: han.framing loads it for a telegram)
from support import FRAMES, read_bytes, unhex

KAMSTRUP = unhex(
    "7ea0e22b2113239ae6e7000f000000000c07e80a1e03112000ff80000002190a0e4b616d73747275705f56"
    "3030303109060101000005ff0a103537303635363732373736353636373209060101600101ff0a123638"
    "3431313331424e32343331303130343009060101010700ff0600000ef109060101020700ff0600000000"
    "09060101030700ff060000000009060101040700ff0600000183090601011f0700ff060000006a090601"
    "01330700ff06000003e309060101470700ff060000025909060101200700ff1200f20906010134070"
    "0ff1200f009060101480700ff1200f217ec7e")
NETZ_NOE = unhex(
    "68fafa6853ff000167db084b464d675000000981f8200000002388d5ab4f97515aafc6b88d2f85daa7a0e3"
    "c0c40d004535c397c9d037ab7dbda329107615444894a1a0dd7e85f02d496cecd3ff46af5fb3c9229cfe8f"
    "3ee4606ab2e1f409f36aad2e50900a4396fc6c2e083f373233a69616950758bfc7d63a9e9b6e99e21b2cbc"
    "2b934772ca51fd4d69830711cab1f8cff25f0a329337cba51904f0caed88d61968743c8454ba922eb00038"
    "182c22fe316d16f2a9f544d6f75d51a4e92a1c4ef8ab19a2b7feaa32d0726c0ed80229ae6c0f7621a42092"
    "51ace2b2bc66ff0327a653bb686c756be033c7a281f1d2a7e1fa31c3983e15f8fd16cc5787e6f517166814"
    "146853ff110167419a3cfda44be438c96f0e38bf83d98316")
KAIFA_WITH_FLAG_BYTE = unhex("7ea027010201105a87e6e7000f40000000090c07e4020f06011922ff8000000201060000157eea5e7e")
# The format numbers (han.framing keeps them private: a global each would cost the board's heap).
HDLC, MBUS, DSMR, CIPHERED = (NAMES.index(name) for name in ("hdlc", "mbus", "dsmr", "ciphered"))
NOISE_BYTES = unhex("ff fe a1 f1 90 c0 37 20 58 cd 82 00 ff 6a 36 14")  # from a failing supply's log


def scan(data, chunk=0):
    """Every event as (kind, detail): frames as ('frame', bytes), errors as (code, size)."""
    scanner = Scanner((HDLC, MBUS))
    events = []

    def collect(source):
        for event in source:
            if event is scanner:  # a frame
                events.append(("frame", bytes(event.buf[event.at:event.at + event.size])))
            else:
                events.append((event.code, getattr(event, "size", 0), event.detail))

    if chunk:
        for i in range(0, len(data), chunk):
            collect(scanner.feed(data[i:i + chunk]))
    else:
        collect(scanner.feed(data))
    collect(scanner.flush())
    return events


def frames(events):
    return [e[1] for e in events if e[0] == "frame"]


def codes(events):
    return [e[0] for e in events]


def test_crc_vectors():
    assert framing.crc16_x25(b"\x03\x3f", 0, 2) == 0xEC5B  # Green Book: FCS bytes 5B EC
    assert framing.crc16_x25(unhex("a0 e2 2b 21 13"), 0, 5) == 0x9A23  # Kamstrup spec header: HCS 23 9A
    assert crc16_arc(b"123456789", 0, 9) == 0xBB3D  # DSMR P1 check value


def test_crc_and_scan_fast_paths_match_their_pure_twins():
    data = bytes((i * 7919 + 13) & 0xFF for i in range(3000))
    for start, end in ((0, 0), (0, 1), (5, 2999), (1000, 1255)):
        assert framing.crc16(data, start, end, 0x8408, 0xFFFF, 0xFFFF) == \
            _pure.crc16(data, start, end, 0x8408, 0xFFFF, 0xFFFF)
        assert framing.crc16(data, start, end, 0xA001, 0, 0) == _pure.crc16(data, start, end, 0xA001, 0, 0)
    marks = bytearray(32)  # 0x7E and 0x68, as a bit set
    marks[0x7E >> 3] |= 1 << (0x7E & 7)
    marks[0x68 >> 3] |= 1 << (0x68 & 7)
    for start in range(0, 3000, 97):
        assert find_marked(data, start, 3000, marks) == _pure.find_marked(data, start, 3000, marks)
    assert find_marked(b"\x00" * 10, 0, 10, marks) == -1


def test_one_real_frame_is_found_whole():
    events = scan(KAMSTRUP)
    assert codes(events) == ["frame"]
    assert events[0][1] == KAMSTRUP[:-1]  # closing flag excluded: it may open the next frame


def test_back_to_back_frames_share_one_flag_or_use_two():
    shared = KAMSTRUP[:-1] + KAMSTRUP
    assert frames(scan(shared)) == [KAMSTRUP[:-1]] * 2
    doubled = KAMSTRUP + KAMSTRUP + KAMSTRUP
    assert codes(scan(doubled)) == ["frame"] * 3  # the extra flags are fill, not noise


def test_results_do_not_depend_on_chunking():
    stream = NOISE_BYTES + KAMSTRUP + KAMSTRUP[:-1] + NOISE_BYTES + NETZ_NOE + KAMSTRUP[:40] + KAMSTRUP
    whole = scan(stream)
    # The cut-off Kamstrup frame swallows the start of the next one and fails its FCS; the
    # rescan then finds the whole frame inside it.
    assert codes(whole) == ["noise", "frame", "frame", "noise", "frame", "frame", "checksum", "frame"]
    for chunk in (1, 2, 3, 7, 64, 255, 4096):
        assert scan(stream, chunk) == whole, chunk


def test_noise_runs_are_reported_once_per_run():
    events = scan(NOISE_BYTES + KAMSTRUP + NOISE_BYTES + NOISE_BYTES)
    assert codes(events) == ["noise", "frame", "noise"]
    assert events[0][1] == len(NOISE_BYTES)
    assert events[2][1] == 2 * len(NOISE_BYTES)


def test_false_start_before_a_real_frame():
    # A noise 0x7E followed by something that looks like a frame header of a large frame.
    false_start = unhex("7e a3 ff 41 08 83 13")
    events = scan(false_start + KAMSTRUP)
    assert frames(events) == [KAMSTRUP[:-1]]
    assert codes(events)[-1] == "frame"


def test_false_start_with_valid_header_checksum_does_not_hide_the_next_frame():
    # A header whose HCS happens to hold promises 300 bytes; the real frame is inside them.
    header = bytearray(unhex("7e a1 2b 41 08 83 13 00 00"))
    hcs = framing.crc16_x25(header, 1, 7)
    header[7], header[8] = hcs & 0xFF, hcs >> 8
    events = scan(bytes(header) + KAMSTRUP + NOISE_BYTES * 5)
    assert KAMSTRUP[:-1] in frames(events)
    assert events[0][0] == "checksum" and "FCS" in events[0][2]


def test_bit_flip_in_body_fails_the_fcs_and_the_next_frame_survives():
    damaged = bytearray(KAMSTRUP)
    damaged[100] ^= 0x10
    events = scan(bytes(damaged) + KAMSTRUP)
    assert codes(events) == ["checksum", "frame"]
    assert "FCS" in events[0][2]
    assert events[0][1] == len(KAMSTRUP) - 1


def test_bit_flip_in_header_fails_the_hcs():
    damaged = bytearray(KAMSTRUP)
    damaged[4] ^= 0x01
    events = scan(bytes(damaged) + KAMSTRUP)
    assert events[0][0] == "checksum" and "HCS" in events[0][2]
    assert codes(events)[-1] == "frame"
    assert frames(events) == [KAMSTRUP[:-1]]


def test_flag_bytes_inside_a_frame_do_not_cut_it():
    # No byte stuffing on HAN: this Kaifa frame carries 0x7E inside its payload.
    events = scan(KAIFA_WITH_FLAG_BYTE + KAMSTRUP[:60] + KAMSTRUP)  # then a frame cut off, then whole
    assert frames(events) == [KAIFA_WITH_FLAG_BYTE[:-1], KAMSTRUP[:-1]]
    assert KAIFA_WITH_FLAG_BYTE.find(b"\x7e", 1) < len(KAIFA_WITH_FLAG_BYTE) - 1


def test_truncated_frame_at_end_of_input():
    events = scan(KAMSTRUP + KAMSTRUP[:100])
    assert codes(events) == ["frame", "truncated"]
    assert events[1][1] == 100


def test_mbus_frames_with_checksum():
    events = scan(NETZ_NOE)
    assert codes(events) == ["frame", "frame"]
    assert len(events[0][1]) == 256 and len(events[1][1]) == 26
    damaged = bytearray(NETZ_NOE)
    damaged[200] ^= 0x80
    events = scan(bytes(damaged))
    assert codes(events)[0] == "checksum" and "M-Bus" in events[0][2]
    assert codes(events)[-1] == "frame"


def test_mbus_length_below_four_means_plus_256():
    data = bytes(range(256))  # 252 data bytes after C A CI STSAP DTSAP -> L = 257 -> sent as 1
    body = unhex("53 ff 10 01 67") + data[:252]
    frame = unhex("68 01 01 68") + body + bytes([sum(body) & 0xFF, 0x16])
    assert frames(scan(frame)) == [frame]


def test_an_mbus_frame_that_is_not_dlms_is_unknown_with_its_first_bytes():
    from han.pipeline import Pipeline
    body = unhex("53 ff 72 01 67") + bytes(range(40))  # CI 0x72: an M-Bus application frame
    frame = unhex("68 2d 2d 68") + body + bytes([sum(body) & 0xFF, 0x16])
    events = list(Pipeline().feed(frame))
    assert [(e.code, e.detail) for e in events] == [
        ("unknown", "M-Bus frame with CI 0x72 is not a DLMS transport segment")], events
    assert events[0].data == frame[:32]


def test_mbus_segments_reassemble_in_order():
    scanner_events = scan(NETZ_NOE)
    parts = []
    for _, raw, *rest in [e + (None,) for e in scanner_events]:
        start, end, more, sequence = payload(MBUS, raw, 0, len(raw))
        parts.append((raw[start:end], more, sequence))
    assert [(p[1], p[2]) for p in parts] == [(True, 0), (False, 1)]
    reassembly = Reassembly(1024)
    assert reassembly.add("mbus", memoryview(parts[0][0]), parts[0][1], parts[0][2]) is None
    message = reassembly.add("mbus", memoryview(parts[1][0]), parts[1][1], parts[1][2])
    assert bytes(message) == parts[0][0] + parts[1][0]
    assert bytes(message[:2]) == b"\xdb\x08" and len(message) == 260


def test_missing_segment_is_a_sequence_error_not_a_message():
    reassembly = Reassembly(1024)
    assert reassembly.add("mbus", memoryview(b"abc"), True, 0) is None
    assert reassembly.add("mbus", memoryview(b"xyz"), False, 2) is None  # segment 1 lost
    assert reassembly.lost.code == "sequence"
    reassembly.lost = None
    assert reassembly.add("mbus", memoryview(b"late"), False, 3) is None  # still no message
    assert bytes(reassembly.add("mbus", memoryview(b"one"), False, 0)) == b"one"


def test_hdlc_segments_reassemble_until_the_last():
    reassembly = Reassembly(16)
    assert reassembly.add("hdlc", memoryview(b"e6e7"), True, None) is None
    assert bytes(reassembly.add("hdlc", memoryview(b"00"), False, None)) == b"e6e700"
    assert reassembly.add("hdlc", memoryview(b"x" * 10), True, None) is None
    assert reassembly.add("hdlc", memoryview(b"y" * 10), True, None) is None  # over capacity
    assert reassembly.lost.code == "too_long"


def test_a_stream_of_garbage_never_grows_the_buffer():
    scanner = Scanner((HDLC, MBUS))
    size = len(scanner.buf)
    junk = bytes((i * 131 + 7) & 0xFF for i in range(4096))
    for _ in range(20):
        for _event in scanner.feed(junk):
            pass
    assert len(scanner.buf) == size
    assert scanner.end - scanner.start <= size


def test_a_frame_longer_than_the_first_buffer_grows_it_to_hold_that_frame():
    from encoder import hdlc_frame
    scanner = Scanner((HDLC, MBUS))
    first = len(scanner.buf)
    assert first < 2048  # a meter's frames are short: the buffer starts small
    long_frame = hdlc_frame(bytes(range(256)) * 7, b"\x03", b"\x21")  # 1803 bytes
    assert len(long_frame) > first
    for chunk in (0, 100, 1):
        scanner = Scanner((HDLC, MBUS))
        events = []
        data = KAMSTRUP + long_frame + KAMSTRUP
        for i in range(0, len(data), chunk or len(data)):
            for event in scanner.feed(data[i:i + (chunk or len(data))]):
                events.append(bytes(event.buf[event.at:event.at + event.size]))
        assert events == [KAMSTRUP[:-1], long_frame[:-1], KAMSTRUP[:-1]], chunk
        # its header tells its length: room for it (to 64 bytes), not for the largest frame
        assert len(long_frame) - 1 <= len(scanner.buf) < len(long_frame) + 63 < scanner.capacity == 2048 + 64


def test_a_telegram_longer_than_the_first_buffer_doubles_it_until_it_fits():
    # A P1 telegram tells its length only at its end: the buffer doubles, within its capacity.
    scanner = Scanner((DSMR,))
    first = len(scanner.buf)
    body = b"/ISk5\\2MT382-1000\r\n\r\n" + b"1-0:1.8.1(123456.789*kWh)\r\n" * 60 + b"!"
    telegram = body + b"%04X\r\n" % crc16_arc(body, 0, len(body))
    assert first < len(telegram) < 4 * first
    for chunk in (len(telegram), 64, 1):
        scanner = Scanner((DSMR,))
        found = []
        for i in range(0, len(telegram), chunk):
            for event in scanner.feed(telegram[i:i + chunk]):
                found.append(bytes(event.buf[event.at:event.at + event.size]) if event is scanner else event.code)
        assert found == [telegram], (chunk, found)
        assert len(scanner.buf) in (2 * first, 4 * first), chunk


def test_the_danish_kamstrup_push_fits_the_first_buffer():
    scanner = Scanner()  # every format, as the pipeline's
    first = len(scanner.buf)
    data = read_bytes(FRAMES + "/kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin")
    sizes = [event.size for event in scanner.feed(data) if event is scanner]
    assert sizes == [477] and len(scanner.buf) == first


def test_a_segment_lost_beyond_recognition_costs_only_its_message():
    # Found by hypothesis: the last segment of message A is damaged in its format byte (no
    # longer an HDLC start: noise). Message B, from another sender and without LLC header, must
    # not be glued to A's pending segments.
    from encoder import aidon_list, data_notification, hdlc_frames, join_frames, long_unsigned
    from han.pipeline import Pipeline
    apdu = data_notification(aidon_list([(bytes((1, 0, 1, 7, 0, 255)), long_unsigned(n), None)
                                         for n in range(20)]))
    a = hdlc_frames(apdu, b"\x21", b"\xf0\x39", sizes=[30, 30, 30])
    b = hdlc_frames(apdu, b"\x41", b"\x0a\x13", sizes=[40, 40])
    damaged = bytearray(a[-1])
    damaged[1] ^= 0x10  # A0 -> B0: the frame is no longer recognisable
    stream = join_frames(a[:-1]) + bytes(damaged) + join_frames(b)
    events = list(Pipeline().feed(stream))
    readings = [e for e in events if not hasattr(e, "code")]
    assert len(readings) == 1, events
    assert "sequence" in [e.code for e in events if hasattr(e, "code")]


def test_a_telegram_s_end_is_sought_by_code_loaded_for_a_telegram_only():
    # han.p1 finds a telegram's end and checks its CRC: HDLC frames, and noise that holds a "/"
    # not followed by a telegram's letters, do not load it; a telegram does, and is found.
    import sys
    sys.modules.pop("han.p1", None)
    scanner = Scanner((HDLC, MBUS, DSMR, CIPHERED))
    found = []
    for source in (scanner.feed(KAMSTRUP + b"/1!\r\n//Ab" + b"\x00" * 4), scanner.flush()):
        for event in source:
            found.append("frame" if event is scanner else event.code)
    assert found == ["frame", "noise"] and "han.p1" not in sys.modules, found
    body = b"/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(123456.789*kWh)\r\n!"
    telegram = body + b"%04X\r\n" % crc16_arc(body, 0, len(body))
    sys.modules.pop("han.p1", None)
    found = [bytes(event.buf[event.at:event.at + event.size]) if event is scanner else event.code
             for event in scanner.feed(telegram)]
    assert found == [telegram] and "han.p1" in sys.modules, found
    bad = telegram[:-6] + b"0000\r\n"
    found = [event.code for event in scanner.feed(bad)]
    assert found == ["checksum"], found


def test_m_bus_and_bare_ciphered_frames_are_read_by_code_loaded_for_them():
    # An M-Bus frame's checksum and payload (han.framing.mbus) load for a frame whose header
    # holds, the rest of a bare ciphered frame's header (han.framing.ciphered) for DB 08: HDLC
    # frames, and noise holding 0x68 and 0xDB, load neither.
    import sys
    for name in ("mbus", "ciphered"):
        sys.modules.pop("han.framing." + name, None)
        if hasattr(framing, name):  # (CPython imports a package's attribute as the module)
            delattr(framing, name)
    scanner = Scanner()
    found = []
    for source in (scanner.feed(KAMSTRUP + b"\x68\x01\x02\x68\xdb\x07" + bytes(16)), scanner.flush()):
        for event in source:
            found.append("frame" if event is scanner else event.code)
    assert found == ["frame", "noise"], found
    assert "han.framing.mbus" not in sys.modules and "han.framing.ciphered" not in sys.modules
    found = [event.size if event is scanner else event.code for event in scanner.feed(NETZ_NOE)]
    assert found == [256, 26] and "han.framing.mbus" in sys.modules, found
    assert payload(MBUS, scanner.buf, scanner.at, scanner.size)[2:] == (False, 1)
    ciphered = b"\xdb\x08SMR\x01\x02\x03\x04\x05\x06\x30\x00\x00\x00\x01\xaa"  # SC 0x30, counter 1
    found = [event.size if event is scanner else event.code for event in scanner.feed(ciphered)]
    assert "han.framing.ciphered" in sys.modules
    assert found + [event.size for event in scanner.flush()] == [len(ciphered)], found
