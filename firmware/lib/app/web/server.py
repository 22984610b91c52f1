"""The web server: pages and the JSON API over a small HTTP/1.1 server on asyncio.

Hand-rolled rather than a framework: the board has about 110 KB of heap for everything. This
module is all that stays loaded while nobody uses the pages: it takes connections and gives each
a slot. The code that reads a request and answers the pages' polls (http.py, with api.py for the
dashboard's data, status.py for the status page's figures) is loaded with a request that needs
it and unloaded as soon as no connection is open: a page polling every 2 s has it loaded for the
few milliseconds of each poll, and between polls the meter decodes its pushes with that room
free. The rest comes for a request and goes right after it: pages.py (pages and their files,
fetched once a visit), routes.py (the config page's login, captive-portal redirects, safe mode,
errors, the way to the admin API), admin.py, auth.py and settings.py (log in, settings, reboot).

Connections. At most _MAX_CONNECTIONS at once, each in a slot (http.Request: an http.BUFFER-byte
buffer and where the connection is) made as it is let in and let go as it ends, like the answering
code it comes with: between polls the server holds no buffer. Every response closes its
connection (Connection: close): nothing is kept for a client between requests but its session.
Whoever is slow waits alone: when every slot is taken, a connection that has not sent a byte for
a second (browsers open spare ones) gives its slot up to the newcomer; otherwise the newcomer
waits up to 3 s for a slot (at most _MAX_WAITING of them wait), then gets 503 (refusals.py, loaded
for that). Room in the heap is waited for the same way: a request whose code finds none (a push
being decoded, a reading being published), or that comes while MQTT connects (app.lent), waits
up to 2 s for it, then gets NO_ROOM; while its code is loaded the meter and MQTT's turns wait a
little for it instead (app/meter.py, app/mqtt.py).

Time limits. Each connection has a deadline (its slot's; http.py sets it for the request head,
then for the answer), and one watcher task ends the connections past theirs, every _TICK_MS: one
timer for all of them, where asyncio.wait_for would make two tasks per request.
"""
import asyncio
import gc
import sys
import time

from app import close, unload, unload_wait_for

try:
    from micropython import const
except ImportError:
    const = int  # CPython: the value itself (every const() here wraps an int)

_MAX_CONNECTIONS = const(3)
_MAX_WAITING = const(4)  # connections waiting for a slot (refusals.slot_freed), at most
# How long the answering code stays loaded after the last connection: on the board not at all (0:
# it goes as that connection closes); tests keep it to measure requests alone (a global).
LINGER_MS = 0
# A request that finds no room for its code tries again every _ROOM_WAIT_MS, _ROOM_TRIES times.
_ROOM_TRIES = const(20)
_ROOM_WAIT_MS = const(100)
_TICK_MS = const(250)  # how often deadlines are checked: time limits are this much late at most
# The answer to a request the heap had no room for (its code, or its answer before a byte of it
# went out): a constant, written as it is, so that saying it needs no room. The pages' polls show
# its words; a page the browser was opening shows them and loads again by itself (Refresh).
NO_ROOM = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRefresh: 2\r\n" \
          b"Content-Type: application/json\r\n\r\n" \
          b'{"error": "the device is short of memory for a moment"}'


class Web:
    def __init__(self, app):
        self.app = app
        self.slots = []        # the open connections' slots (http.Request), at most _MAX_CONNECTIONS
        self.waiting = 0       # connections waiting for a slot, or for room in the heap
        self.sessions = []     # logged-in browsers: [token, csrf token, last used] (auth.py)
        self.checking = False  # a password is being checked: one at a time
        self.rare = 0          # requests under way with code loaded for them alone (http.py)
        self.served = 0        # requests answered
        self.refused = 0       # connections turned away (no slot in time)
        self.timeouts = 0      # connections closed for being too slow
        self.last_ms = 0       # ticks_ms when the last connection ended
        self.watcher = None    # the task watching deadlines while the answering code is loaded

    async def start(self, port):
        return await asyncio.start_server(self._serve, "0.0.0.0", port, _MAX_CONNECTIONS + _MAX_WAITING)

    async def _serve(self, stream, _):
        slot = None
        try:
            if len(self.slots) >= _MAX_CONNECTIONS:  # a spare connection's slot, or a wait for one
                from app.web.refusals import busy, slot_freed
                if not await slot_freed(self, _MAX_CONNECTIONS, _MAX_WAITING):
                    self.refused += 1
                    await busy(stream)
                    return
            # An MQTT connection being made, a push being decoded or a reading being published
            # may hold the room for the answering code for a moment: the request waits for it
            # (up to _ROOM_TRIES times _ROOM_WAIT_MS), then is told so (503).
            tries = _ROOM_TRIES
            while True:
                tries -= 1
                if "app.mqtt_link" not in sys.modules or not tries:
                    try:
                        if "app.web.http" not in sys.modules:
                            # Garbage goes first, collected from here, where the stack is shallow:
                            # when the loader runs out of room it collects deep in the import,
                            # where words left on the stack can keep garbage alive. (Everything on
                            # in 144K: without this here and before MQTT's turns, a poll or a
                            # reading found no room in each of 5 runs of 3,000 readings; with
                            # them, nothing did in 4.)
                            gc.collect()
                        from app.web.http import Request, exchange
                        slot = Request(asyncio.current_task(), time.ticks_ms())
                        break
                    except MemoryError:  # no room for the answering code now (what its import
                        pass                 # loaded goes as it is tried again: see app.unload)
                if not tries or self.waiting >= _MAX_WAITING:
                    self.short_of_room(stream, True)
                    return
                self.waiting += 1
                try:
                    await asyncio.sleep_ms(_ROOM_WAIT_MS)
                finally:
                    self.waiting -= 1
            self.slots.append(slot)
            if self.watcher is None:
                self.watcher = asyncio.create_task(self._watch())
            await exchange(self, slot, stream)
        except asyncio.TimeoutError:  # a request body too slow (admin.py)
            self.timeouts += 1
        except MemoryError:  # an answer begun and cut short (http.py); before the tuple below,
            pass  # whose making needs room
        except (OSError, EOFError, asyncio.CancelledError):
            pass
        except Exception as e:  # noqa: BLE001 - one bad request must never end the server
            self.app.log.error("Web: %r" % e)
        finally:
            if slot is not None:
                if slot.expired:
                    self.timeouts += 1
                self.slots.remove(slot)  # before any wait: a newcomer may be waiting for it
            self.last_ms = time.ticks_ms()
            await close(stream)
            if not LINGER_MS and not self.slots:  # the last connection takes the answering code along
                self._unload()

    def short_of_room(self, stream, unread=False):
        """Answer NO_ROOM: the heap had no room for a request, its code or its answer (a page's
        poll, an MQTT turn or a push may hold much of it for a moment). With `unread`, what the
        client sent is read and dropped first, without waiting: closing on unread bytes resets
        the connection, and the client loses the answer."""
        try:
            if unread:
                scrap = bytearray(64)
                for _ in range(128):  # 8 KB at most, as http.py takes in
                    if not stream.s.readinto(scrap):  # None: nothing more now (it does not block)
                        break
        except OSError:
            pass
        except MemoryError:  # (apart: a tuple of both would be made, and need room, to match)
            pass
        try:
            stream.write(NO_ROOM)  # the socket takes it at once: a new connection's buffer is empty
            self.app.log.warning("Web: no room in the heap to answer a request: 503 sent")
        except OSError:
            pass
        except MemoryError:
            pass

    async def _watch(self):
        """End the connections past their deadline; once none has been open for LINGER_MS,
        unload the answering code if it is still there (and end: the next connection starts a
        new watcher)."""
        while True:
            await asyncio.sleep_ms(_TICK_MS)
            now = time.ticks_ms()
            for slot in self.slots:
                if not slot.expired and time.ticks_diff(now, slot.deadline) >= 0:
                    slot.expired = True
                    slot.task.cancel()  # its finally counts the timeout and lets the slot go
            if not self.slots and time.ticks_diff(now, self.last_ms) >= LINGER_MS:
                break
        self._unload()
        self.watcher = None

    def _unload(self):
        """No connection is open: every module of the package but this one goes (the answering
        code: http.py, api.py, history.py, status.py), with han.text (values' text and friendly
        names: an MQTT turn, which may have found it loaded and kept it, is over: turns never
        wait)."""
        unload("app.web.http")  # also after an import that found no room (see app.unload)
        unload("han.text")
        unload_wait_for()  # (a request body or the unread rest of a request was waited for)
        while True:  # one at a time (unloading changes sys.modules): a copy of its names would
            for name in sys.modules:  # need a 0.5 KB piece, which a scattered heap may not have
                if name.startswith("app.web.") and name != __name__:
                    break
            else:
                break
            unload(name)
