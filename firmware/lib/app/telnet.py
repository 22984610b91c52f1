"""The telnet debug console: the log as it happens, plus a few commands.

Several clients at once (MAX_CLIENTS). What a client is sent comes from the log's ring (see
app.log): on connect the last lines, then everything new, written by one task per client that
waits for the socket. Nobody else ever waits for a client: a client that falls a whole ring
behind, or whose socket takes nothing for WRITE_TIMEOUT_MS, is dropped, and the meter task goes
on as if nothing happened. An optional password (telnet.password in the config) is asked first.
"""
import asyncio
import gc
import sys

from app import unload
from app.streams import close

MAX_CLIENTS = 3
WRITE_CHUNK = 512          # bytes handed to a socket at a time
WRITE_TIMEOUT_MS = 3000    # a socket that takes no data for this long: the client is dropped
SEND_BUFFER = 4096         # the unix port's socket send buffer, about what the board's TCP has
LOGIN_TIMEOUT_MS = 60000
LOGIN_TRIES = 3
LINE_MAX = 128             # a longer command line is thrown away
REPLY_LINES_MAX = 200      # a client with more replies unsent does not read: it is dropped
EXCERPT_HEX = 48           # hex digits of the last error's bytes shown by `status`
HELP = "Commands: help | status | level E|W|I|D|V | dump on|off | config | reboot | quit"

_WILL_ECHO = b"\xff\xfb\x01"  # the server echoes: the client stops echoing (hides the password)
_WONT_ECHO = b"\xff\xfc\x01"


class Client:
    def __init__(self, stream, position):
        self.stream = stream
        self.at = position       # where in the log ring its next byte is
        self.replies = []        # answers to its commands (str lines), sent before more log
        self.ready = asyncio.Event()
        self.task = None         # the task that reads its commands
        self.name = _peer(stream)

    def reply(self, lines):
        self.replies.extend(lines)
        self.ready.set()


class Telnet:
    def __init__(self, app):
        self.app = app
        self.log = app.log
        self.clients = []
        self.connecting = 0   # connections still at the password prompt
        self.dropped = 0      # clients dropped for being too slow
        self.server = None
        self.log.sinks.append(self._wake)

    def _wake(self, line):
        for client in self.clients:
            client.ready.set()

    async def start(self, port):
        self.server = await asyncio.start_server(self._serve, "0.0.0.0", port)
        return self.server

    async def _serve(self, stream, _):
        client = None
        try:
            if len(self.clients) + self.connecting >= MAX_CLIENTS:
                stream.write(b"Too many telnet clients (%d); try again later.\r\n" % MAX_CLIENTS)
                await _drain(stream)
                return
            _small_send_buffer(stream)
            lines = _Lines(stream)
            self.connecting += 1
            try:
                if not await self._login(stream, lines):
                    return
            finally:
                self.connecting -= 1
            client = Client(stream, self.log.recent_start())
            client.task = asyncio.current_task()
            self.clients.append(client)
            client.reply(["hanreader console (log level %s). %s" % (self.log.level_name(), HELP)])
            pump = asyncio.create_task(self._pump(client))
            try:
                await self._commands(client, lines)
            finally:
                pump.cancel()
        except (OSError, asyncio.CancelledError, asyncio.TimeoutError):
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)
            await close(stream)

    async def _login(self, stream, lines):
        password = self.app.config["telnet"]["password"]
        if not password:
            return True
        for _ in range(LOGIN_TRIES):
            stream.write(b"Password: " + _WILL_ECHO)
            if not await _drain(stream):
                return False
            line = await asyncio.wait_for_ms(lines.next(), LOGIN_TIMEOUT_MS)
            if line is None:
                return False
            if _clean(line) == password:
                stream.write(_WONT_ECHO + b"\r\n")
                return True
            await asyncio.sleep_ms(1000)  # guessing takes time
            stream.write(b"\r\nWrong password.\r\n")
        self.log.warning("Telnet: wrong password %d times from %s" % (LOGIN_TRIES, _peer(stream)))
        await _drain(stream)
        return False

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
                if not await _drain(stream):
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

    async def _commands(self, client, lines):
        while True:
            line = await lines.next()
            if line is None:
                return
            words = _clean(line).split()
            if not words:
                continue
            if words[0].lower() == "quit":
                client.stream.write(b"Bye.\r\n")
                await _drain(client.stream)
                return
            client.reply(self.command(words))
            if len(client.replies) > REPLY_LINES_MAX:
                self._drop(client, "does not read the replies to its commands")
                return

    def command(self, words):
        """The reply lines to one command."""
        app = self.app
        name = words[0].lower()
        if name == "help":
            return [HELP]
        if name == "level":
            level = words[1].upper() if len(words) == 2 else ""
            if len(level) == 1 and level in "EWIDV":
                app.log.set_level(level)
                if level == "V":
                    return ["Log level V (frame dumps %s)" % ("on" if app.meter.dump else "off: 'dump on'")]
                return ["Log level " + level]
            return ["usage: level E|W|I|D|V (now %s)" % app.log.level_name()]
        if name == "dump":
            if len(words) == 2 and words[1].lower() in ("on", "off"):
                app.meter.dump = words[1].lower() == "on"
                return ["Frame dumps %s (shown at level V, now %s)" % (words[1].lower(),
                                                                       app.log.level_name())]
            return ["usage: dump on|off (now %s)" % ("on" if app.meter.dump else "off")]
        if name == "status":
            return status_lines(app, self)
        if name == "config":
            from app import config as config_store  # rarely asked for: loaded for the answer
            shown = config_store.masked(app.config)
            del config_store
            unload("app.config")
            return ["%s.%s = %r" % (section, field, value)
                    for section in sorted(shown) for field, value in sorted(shown[section].items())]
        if name == "reboot":
            app.reboot("reboot from telnet")
            return ["Rebooting."]
        return ["Unknown command %r. %s" % (words[0], HELP)]


def _ms(microseconds):
    return "%d.%03d" % (microseconds // 1000, microseconds % 1000)


def status_lines(app, telnet=None):
    state = app.state
    counters = app.meter.pipeline.counters
    errors = ", ".join("%s %d" % (code, n) for code, n in sorted(counters.errors.items())) or "none"
    uptime = state.uptime_s
    last = "none"
    if state.last_error:
        code, detail, excerpt = state.last_error
        last = "%s: %s" % (code, detail)
        if excerpt:
            last += " [%s%s]" % (excerpt[:EXCERPT_HEX], "..." if len(excerpt) > EXCERPT_HEX else "")
    gc.collect()
    lines = [
        "Serial: %s on GPIO%d" % (state.serial, app.config["meter"]["rx_pin"]),
        "Bytes %d, frames %d, readings %d; errors: %s" % (counters.bytes, counters.frames,
                                                         counters.readings, errors),
        "Diagnosis: " + state.diagnosis[1],
        "Last error: " + last,
        "Heap free %d B, used %d B, uptime %d s, reset cause: %s%s" % (
            gc.mem_free(), gc.mem_alloc(), uptime, state.reset_cause, ", SAFE MODE" if state.safe_mode else ""),
        "Loop stall max %d ms; decoding a frame took %s ms (max %s ms)" % (
            state.loop_stall_ms, _ms(state.frame_us), _ms(state.frame_us_max)),
        "Wi-Fi: %s; MQTT: %s" % (state.wifi, state.mqtt),
    ]
    if telnet is not None:
        lines.append("Telnet: %d client%s, %d dropped; log level %s, frame dumps %s" % (
            len(telnet.clients), "" if len(telnet.clients) == 1 else "s", telnet.dropped,
            app.log.level_name(), "on" if app.meter.dump else "off"))
    return lines


class _Lines:
    """Command lines from a stream, ended by CR or LF; bounded, whatever the client sends."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = b""

    async def next(self):
        """The next line (bytes without its end), or None when the client has gone."""
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


def _clean(line):
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


def _peer(stream):
    """"address:port" of the client (the unix port gives a raw IPv4 sockaddr)."""
    try:
        peer = stream.get_extra_info("peername")
        if isinstance(peer, (bytes, bytearray)):
            return "%d.%d.%d.%d:%d" % (peer[4], peer[5], peer[6], peer[7], peer[2] << 8 | peer[3])
        return "%s:%d" % (peer[0], peer[1])
    except (KeyError, IndexError, TypeError, ValueError):
        return "?"


def _small_send_buffer(stream):
    """The board's TCP stack holds a few KB per socket; Linux would buffer megabytes for a client
    that does not read, so on the unix port such a client would never be found out."""
    if sys.platform == "linux":
        try:
            stream.s.setsockopt(1, 7, SEND_BUFFER)  # SOL_SOCKET, SO_SNDBUF (Linux numbers)
        except (AttributeError, OSError):
            pass


async def _drain(stream):
    try:
        await asyncio.wait_for_ms(stream.drain(), WRITE_TIMEOUT_MS)
        return True
    except (OSError, asyncio.TimeoutError):
        return False
