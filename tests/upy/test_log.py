# The log (app/log.py): levels, the peer's hex dump format, and the ring that is both the recent
# lines for a new telnet client and every client's send queue. CPython and MicroPython alike.
from app.console import recent_start  # where a new telnet client's log begins
from app.log import LEVELS, Log

RECENT_LINES = 40  # what app/console.py sends a new telnet client first (a private const there)


def recent(log, lines=RECENT_LINES):
    """The last `lines` whole lines in the ring as str, oldest first (what a new telnet client is
    sent first)."""
    return _text(log, recent_start(log, lines)).split("\r\n")[:-1]


def _text(log, position):
    """Everything in the ring from `position` to the head, as text."""
    out = b""
    while position < log.head:
        piece = log.chunk(position, 100)
        assert piece is not None
        out += bytes(piece)
        position += len(piece)
    return out.decode()


def test_levels():
    log = Log("W")
    seen = []
    log.sinks.append(seen.append)
    log.info("hidden")
    log.warning("shown")
    log.error("also shown")
    assert seen == ["(W) shown", "(E) also shown"]
    log.level = LEVELS.index("V")  # (telnet's `level` command sets it so: tests/upy/test_telnet.py)
    log.debug("now shown")
    assert seen[-1] == "(D) now shown" and LEVELS[log.level] == "V" and log.level == 4  # (app/meter.py: dumps)


def test_hexdump_is_16_bytes_a_line_as_the_peer_prints():
    from app import unload
    from app.dump import dump, dump_layer  # (app/dump.py: loaded for a dump at level V)
    log = Log("V")
    start = log.head
    dump_layer(log, "hdlc", bytes(range(0x70, 0x70 + 18)))
    assert _text(log, start) == ("(V) HDLC frame:\r\n"
                                 "(V) 70 71 72 73 74 75 76 77 78 79 7A 7B 7C 7D 7E 7F\r\n"
                                 "(V) 80 81\r\n")
    start = log.head
    dump_layer(log, "plaintext", b"\x01")
    dump_layer(log, "newlayer", b"\x02")
    dump(log, "payload:", b"\x03")
    assert _text(log, start) == "(V) Decrypted APDU:\r\n(V) 01\r\n(V) newlayer:\r\n(V) 02\r\n(V) payload:\r\n(V) 03\r\n"
    end = log.head
    log.level = LEVELS.index("D")
    dump(log, "not at D", b"\x01")
    assert log.head == end
    unload("app.dump")


def test_ring_wraps_and_keeps_the_last_lines():
    log = Log("I", size=256)
    for i in range(100):
        log.info("line %03d" % i)   # 14 bytes each with "(I) " and CRLF
    assert log.head == 1400
    last = recent(log, 5)
    assert last == ["(I) line %03d" % i for i in range(95, 100)]
    everything = recent(log, 1000)  # as many whole lines as the ring still holds
    assert everything[-1] == "(I) line 099" and len(everything) in (17, 18)
    assert all(line.startswith("(I) line ") for line in everything)


def test_a_reader_a_whole_ring_behind_is_told():
    log = Log("I", size=256)
    position = log.head
    log.info("x" * 100)
    assert log.chunk(position, 1000) is not None
    log.info("y" * 200)
    assert log.chunk(position, 1000) is None  # overwritten: that telnet client is dropped
    assert len(log.chunk(log.head - 10, 1000)) == 10
    assert len(log.chunk(log.head, 1000)) == 0


def test_a_chunk_stops_at_the_end_of_the_ring():
    log = Log("I", size=64)
    log.info("a" * 40)   # 46 bytes
    position = log.head
    log.info("b" * 30)   # 36 bytes, wrapping
    first = log.chunk(position, 1000)
    assert len(first) == 64 - 46
    assert _text(log, position) == "(I) " + "b" * 30 + "\r\n"


def test_long_lines_are_cut():
    log = Log("I", size=4096)
    log.info("z" * 2000)
    assert len(recent(log, 1)[0]) == 512


def test_a_new_log_has_nothing_recent():
    log = Log()
    assert recent(log) == [] and recent_start(log) == 0
    log.info("first")
    assert recent(log) == ["(I) first"] and recent_start(log) == 0


def test_a_log_without_a_ring_still_reaches_its_sinks():
    log = Log()
    log.ring = bytearray(0)  # what the start leaves it when telnet is off
    seen = []
    log.sinks.append(seen.append)
    log.info("still shown")
    assert seen == ["(I) still shown"] and log.head == 0
