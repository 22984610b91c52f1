"""The telnet debug console: the log as it happens, plus a few commands.

Several clients at once. Each has a bounded queue of log lines; a client too slow to take them
is dropped, so a stuck connection never holds up the meter task.
"""
import asyncio
import gc
import time

from app import config as config_store

MAX_CLIENTS = 3
QUEUE_BYTES = 4096   # a client further behind than this is dropped
WRITE_TIMEOUT_MS = 2000
HELP = ("Commands: help | status | level E|W|I|D|V | dump on|off | config | reboot | quit")


class Client:
    def __init__(self, writer):
        self.writer = writer
        self.queue = []
        self.queued = 0
        self.ready = asyncio.Event()
        self.dropped = False

    def send(self, line):
        if self.dropped:
            return
        self.queue.append(line)
        self.queued += len(line) + 2
        if self.queued > QUEUE_BYTES:
            self.dropped = True  # too slow: its writer task closes the connection
        self.ready.set()


class Telnet:
    def __init__(self, app):
        self.app = app
        self.clients = []

    async def start(self, port):
        return await asyncio.start_server(self._serve, "0.0.0.0", port)

    async def _serve(self, reader, writer):
        if len(self.clients) >= MAX_CLIENTS:
            writer.write(b"Too many telnet clients.\r\n")
            await _drain(writer)
            writer.close()
            return
        client = Client(writer)
        try:
            if not await self._login(reader, writer):
                return
            self.clients.append(client)
            for line in self.app.log.recent():
                client.send(line)
            client.send("hanreader console. " + HELP)
            self.app.log.sinks.append(client.send)
            pump = asyncio.create_task(self._pump(client))
            try:
                await self._commands(reader, client)
            finally:
                pump.cancel()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if client.send in self.app.log.sinks:
                self.app.log.sinks.remove(client.send)
            if client in self.clients:
                self.clients.remove(client)
            try:
                writer.close()
            except OSError:
                pass

    async def _login(self, reader, writer):
        password = self.app.config["telnet"]["password"]
        if not password:
            return True
        writer.write(b"Password: ")
        await _drain(writer)
        line = await asyncio.wait_for_ms(reader.readline(), 30000)
        if _clean(line) == password:
            return True
        writer.write(b"Wrong password.\r\n")
        await _drain(writer)
        return False

    async def _pump(self, client):
        """Write queued lines; drop the client when it falls behind or stops reading."""
        writer = client.writer
        while not client.dropped:
            await client.ready.wait()
            client.ready.clear()
            lines, client.queue, client.queued = client.queue, [], 0
            if client.dropped:
                break
            for line in lines:
                writer.write(line.encode() + b"\r\n")
            if not await _drain(writer):
                break
        try:
            writer.write(b"Dropped: too slow to keep up with the log.\r\n")
        except OSError:
            pass
        writer.close()

    async def _commands(self, reader, client):
        while not client.dropped:
            line = await reader.readline()
            if not line:
                return
            words = _clean(line).split()
            if not words:
                continue
            if words[0] == "quit":
                return
            for reply in self.command(words):
                client.send(reply)

    def command(self, words):
        """The reply lines to one command (also used by tests)."""
        app = self.app
        name = words[0].lower()
        if name == "help":
            return [HELP]
        if name == "level":
            if len(words) == 2 and words[1].upper() in "EWIDV" and len(words[1]) == 1:
                app.log.set_level(words[1].upper())
                return ["Log level " + app.log.level_name()]
            return ["usage: level E|W|I|D|V (now %s)" % app.log.level_name()]
        if name == "dump":
            if len(words) == 2 and words[1] in ("on", "off"):
                app.meter.dump = words[1] == "on"
                return ["Frame dumps %s (shown at level V)" % words[1]]
            return ["usage: dump on|off"]
        if name == "status":
            return status_lines(app)
        if name == "config":
            shown = config_store.masked(app.config)
            return ["%s.%s = %r" % (section, field, value)
                    for section in sorted(shown) for field, value in sorted(shown[section].items())]
        if name == "reboot":
            app.reboot("reboot from telnet")
            return ["Rebooting"]
        return ["Unknown command %r. %s" % (words[0], HELP)]


def status_lines(app):
    state = app.state
    counters = app.meter.pipeline.counters
    errors = ", ".join("%s %d" % (code, n) for code, n in sorted(counters.errors.items())) or "none"
    uptime = time.ticks_diff(time.ticks_ms(), app.started_ms) // 1000
    gc.collect()
    lines = [
        "Serial: %s on GPIO%d" % (state.serial, app.config["meter"]["rx_pin"]),
        "Bytes %d, frames %d, readings %d; errors: %s" % (counters.bytes, counters.frames,
                                                         counters.readings, errors),
        "Diagnosis: " + state.diagnosis[1],
        "Last error: " + ("%s: %s %s" % state.last_error if state.last_error else "none"),
        "Heap free %d B, uptime %d s, reset cause: %s%s" % (gc.mem_free(), uptime, state.reset_cause,
                                                           ", SAFE MODE" if state.safe_mode else ""),
        "Loop stall max %d ms; decoding a frame took %d ms (max %d ms)" % (
            state.loop_stall_ms, state.frame_ms, state.frame_ms_max),
        "Wi-Fi: %s; MQTT: %s" % (state.wifi, state.mqtt),
    ]
    return lines


def _clean(line):
    """A command line without telnet negotiation bytes (IAC sequences) and line ends."""
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


async def _drain(writer):
    try:
        await asyncio.wait_for_ms(writer.drain(), WRITE_TIMEOUT_MS)
        return True
    except (OSError, asyncio.TimeoutError):
        return False
