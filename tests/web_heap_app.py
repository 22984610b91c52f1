# Runs under MicroPython (tests/test_web_heap.py starts it): the web server alone, on a small app
# (the real State with a full hour of power and a reading, the real config), to measure what
# serving the dashboard costs in the heap:
#   micropython -X heapsize=N tests/web_heap_app.py PORT MEASURED
# Prints "import NAME BYTES" for the server's modules (gc.mem_alloc deltas after a collection:
# server.py stays loaded, http.py and api.py are loaded while requests come),
# "ready" once serving, then for each of the first MEASURED requests "alloc PATH BYTES": all it
# allocated, counted with the collector off (an upper bound of its peak). Later requests are
# served normally (concurrency); /api/status gives the live heap.
import asyncio
import gc
import sys


def live():
    gc.collect()
    gc.collect()
    return gc.mem_alloc()


import app.config as config_store  # noqa: E402
from app.state import HISTORY, State  # noqa: E402
from han.reading import Reading  # noqa: E402
from han.values import Quantity  # noqa: E402

PORT = int(sys.argv[1])
MEASURED = int(sys.argv[2])


class Log:
    def error(self, text):
        print("log", text)

    warning = info = error


class Wifi:
    ap = False


class App:
    def __init__(self):
        self.state = State()
        self.config = config_store.defaults()
        self.safe_mode = False
        self.meter = None
        self.log = Log()
        self.wifi = Wifi()
        self.hal = None


app = App()
reading = Reading()
reading.manufacturer = "Kamstrup"
reading.meter_id = "5706567326590407"
reading.list_id = "Kamstrup_V0001"
for code, raw, scaler, unit in ((b"\x01\x01\x01\x07\x00\xff", 826, 0, 27), (b"\x01\x01\x02\x07\x00\xff", 0, 0, 27),
                                (b"\x01\x01\x1f\x07\x00\xff", 237, -2, 33), (b"\x01\x01\x33\x07\x00\xff", 89, -2, 33),
                                (b"\x01\x01\x47\x07\x00\xff", 75, -2, 33), (b"\x01\x01\x20\x07\x00\xff", 232, 0, 35),
                                (b"\x01\x01\x34\x07\x00\xff", 233, 0, 35), (b"\x01\x01\x48\x07\x00\xff", 236, 0, 35),
                                (b"\x01\x01\x01\x08\x00\xff", 85823280, 0, 30)):
    reading.items.append((code, Quantity(raw, scaler, unit)))
app.state.reading = reading
app.state.reading_ms = 0
app.state.readings = 1
for i in range(HISTORY):  # a full hour of power
    app.state.add_power(i * 10, 800 + i)

start = live()
print("base %d" % start)  # the interpreter, asyncio, this script, the app's state and config
for name in ("app.web.server", "app.web.http", "app.web.api"):
    before = live()
    __import__(name)
    print("import %s %d" % (name, live() - before))
from app.web import http  # noqa: E402
from app.web.server import Web  # noqa: E402

before = live()
web = Web(app)
print("import Web() %d" % (live() - before))

# Every request is measured by wrapping http.exchange (the server looks it up per connection;
# the measured requests come well within server.LINGER_MS, so http.py is not reloaded meanwhile).
_head = http.head
_exchange = http.exchange
count = [0]


async def head(slot, stream):
    request = await _head(slot, stream)
    slot.path = request.path
    return request


async def exchange(web, slot, stream):
    count[0] += 1
    if count[0] > MEASURED:
        return await _exchange(web, slot, stream)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    try:
        await _exchange(web, slot, stream)
    finally:
        used = gc.mem_alloc() - before
        gc.enable()
        print("alloc %s %d" % (getattr(slot, "path", "?"), used))


http.head = head
http.exchange = exchange


async def main():
    await web.start(PORT)
    print("ready web %d" % (live() - start))
    while True:
        await asyncio.sleep(1)


asyncio.run(main())
