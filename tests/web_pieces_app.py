# Runs under MicroPython (tests/test_web_heap.py starts it) with the precompiled library, the
# pages next to it: requests answered when the heap's free room is scattered into small pieces,
# as after hours of readings, pages and MQTT turns. Each request loads its answering code (http.py
# with api.py, status.py or routes.py) into whatever pieces there are, so no piece of that code
# may be large.
#   micropython -X heapsize=N tests/web_pieces_app.py PIECE PATH...
# For each path, once its code has been loaded and unloaded whole (its names interned): the heap
# scattered into PIECE-byte pieces (tests/upy/scattered_heap.py), then a GET of it answered through
# the server (server.Web._serve, a stand-in stream). Prints "largest BYTES", the largest piece
# then free, and "PATH STATUS-LINE" for the answer.
import asyncio
import sys

from app.web import server
sys.path.append(sys.path[0] + "/upy")  # (this script's folder comes first)
from scattered_heap import scatter  # noqa: E402
from web_app_stand_in import dashboard_app

PIECE = int(sys.argv[1])
PATHS = sys.argv[2:]


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


async def poll(web, path):
    stream = Stream(b"GET %s HTTP/1.1\r\nHost: hanreader\r\n\r\n" % path.encode())
    await web._serve(stream, None)
    while web.watcher is not None:  # the answering code goes once no connection is open
        await asyncio.sleep_ms(50)
    return stream.status


async def main():
    app = dashboard_app()
    web = server.Web(app)
    for path in PATHS:
        await poll(web, path)  # its code loaded whole, its names interned
        held, largest = scatter(PIECE)
        print("largest %d" % largest)
        line = await poll(web, path)
        held = None
        print(path, line)


asyncio.run(main())
