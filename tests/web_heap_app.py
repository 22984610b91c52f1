# Runs under MicroPython (tests/test_web_heap.py starts it): the web server alone, on a small app
# (the real State with a full hour of power and a reading, the real config), to measure what
# serving the dashboard costs in the heap:
#   micropython -X heapsize=N tests/web_heap_app.py PORT MEASURED [ap]
# Prints "base BYTES" (the interpreter, asyncio, this script, the app's state and config),
# "import NAME BYTES" for what stays loaded (server.py and the Web object: gc.mem_alloc deltas
# after a collection), then "ready BYTES": the idle live heap, nothing of the answering code
# loaded. Then one line per connection, in the order they come: for the first MEASURED ones
# "alloc BYTES", all the connection allocated, counted with the collector off (an upper bound of
# its peak); for the later ones "peak BYTES LIVE": the highest live heap seen while it was
# answered (sampled after a collection each time the answer waits for the socket, and at its
# end), the answering code loaded meanwhile included, and the live heap once it is done. The
# test knows which request each connection was (it sends them one after the other). When the
# server has unloaded its answering code (after server.LINGER_MS without a connection, made
# LINGER_MS here until the first unload, the board's value after it: the code goes as each
# connection closes), "unloaded BYTES": the live heap, idle again (printed as the watcher ends).
import asyncio
import asyncio.stream
import gc
import sys


def live():
    gc.collect()
    gc.collect()
    return gc.mem_alloc()


from web_app_stand_in import dashboard_app  # noqa: E402

PORT = int(sys.argv[1])
MEASURED = int(sys.argv[2])
AP = sys.argv[3:] == ["ap"]  # the access point open (no network set): captive-portal checks on
LINGER_MS = 2000  # the test waits for the answering code to be unloaded: not the board's 10 s

app = dashboard_app(AP)

start = live()
print("base %d" % start)
before = live()
from app.web import server  # noqa: E402
print("import app.web.server %d" % (live() - before))
BOARD_LINGER_MS = server.LINGER_MS
server.LINGER_MS = LINGER_MS

count = [0]
peak = [0]


class Web(server.Web):
    """The server, each connection measured: the first MEASURED ones' allocations, the later
    ones' peak live heap."""

    async def _serve(self, stream, address):
        count[0] += 1
        if count[0] > MEASURED:
            peak[0] = 0
            try:
                await server.Web._serve(self, stream, address)
            finally:
                print("peak %d %d" % (max(peak[0], live()), live()))
            return
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        try:
            await server.Web._serve(self, stream, address)
        finally:
            used = gc.mem_alloc() - before
            gc.enable()
            print("alloc %d" % used)

    async def _watch(self):
        await server.Web._watch(self)
        print("unloaded %d" % live())
        server.LINGER_MS = BOARD_LINGER_MS  # a dashboard's polls, from now on, as on the board


_drain = asyncio.stream.Stream.drain


async def drain(self):
    """Stream.drain, with the live heap sampled first (outside the allocation counts)."""
    if count[0] > MEASURED:
        peak[0] = max(peak[0], live())
    return await _drain(self)


asyncio.stream.Stream.drain = drain

before = live()
web = Web(app)
print("import Web() %d" % (live() - before))


async def main():
    await web.start(PORT)
    print("ready %d" % live())
    while True:
        await asyncio.sleep(1)


asyncio.run(main())
