"""The captive-portal DNS responder under the real MicroPython, asked by CPython over UDP.

The responder (app/dns.py) runs in its own micropython process on a free port of 127.0.0.1,
next to a ticker task that proves the loop keeps running; CPython sends real DNS queries.
"""
import random
import socket
import struct
import subprocess

import pytest

from conftest import ROOT, micropython_binary

SCRIPT = """
import sys, asyncio, time
sys.path.insert(0, "firmware/lib")
from app.dns import Dns

dns = Dns(sys.argv[2], int(sys.argv[1]), "127.0.0.1")
late = 0

async def ticker():
    global late
    while True:
        start = time.ticks_ms()
        await asyncio.sleep_ms(20)
        late = max(late, time.ticks_diff(time.ticks_ms(), start) - 20)

async def main():
    asyncio.create_task(ticker())
    try:
        await asyncio.wait_for_ms(dns.run(), int(sys.argv[3]))
    except asyncio.TimeoutError:
        pass
    print("answered", dns.answered, "ignored", dns.ignored, "late", late)

asyncio.run(main())
"""


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_query(name, qtype=1, ident=None):
    ident = random.randrange(65536) if ident is None else ident
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return ident, struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", qtype, 1)


def parse_response(data):
    ident, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", data[:12])
    at = 12
    labels = []
    while data[at]:
        labels.append(data[at + 1:at + 1 + data[at]].decode())
        at += 1 + data[at]
    at += 5
    answers = []
    for _ in range(an):
        pointer, rtype, rclass, ttl, size = struct.unpack(">HHHIH", data[at:at + 12])
        assert pointer == 0xC00C
        answers.append((rtype, rclass, ttl, socket.inet_ntoa(data[at + 12:at + 12 + size])))
        at += 12 + size
    assert at == len(data)
    return ident, flags, ".".join(labels), answers


class Responder:
    def __init__(self, address, seconds=20):
        self.port = free_udp_port()
        self.proc = subprocess.Popen(
            [micropython_binary(), "-c", SCRIPT, str(self.port), address, str(seconds * 1000)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.3)

    def ask(self, packet, tries=1):
        for _ in range(tries):
            self.sock.sendto(packet, ("127.0.0.1", self.port))
            try:
                return self.sock.recv(1024)
            except socket.timeout:
                if self.proc.poll() is not None:
                    break
        return None

    def query(self, name, qtype=1):
        ident, packet = build_query(name, qtype)
        data = self.ask(packet, tries=30)  # the first ones may come before the socket is open
        assert data is not None, self.output()
        got_ident, flags, got_name, answers = parse_response(data)
        assert got_ident == ident and got_name == name
        assert flags & 0x8000 and flags & 0x000F == 0
        return answers

    def output(self):
        if self.proc.poll() is None:
            return "(still running)"
        return (self.proc.stdout.read() + self.proc.stderr.read()).decode()

    def close(self):
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


@pytest.fixture
def responder():
    made = []

    def start(address="192.168.4.1", seconds=20):
        made.append(Responder(address, seconds))
        return made[-1]

    yield start
    for r in made:
        r.close()


def test_every_name_resolves_to_the_access_point(responder):
    r = responder()
    for name in ("connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com",
                 "hanreader.local", "example.org", "a.b.c.d.e.f"):
        assert r.query(name) == [(1, 1, 60, "192.168.4.1")], name
    assert r.query("example.org", qtype=28) == []  # AAAA: no answer, no error


def test_the_configured_address(responder):
    r = responder("10.42.0.1")
    assert r.query("detectportal.firefox.com") == [(1, 1, 60, "10.42.0.1")]


def test_malformed_packets_are_ignored_and_it_keeps_answering(responder):
    r = responder(seconds=4)
    assert r.query("first.example") == [(1, 1, 60, "192.168.4.1")]
    _, good = build_query("x.example")
    for junk in (b"", b"\x00" * 3, good[:14], b"\xff" * 600, good[:2] + b"\x81\x80" + good[4:]):
        assert r.ask(junk) is None
    assert r.query("after.junk.example") == [(1, 1, 60, "192.168.4.1")]
    for i in range(50):  # a burst: every one answered, in order of arrival
        r.sock.sendto(build_query("n%d.example" % i, ident=i)[1], ("127.0.0.1", r.port))
    seen = set()
    for _ in range(50):
        seen.add(parse_response(r.sock.recv(1024))[0])
    assert seen == set(range(50))
    r.proc.wait(10)
    out = r.output()
    words = out.split()
    assert words[0] == "answered" and int(words[1]) == 52 and int(words[3]) == 5, out
    assert int(words[5]) < 200, out  # the loop was never held up for long


def test_a_busy_port_fails_cleanly(responder):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        proc = subprocess.run(
            [micropython_binary(), "-c", SCRIPT, str(port), "192.168.4.1", "1000"],
            cwd=ROOT, capture_output=True, timeout=30)
    assert proc.returncode != 0 and b"EADDRINUSE" in proc.stdout + proc.stderr
