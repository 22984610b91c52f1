"""The telnet debug console: the log as it happens, plus a few commands.

Several clients at once (app/console.py's _MAX_CLIENTS), one task each, which never waits for its client: every
_POLL_MS it takes the command lines the socket has read and hands the socket, without blocking,
what it has room for: the replies to commands first, then the log from the client's place in the
log's ring (see app.log). Each new log line is also handed at once to the clients' sockets (as
much as they take without waiting): a push dumped at level V comes as a burst larger than the
ring, which a client keeps up with through its socket's buffer. So the meter task never waits for
a client, and one that does not keep up is dropped: when the log gets a whole ring ahead of it, when its socket takes nothing for
_WRITE_TIMEOUT_MS, or when its unsent replies pass _REPLY_BYTES_MAX. (Polling costs a few wakes a
second; an event and a second, sending task per client cost heap, which is scarcer.)

This module is what stays loaded: connections, sending, reading command lines. What the console
says (the login: too many clients, the password when telnet.password is set; the commands and
their answers, the status text) is app/console.py, loaded for a new connection or a command line and unloaded after.
"""
import asyncio
import gc

from app import close, unload

try:
    from micropython import const
except ImportError:
    def const(value):  # CPython: the value itself
        return value

_POLL_MS = const(100)            # how often a client's socket is looked at (app/console.py's too)
_WRITE_CHUNK = const(512)        # bytes handed to a socket at a time
_WRITE_TIMEOUT_MS = const(3000)  # a socket that takes no data for this long: the client is dropped
_LINE_MAX = const(128)           # a longer command line is thrown away
_REPLY_BYTES_MAX = const(4096)   # a client with more replies unsent does not read: it is dropped
# What a client is told when the console's code finds no room in the heap (a page's poll, an MQTT
# turn or a push may hold much of it for a moment): after a command the session goes on.
_NO_ROOM = const(b"No room in the heap for the console now: try again in a moment.\r\n")


class Client:
    """One connection: its socket, read and written without waiting (MicroPython's non-blocking
    socket under the asyncio stream), the input not yet made into lines and the replies not yet
    sent."""

    def __init__(self, stream):
        self.stream = stream
        self.sock = stream.s
        self.name = "?"          # "address:port", for the log
        self.input = b""         # the start of a command line not ended yet
        self.out = b""           # replies the socket has not taken yet: sent before more log
        self.at = None           # where in the log ring its next byte is, once logged in

    def read(self):
        """Take what the socket has read; False when the client has gone."""
        data = self.sock.read(_LINE_MAX)
        if data == b"":
            return False
        if data:
            if len(self.input) > _LINE_MAX:
                self.input = b""  # a line that long is no command: thrown away
            self.input += data
        return True

    def line(self):
        """The next command line read (bytes without its end: CR or LF), or None."""
        pending = self.input
        cr, lf = pending.find(b"\r"), pending.find(b"\n")
        cut = cr if lf < 0 or 0 <= cr < lf else lf
        if cut < 0:
            return None
        self.input = pending[cut + 1:]
        return pending[:cut]

    def send(self, data):
        """A reply (bytes) to the socket at once when none are waiting; what it does not take
        waits in `out`. (Replies collected first needed a piece of heap as large as them all.)"""
        if not self.out:
            taken = self.sock.write(data) or 0
            if taken == len(data):
                return
            data = data[taken:]
        self.out += data

    def flush(self):
        """Hand the socket what it takes of the replies; True when none are left."""
        if self.out:
            taken = self.sock.write(self.out) or 0
            self.out = self.out[taken:]
        return not self.out


class Telnet:
    dropped = 0  # clients dropped for being too slow (counted by app/console.py)

    def __init__(self, app):
        self.app = app
        self.log = app.log
        self.heap = (0, 0)    # free and used heap when the console was last called, before it loaded
        # The connections, at the password prompt (client.at None) or logged in: these are sent
        # each new log line as it is written.
        self.sessions = []
        self.log.sinks.append(self._push)

    def _push(self, line):
        for client in self.sessions:
            if not client.out and client.at is not None:  # replies go first
                try:
                    self._send_log(client)
                except OSError:
                    pass  # the session task sees the broken connection

    def _send_log(self, client):
        """Hand the socket the log from the client's place on, as far as it takes without waiting;
        False when the log has got a whole ring ahead of the client."""
        log = self.log
        while client.at < log.head:
            piece = log.chunk(client.at, _WRITE_CHUNK)
            if piece is None:
                return False
            taken = client.sock.write(piece) or 0
            client.at += taken
            if taken < len(piece):
                break
        return True

    async def serve(self, stream, _):
        """A new connection (app/start.py hands this to asyncio.start_server): the login, then
        commands in, replies and the log out, until the client quits, goes or is dropped. (One
        coroutine for both: a second one's frame would stay in the heap for the whole session.)"""
        client = Client(stream)
        try:
            self.sessions.append(client)
            welcome = await console("login", self, client)  # None: too many clients, no (right) password
            if welcome is None:
                return
            client.send(welcome.encode() + b"\r\n")  # the console set client.at: where its log begins
            welcome = None  # this coroutine's frame would keep it for the whole session
            stuck_ms = 0  # how long the socket has taken nothing that was waiting
            while True:
                try:
                    line = client.line()
                    if line is None:  # one command a wake at most: a pasted batch cannot hold the loop up
                        if not client.read():
                            return
                        line = client.line()
                    if line is not None and line.strip():
                        replies = console("command", self, line)
                        if replies is None:  # quit
                            client.sock.write(b"Bye.\r\n")
                            return
                        for reply in replies:
                            client.send(reply.encode() + b"\r\n")
                        replies = None  # not held while the next `status` measures the heap
                        if len(client.out) > _REPLY_BYTES_MAX:
                            return console("dropped", self, client, "replies")
                    started = client.at
                    sent = len(client.out)
                    if client.flush() and not self._send_log(client):
                        return console("dropped", self, client, "behind")
                    if client.at == started and len(client.out) == sent and (client.out or client.at < self.log.head):
                        stuck_ms += _POLL_MS
                        if stuck_ms >= _WRITE_TIMEOUT_MS:
                            return console("dropped", self, client, "stuck")
                    else:
                        stuck_ms = 0
                except MemoryError:  # the console's code, or a reply, found no room: said, and the session goes on
                    replies = None
                    self._no_room(client)
                await asyncio.sleep_ms(_POLL_MS)
        except OSError:
            pass
        except MemoryError:  # no room for the console's login (or this session's bytes): this client goes
            self._no_room(client)
            try:
                client.flush()
            except OSError:
                pass
        finally:
            if client in self.sessions:
                self.sessions.remove(client)
            await close(stream)

    def _no_room(self, client):
        """The console's code (or a reply) found no room in the heap: the client and the log are
        told, as far as that needs no room either."""
        try:
            client.send(_NO_ROOM)
            self.log.warning("Telnet: not enough heap for the console (%d B free)" % gc.mem_free())
        except MemoryError:  # (a tuple of both would be made, and need room, to match)
            pass
        except OSError:
            pass


def console(function, telnet, *args):
    """Call `function` of app/console.py, loaded for the call and forgotten right after (no local
    name keeps it: its heap comes back once the call, or the coroutine it returns, is done)."""
    gc.collect()  # garbage first, from this shallow stack (see app/web/server.py)
    telnet.heap = (gc.mem_free(), gc.mem_alloc())  # what `status` shows: before this code comes
    try:
        from app import console as module
        return getattr(module, function)(telnet, *args)
    finally:
        unload("app.console")  # (also after an import that found no room: see app.unload)
