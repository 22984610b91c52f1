"""Captive-portal DNS: every A question gets the access point's address.

A phone that joins the access point looks up some name to check for a captive portal; the
answer sends it to our web server, which shows the config page. Other question types get an
empty answer (so phones fall back to A). The socket is non-blocking and polled from the loop
every POLL_MS; one wake answers at most BURST packets of at most MAX_QUERY bytes, so a flood
cannot hold the loop. Malformed packets, answers and unusual queries are ignored.
"""
import asyncio
import socket

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

POLL_MS = 100
BURST = 8
MAX_QUERY = 512
# The answer: a pointer to the question's name, type A, class IN, TTL 60 s, 4 bytes of address.
_ANSWER = const(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04")


def reply(query, address):
    """The response to a DNS `query` (bytes), or None to ignore it; `address` is 4 bytes."""
    n = len(query)
    # A query (QR 0), standard (opcode 0), one question, no answers.
    if n < 17 or query[2] & 0xF8 or query[4:8] != b"\x00\x01\x00\x00":
        return None
    at = 12
    while at < n:
        size = query[at]
        if size == 0:
            break
        if size > 63:  # compression pointers have no place in a question
            return None
        at += 1 + size
    else:
        return None  # the name runs past the end
    end = at + 5  # the name's zero byte, the type and the class
    if end > n or at > 12 + 254:
        return None
    qtype = query[at + 1] << 8 | query[at + 2]
    found = query[at + 3:end] == b"\x00\x01" and qtype in (1, 255)  # IN, A or ANY
    head = bytes((query[0], query[1], 0x84 | query[2] & 1, 0x80, 0, 1, 0, 1 if found else 0, 0, 0, 0, 0))
    return head + query[12:end] + (_ANSWER + address if found else b"")


class Dns:
    def __init__(self, address, port=53, host="0.0.0.0"):
        self.address = bytes(int(part) for part in address.split("."))
        self.port = port
        self.host = host
        self.sock = None
        self.answered = 0
        self.ignored = 0

    def open(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(socket.getaddrinfo(self.host, self.port)[0][-1])
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def serve(self):
        """Answer what is waiting, at most BURST packets; never waits."""
        sock = self.sock
        for _ in range(BURST):
            try:
                query, peer = sock.recvfrom(MAX_QUERY)
            except OSError:  # nothing waiting
                return
            out = reply(query, self.address)
            if out is None:
                self.ignored += 1
                continue
            try:
                sock.sendto(out, peer)
                self.answered += 1
            except OSError:
                pass

    async def run(self):
        self.open()
        try:
            while True:
                self.serve()
                await asyncio.sleep_ms(POLL_MS)
        finally:
            self.close()


async def serve(address, port, host, log):
    """The responder while the access point is open (app/wifi_change.py makes it a task)."""
    try:
        await Dns(address, port, host).run()
    except OSError as e:
        log.error("Wi-Fi: no DNS responder on port %d (%s)" % (port, e))
