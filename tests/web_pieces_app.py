# Runs under MicroPython (tests/test_web_heap.py starts it) with the precompiled library: the
# pages' polls answered when the heap's free room is scattered into small pieces, as after hours
# of readings, pages and MQTT turns. Each poll loads its answering code (http.py with api.py or
# status.py) into whatever pieces there are, so no piece of that code may be large.
#   micropython -X heapsize=N tests/web_pieces_app.py PIECE
# For each poll, once its code has been loaded and unloaded whole (its names interned): the heap
# scattered into PIECE-byte pieces, one free and one held in turn, then the poll answered through
# the server (server.Web._serve, a stand-in stream). Prints "largest BYTES", the largest piece then
# free, and "PATH STATUS-LINE" for the answer.
import asyncio
import gc
import struct
import sys

from app.web import server
from web_app_stand_in import dashboard_app

PIECE = int(sys.argv[1])
POLLS = ("/api/data", "/api/history?after=0", "/api/status")
WORD = struct.calcsize("P")


class Socket:
    def readinto(self, buf):
        return None  # nothing more from the client now


class Stream:
    """A connection that sends one request and records the answer."""

    def __init__(self, request):
        self.request = request
        self.status = None  # the answer's status line
        self.s = Socket()

    async def readinto(self, buf):
        n = min(len(buf), len(self.request))
        buf[:n] = self.request[:n]
        self.request = self.request[n:]
        return n

    def write(self, data):
        if self.status is None:
            self.status = bytes(data[:64]).split(b"\r\n")[0].decode()

    async def drain(self):
        pass

    def close(self):
        pass

    async def wait_closed(self):
        pass


def scatter():
    """Fill the free heap with PIECE-byte tuples (one allocation each), what is left with the
    smallest objects, then let every other tuple go: the free room is then in pieces of PIECE
    bytes (any larger hole is filled). What holds the rest."""
    gc.collect()
    held = [None] * (gc.mem_free() // PIECE + 1)  # made first: a list growing would leave larger holes
    count = 0
    try:
        while count < len(held):
            held[count] = (None,) * ((PIECE - 2 * WORD) // WORD)
            count += 1
    except MemoryError:
        pass
    crumbs = None
    try:
        while True:
            crumbs = (crumbs,)  # the smaller holes filled too, one block at a time
    except MemoryError:
        pass
    for i in range(0, count, 2):
        held[i] = None
    plugs = None  # what a collection frees next to a freed tuple makes a larger hole: filled
    while True:
        gc.collect()
        before = plugs
        try:
            while True:
                plugs = (plugs, (None,) * ((PIECE + 32 - 2 * WORD) // WORD))
        except MemoryError:
            pass
        if plugs is before:
            return held, crumbs, plugs


def largest_free():
    size = 0
    try:
        while True:
            (None,) * ((size + 32 - 2 * WORD) // WORD)
            size += 32
    except MemoryError:
        return size


async def poll(web, path):
    stream = Stream(b"GET %s HTTP/1.1\r\nHost: hanreader\r\n\r\n" % path.encode())
    await web._serve(stream, None)
    while web.watcher is not None:  # the answering code goes once no connection is open
        await asyncio.sleep_ms(50)
    return stream.status


async def main():
    app = dashboard_app()
    web = server.Web(app)
    for path in POLLS:
        await poll(web, path)  # its code loaded whole, its names interned
        for _ in range(5):  # (a hole the collections leave next to a free piece: scattered again)
            held = scatter()
            largest = largest_free()
            if largest <= PIECE:
                break
            held = None
        print("largest %d" % largest)
        line = await poll(web, path)
        held = None
        print(path, line)


asyncio.run(main())
