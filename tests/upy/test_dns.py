# The captive-portal DNS responder (app/dns.py): the wire format of its answers, what it ignores,
# and one wake's bounded work, with a fake socket. Runs under CPython and MicroPython alike.
from app.dns import BURST, Dns, reply

AP = bytes((192, 168, 4, 1))


def name_bytes(name):
    out = b""
    for label in name.split("."):
        out += bytes((len(label),)) + label.encode()
    return out + b"\x00"


def query(name="connectivitycheck.gstatic.com", qtype=1, ident=0x1234, flags=0x0100, extra=b"",
          arcount=0):
    head = bytes((ident >> 8, ident & 0xFF, flags >> 8, flags & 0xFF, 0, 1, 0, 0, 0, 0, 0, arcount))
    return head + name_bytes(name) + bytes((qtype >> 8, qtype & 0xFF, 0, 1)) + extra


def u16(data, at):
    return data[at] << 8 | data[at + 1]


def check_answer(out, q, address=AP):
    assert out[:2] == q[:2]                       # same id
    assert out[2] & 0x80 and out[2] & 0x04         # a response, authoritative
    assert out[2] & 0x01 == q[2] & 0x01            # recursion desired, copied
    assert out[3] & 0x0F == 0                      # no error
    assert u16(out, 4) == 1 and u16(out, 6) == 1 and u16(out, 8) == 0 and u16(out, 10) == 0
    return out[-16:] == b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + address


def test_every_name_gets_the_access_point_address():
    for name in ("connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com",
                 "hanreader.local", "a", "x" * 63 + ".example"):
        q = query(name)
        out = reply(q, AP)
        assert check_answer(out, q), out
        assert out[12:len(q)] == q[12:]  # the question, echoed
        assert len(out) == len(q) + 16


def test_the_configured_address_and_any_query_type():
    q = query("example.org", qtype=255, ident=0xBEEF, flags=0)
    out = reply(q, bytes((10, 1, 2, 3)))
    assert check_answer(out, q, bytes((10, 1, 2, 3)))
    assert out[2] & 0x01 == 0


def test_other_types_get_no_answer_but_no_error():
    for qtype in (28, 16, 65, 33):  # AAAA, TXT, HTTPS, SRV
        q = query("example.org", qtype=qtype)
        out = reply(q, AP)
        assert out is not None and len(out) == len(q)
        assert u16(out, 6) == 0 and out[3] & 0x0F == 0


def test_the_edns_record_is_dropped_from_the_answer():
    opt = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
    q = query("example.org", extra=opt, arcount=1)
    out = reply(q, AP)
    assert u16(out, 10) == 0 and len(out) == len(q) - len(opt) + 16
    assert check_answer(out, q)


def test_malformed_packets_are_ignored():
    good = query("example.org")
    bad = [
        b"", b"\x12", good[:12], good[:16],                       # too short
        good[:-1],                                                # class cut off
        good[:2] + b"\x81\x80" + good[4:],                        # a response, not a query
        good[:2] + b"\x28\x00" + good[4:],                        # opcode 5 (update)
        good[:4] + b"\x00\x02" + good[6:],                        # two questions
        good[:4] + b"\x00\x00" + good[6:],                        # no question
        good[:6] + b"\x00\x01" + good[8:],                        # carries an answer
        good[:12] + b"\xc0\x0c\x00\x01\x00\x01",                  # compression pointer
        good[:12] + b"\x05abc",                                   # label runs past the end
        good[:12] + b"\x3f" + b"a" * 63,                          # no end of name
        good[:12] + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01",  # name over 255 bytes
    ]
    for packet in bad:
        assert reply(packet, AP) is None, packet


def test_random_bytes_never_raise():
    seed = 12345
    for n in range(600):
        size = n % 80
        packet = bytearray(size)
        for i in range(size):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            packet[i] = seed >> 16 & 0xFF
        if size > 5 and n % 3 == 0:
            packet[2] = 0
            packet[4:8] = b"\x00\x01\x00\x00"
        out = reply(bytes(packet), AP)
        assert out is None or out[:2] == bytes(packet[:2])


class Socket:
    """A non-blocking UDP socket with queued datagrams."""

    def __init__(self, datagrams):
        self.datagrams = list(datagrams)
        self.sent = []
        self.fail_send = False

    def recvfrom(self, size):
        if not self.datagrams:
            raise OSError(11)  # EAGAIN
        return self.datagrams.pop(0)[:size], ("192.168.4.2", 5353)

    def sendto(self, data, peer):
        if self.fail_send:
            raise OSError(113)
        self.sent.append((data, peer))

    def close(self):
        pass


def test_one_wake_answers_at_most_a_burst_and_skips_junk():
    dns = Dns("192.168.4.1")
    assert dns.address == AP
    packets = [query("n%d.example" % i) for i in range(BURST + 5)]
    packets.insert(2, b"junk")
    dns.sock = Socket(packets)
    dns.serve()
    assert len(dns.sock.sent) == BURST - 1 and dns.ignored == 1 and dns.answered == BURST - 1
    dns.serve()
    dns.serve()  # nothing left: returns at once
    assert dns.answered == BURST + 5 and not dns.sock.datagrams
    assert all(peer == ("192.168.4.2", 5353) for _, peer in dns.sock.sent)


def test_send_errors_are_ignored():
    dns = Dns("192.168.4.1")
    dns.sock = Socket([query(), query()])
    dns.sock.fail_send = True
    dns.serve()
    assert dns.answered == 0 and not dns.sock.datagrams


def test_oversized_datagrams_are_read_in_part():
    dns = Dns("192.168.4.1")
    dns.sock = Socket([query() + b"\x00" * 2000])
    dns.serve()
    assert dns.answered == 1
