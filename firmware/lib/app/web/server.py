"""The web server: pages and the JSON API over a small HTTP/1.1 server on asyncio.

Hand-rolled rather than a framework: the board has about 110 KB of heap for everything. This
module is all that stays loaded while nobody uses the pages: it takes connections and gives each
a slot. The code that reads a request and answers the pages' polls (http.py, with api.py for the
dashboard's data, status.py for the status page's figures) is loaded with a request that needs
it and unloaded as soon as no connection is open: a page polling every 2 s has it loaded for the
few milliseconds of each poll, and between polls the meter decodes its pushes with that room
free. The rest comes for a request and goes right after it: routes.py (pages and files, fetched
once a visit), admin.py, auth.py and settings.py (log in, settings, reboot).

Connections. At most _MAX_CONNECTIONS at once, each in a slot with a BUFFER-byte buffer made at
start (made once: the heap would fragment otherwise). Every response closes its connection
(Connection: close): nothing is kept for a client between requests but its session. Whoever is
slow waits alone: when every slot is taken, a connection that has not sent a byte for _SPARE_MS
(browsers open spare ones) gives its slot up to the newcomer; otherwise the newcomer waits up to
_QUEUE_MS for a slot (at most _MAX_WAITING of them wait), then gets 503.

Time limits. Each connection has a deadline (its slot's; http.py sets it for the request head,
then for the answer), and one watcher task ends the connections past theirs, every _TICK_MS: one
timer for all of them, where asyncio.wait_for would make two tasks per request.
"""
import asyncio
import sys
import time

from app import close, unload

try:
    from micropython import const
except ImportError:
    const = int  # CPython: the value itself (every const() here wraps an int)

_MAX_CONNECTIONS = const(3)
_MAX_WAITING = const(4)
_QUEUE_MS = const(3000)
_SPARE_MS = const(1000)  # a real client sends its request at once; a browser's spare connection waits
BUFFER = const(512)
DISCARD_MS = const(500)  # unread request bytes are taken in for this long before closing
# How long the answering code stays loaded after the last connection: on the board not at all (0:
# it goes as that connection closes); tests keep it to measure requests alone (a global).
LINGER_MS = 0
_TICK_MS = const(250)  # how often deadlines are checked: time limits are this much late at most
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n" \
        b"Content-Type: text/plain\r\n\r\nBusy: too many connections; try again.\n"


class Slot:
    """One connection's place: its buffer, where it is in it (read by http.py) and its deadline."""

    def __init__(self):
        self.buf = bytearray(BUFFER)
        self.view = memoryview(self.buf)  # slices of a memoryview share the buffer: no copy
        self.task = None      # the connection's task while the slot is taken
        self.fresh = False    # nothing received yet (a browser's spare connection)
        self.since = 0        # ticks_ms when the connection took the slot
        self.deadline = 0     # ticks_ms by which the connection must be done with its step
        self.expired = False  # the watcher ended the connection: it was too slow
        self.start = 0        # unread bytes are buf[start:end]
        self.end = 0


class Web:
    def __init__(self, app):
        self.app = app
        self.slots = []
        for _ in range(_MAX_CONNECTIONS):
            self.slots.append(Slot())
        self.waiting = 0       # connections waiting for a slot
        self.sessions = []     # logged-in browsers: [token, csrf token, last used] (auth.py)
        self.checking = False  # a password is being checked: one at a time
        self.rare = 0          # requests under way with code loaded for them alone (http.py)
        self.served = 0        # requests answered
        self.refused = 0       # connections turned away (no slot in time)
        self.timeouts = 0      # connections closed for being too slow
        self.last_ms = 0       # ticks_ms when the last connection ended
        self.watcher = None    # the task watching deadlines while the answering code is loaded
        self.names_shared = None   # while the answering code is loaded: app.names was (MQTT's), kept

    async def start(self, port):
        return await asyncio.start_server(self._serve, "0.0.0.0", port, _MAX_CONNECTIONS + _MAX_WAITING)

    def _free(self):
        for slot in self.slots:
            if slot.task is None:
                return slot
        return None

    async def _slot(self):
        """A slot for a new connection: a free one, a spare connection's, or one freed within
        _QUEUE_MS; None if there is none."""
        slot = self._free()
        if slot is None:
            now = time.ticks_ms()
            for other in self.slots:
                if other.fresh and time.ticks_diff(now, other.since) >= _SPARE_MS:
                    other.task.cancel()  # its finally gives the slot back
                    await asyncio.sleep_ms(0)
                    slot = self._free()
                    break
        if slot is None and self.waiting < _MAX_WAITING:
            self.waiting += 1
            try:
                for _ in range(_QUEUE_MS // 50):
                    await asyncio.sleep_ms(50)
                    slot = self._free()
                    if slot is not None:
                        break
            finally:
                self.waiting -= 1
        if slot is not None:
            slot.task = asyncio.current_task()
            slot.since = slot.deadline = time.ticks_ms()  # http.exchange sets the real deadline
            slot.fresh = True
            slot.expired = False
            slot.start = slot.end = 0
        return slot

    async def _serve(self, stream, _):
        slot = None
        try:
            slot = await self._slot()
            if slot is None:
                self.refused += 1
                stream.write(_BUSY)  # whatever the socket takes now; nobody waits for it
                await asyncio.wait_for_ms(stream.read(BUFFER), DISCARD_MS)  # see http.exchange
                return
            if self.watcher is None:
                self.watcher = asyncio.create_task(self._watch())
            if self.names_shared is None:  # the answering code comes now (None: not loaded)
                self.names_shared = "app.names" in sys.modules
            from app.web.http import exchange
            await exchange(self, slot, stream)
        except asyncio.TimeoutError:  # a request body too slow (admin.py)
            self.timeouts += 1
        except (OSError, EOFError, asyncio.CancelledError):
            pass
        except Exception as e:  # noqa: BLE001 - one bad request must never end the server
            self.app.log.error("Web: %r" % e)
        finally:
            if slot is not None:
                if slot.expired:
                    self.timeouts += 1
                slot.task = None
                slot.fresh = False
            self.last_ms = time.ticks_ms()
            await close(stream)
            if not LINGER_MS:  # the last open connection takes the answering code with it
                for other in self.slots:
                    if other.task is not None:
                        break
                else:
                    self._unload()

    async def _watch(self):
        """End the connections past their deadline; once none has been open for LINGER_MS,
        unload the answering code if it is still there (and end: the next connection starts a
        new watcher)."""
        while True:
            await asyncio.sleep_ms(_TICK_MS)
            now = time.ticks_ms()
            busy = False
            for slot in self.slots:
                if slot.task is not None:
                    busy = True
                    if not slot.expired and time.ticks_diff(now, slot.deadline) >= 0:
                        slot.expired = True
                        slot.task.cancel()  # its finally counts the timeout and frees the slot
            if not busy and time.ticks_diff(now, self.last_ms) >= LINGER_MS:
                break
        self._unload()
        self.watcher = None

    def _unload(self):
        """No connection is open: every module of the package but this one goes (the answering
        code: http.py, api.py, status.py), and app.names unless MQTT keeps it."""
        for name in list(sys.modules):  # a copy: unloading changes sys.modules
            if name.startswith("app.web.") and name != __name__:
                unload(name)
        if self.names_shared is False:
            unload("app.names")
        self.names_shared = None
