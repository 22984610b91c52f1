"""The telnet debug console: the log as it happens, plus a few commands.

Several clients at once (MAX_CLIENTS). What a client is sent comes from the log's ring (see
app.log): on connect the last lines, then everything new, written by one task per client that
waits for the socket. Nobody else ever waits for a client: a client that falls a whole ring
behind, or whose socket takes nothing for WRITE_TIMEOUT_MS, is dropped, and the meter task goes
on as if nothing happened.

This module is what stays loaded: connections, sending, reading command lines. What the console
says (the login, when telnet.password is set; the commands and their answers, the status text)
is app/console.py, loaded for a new connection or a command line and unloaded after.
"""
import asyncio
import gc

from app import close, unload

MAX_CLIENTS = 3
WRITE_CHUNK = 512          # bytes handed to a socket at a time
WRITE_TIMEOUT_MS = 3000    # a socket that takes no data for this long: the client is dropped
LINE_MAX = 128             # a longer command line is thrown away
REPLY_LINES_MAX = 200      # a client with more replies unsent does not read: it is dropped


class Client:
    """One connection: its stream, where it is in the log ring, the replies it has not been sent."""

    def __init__(self, stream):
        self.stream = stream
        self.at = 0              # where in the log ring its next byte is
        self.replies = []        # answers to its commands (str lines), sent before more log
        self.ready = asyncio.Event()
        self.task = asyncio.current_task()  # the task that reads its commands
        self.name = "?"          # "address:port", for the log
        self.pending = b""       # the start of a command line not ended yet

    async def line(self):
        """The next command line (bytes without its end: CR or LF), or None when the client has
        gone; bounded, whatever the client sends."""
        while True:
            pending = self.pending
            cr, lf = pending.find(b"\r"), pending.find(b"\n")
            cut = cr if lf < 0 or 0 <= cr < lf else lf
            if cut >= 0:
                self.pending = pending[cut + 1:]
                return pending[:cut]
            if len(pending) > LINE_MAX:
                pending = b""
            data = await self.stream.read(64)
            if not data:
                return None
            self.pending = pending + data


class Telnet:
    def __init__(self, app):
        self.app = app
        self.log = app.log
        self.clients = []
        self.connecting = 0   # connections still at the password prompt
        self.dropped = 0      # clients dropped for being too slow
        self.heap = (0, 0)    # free and used heap at the last `status`, before its answer was made
        self.server = None
        self.log.sinks.append(self._wake)

    def _wake(self, line):
        for client in self.clients:
            client.ready.set()

    async def start(self, port):
        self.server = await asyncio.start_server(self._serve, "0.0.0.0", port)
        return self.server

    async def _serve(self, stream, _):
        client = Client(stream)
        try:
            if len(self.clients) + self.connecting >= MAX_CLIENTS:
                stream.write(b"Too many telnet clients (%d); try again later.\r\n" % MAX_CLIENTS)
                await drain(stream)
                return
            self.connecting += 1
            try:
                welcome = await console("login", self, client)  # None: no (right) password
            finally:
                self.connecting -= 1
            if welcome is None:
                return
            client.at = self.log.recent_start()
            self.clients.append(client)
            client.replies.append(welcome)
            pump = asyncio.create_task(self._pump(client))
            try:
                await self._commands(client)
            finally:
                pump.cancel()
        except (OSError, asyncio.CancelledError, asyncio.TimeoutError):
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)
            await close(stream)

    async def _pump(self, client):
        """Send the client its replies and the log; drop it when it cannot keep up."""
        stream = client.stream
        log = self.log
        try:
            while True:
                if client.replies:
                    batch = []
                    size = 0
                    while client.replies and size < WRITE_CHUNK:
                        batch.append(client.replies.pop(0))
                        size += len(batch[-1]) + 2
                    batch.append("")
                    stream.write("\r\n".join(batch).encode())
                elif client.at >= log.head:
                    client.ready.clear()
                    await client.ready.wait()
                    continue
                else:
                    piece = log.chunk(client.at, WRITE_CHUNK)
                    if piece is None:
                        self._drop(client, "fell more than %d bytes behind the log" % len(log.ring))
                        return
                    stream.write(piece)
                    client.at += len(piece)
                if not await drain(stream):
                    self._drop(client, "took no data for %d s" % (WRITE_TIMEOUT_MS // 1000))
                    return
        except OSError:
            client.task.cancel()

    def _drop(self, client, why):
        self.dropped += 1
        if client in self.clients:
            self.clients.remove(client)
        if not getattr(client.stream, "out_buf", b""):  # nothing stuck before it: it may get through
            try:
                client.stream.write(b"\r\nDropped: too slow (" + why.encode() + b").\r\n")
            except OSError:
                pass
        if client.task is not asyncio.current_task():
            client.task.cancel()
        self.log.warning("Telnet client %s dropped: %s" % (client.name, why))

    async def _commands(self, client):
        while True:
            line = await client.line()
            if line is None:
                return
            words = clean(line).split()
            if not words:
                continue
            name = words[0].lower()
            if name == "quit":
                client.stream.write(b"Bye.\r\n")
                await drain(client.stream)
                return
            if name == "status":  # measured before the answer's code is loaded: the firmware at rest
                gc.collect()
                self.heap = (gc.mem_free(), gc.mem_alloc())
            client.replies.extend(console("command", self, words))
            client.ready.set()
            if len(client.replies) > REPLY_LINES_MAX:
                self._drop(client, "does not read the replies to its commands")
                return


def console(function, *args):
    """Call `function` of app/console.py, loaded for the call and forgotten right after (no local
    name keeps it: its heap comes back once the call, or the coroutine it returns, is done)."""
    from app import console as module
    try:
        return getattr(module, function)(*args)
    finally:
        unload("app.console")


def clean(line):
    """A command line without telnet negotiation (IAC sequences) and control characters."""
    out = []
    skip = 0
    for b in line:
        if skip:
            skip -= 1
        elif b == 0xFF:
            skip = 2
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
    return "".join(out).strip()


async def drain(stream):
    """Whether the stream took what was written within WRITE_TIMEOUT_MS."""
    try:
        await asyncio.wait_for_ms(stream.drain(), WRITE_TIMEOUT_MS)
        return True
    except (OSError, asyncio.TimeoutError):
        return False
