"""What the telnet console says: the login, the commands and their answers, the status text.

Loaded by app/telnet.py for a new connection or a command line and unloaded right after, so its
code takes no heap between commands. The `status` heap figures are taken by telnet.py before
this module is loaded: they show the firmware at rest.
"""
import asyncio
import sys

from app import unload
from app.log import LEVELS

try:
    from micropython import const
except ImportError:
    const = lambda value: value  # CPython: the value itself (ints, str and bytes here)

# Private consts: their names are not interned (this module is loaded now and then, its names
# would stay in the heap for good).
_MAX_CLIENTS = const(3)       # telnet sessions at once
_LOGIN_TIMEOUT_MS = const(60000)
_WRITE_TIMEOUT_MS = const(3000)  # app/telnet.py's: a client whose socket takes nothing this long is dropped
_LOGIN_TRIES = const(3)
_SEND_BUFFER = const(4096)  # the unix port's socket send buffer, about what the board's TCP has
_EXCERPT_HEX = const(48)    # hex digits of the last error's bytes shown by `status`
_POLL_MS = const(100)       # app/telnet.py's POLL_MS: how often the login looks at the socket
_RECENT_LINES = const(40)   # the lines of the log a new client is sent first
_HELP = const("Commands: help | status | level E|W|I|D|V | dump on|off | config | reboot | quit")

_WILL_ECHO = const(b"\xff\xfb\x01")  # the server echoes: the client stops echoing (hides the password)
_WONT_ECHO = const(b"\xff\xfc\x01")


async def login(telnet, client):
    """A new connection (in telnet.sessions): its name, the password when telnet.password is set
    (_LOGIN_TRIES tries); the welcome line (client.at set where its log begins), or None when it
    did not log in."""
    if len(telnet.sessions) > _MAX_CLIENTS:
        client.sock.write(b"Too many telnet clients (%d); try again later.\r\n" % _MAX_CLIENTS)
        return None
    client.name = _peer(client.stream)
    if sys.platform == "linux":
        # The board's TCP stack holds a few KB per socket; Linux would buffer megabytes for a client
        # that does not read, so on the unix port such a client would never be found out.
        try:
            client.sock.setsockopt(1, 7, _SEND_BUFFER)  # SOL_SOCKET, SO_SNDBUF (Linux numbers)
        except OSError:
            pass
    log = telnet.log
    password = telnet.app.config["telnet"]["password"]
    if password:
        tries = 0
        while True:
            client.send(b"Password: " + _WILL_ECHO)
            line = await _typed_line(client)
            if line is None:
                return None
            if clean(line) == password:
                client.send(_WONT_ECHO + b"\r\n")
                break
            tries += 1
            await asyncio.sleep_ms(1000)  # guessing takes time
            client.send(b"\r\nWrong password.\r\n")
            if tries == _LOGIN_TRIES:
                log.warning("Telnet: wrong password %d times from %s" % (_LOGIN_TRIES, client.name))
                client.flush()
                return None
    client.at = recent_start(log)  # the log from there on is this client's to be sent
    return "hanreader console (log level %s). %s" % (LEVELS[log.level], _HELP)


def recent_start(log, lines=_RECENT_LINES):
    """The position where the last `lines` lines still in the ring of `log` (app.log.Log) begin.
    Here, not in app/log.py: only a new telnet client needs it."""
    ring = log.ring
    size = len(ring)
    oldest = log.head - size if log.head > size else 0
    start = log.head
    pos = log.head - 1  # the newline that ends the last line
    count = 0
    while pos > oldest:
        pos -= 1
        if ring[pos % size] == 10:
            start = pos + 1
            count += 1
            if count == lines:
                return start
    return 0 if oldest == 0 else start


async def _typed_line(client):
    """The next line the client types (sending it what it is owed meanwhile), or None when it has
    gone or typed none within _LOGIN_TIMEOUT_MS."""
    waited = 0
    while True:
        client.flush()
        line = client.line()
        if line is not None or not client.read() or waited >= _LOGIN_TIMEOUT_MS:
            return line
        await asyncio.sleep_ms(_POLL_MS)
        waited += _POLL_MS


def command(telnet, line):
    """The reply lines to one command line (bytes), None for `quit`."""
    app = telnet.app
    words = clean(line).split()
    if not words:
        return []
    name = words[0].lower()
    if name == "quit":
        return None
    if name == "help":
        return [_HELP]
    if name == "level":
        level = words[1].upper() if len(words) == 2 else ""
        if len(level) == 1 and level in LEVELS:
            app.log.level = LEVELS.index(level)  # what is shown: this level and those before
            if level == "V":
                return ["Log level V (frame dumps %s)" % ("on" if app.meter.dump else "off: 'dump on'")]
            return ["Log level " + level]
        return ["usage: level E|W|I|D|V (now %s)" % LEVELS[app.log.level]]
    if name == "dump":
        if len(words) == 2 and words[1].lower() in ("on", "off"):
            app.meter.dump = words[1].lower() == "on"
            return ["Frame dumps %s (shown at level V, now %s)" % (words[1].lower(), LEVELS[app.log.level])]
        return ["usage: dump on|off (now %s)" % ("on" if app.meter.dump else "off")]
    if name == "status":
        return status_lines(app, telnet)
    if name == "config":
        from app import config as config_store  # the rules: loaded for the answer
        shown = config_store.masked(app.config)
        del config_store
        unload("app.config")
        return ["%s.%s = %r" % (section, field, value)
                for section in sorted(shown) for field, value in sorted(shown[section].items())]
    if name == "reboot":
        app.reboot("reboot from telnet")
        return ["Rebooting."]
    return ["Unknown command %r. %s" % (words[0], _HELP)]


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


def _ms(microseconds):
    return "%d.%03d" % (microseconds // 1000, microseconds % 1000)


def status_lines(app, telnet):
    state = app.state
    counters = app.meter.pipeline.counters
    errors = ", ".join("%s %d" % (code, n) for code, n in sorted(counters.errors.items())) or "none"
    last = "none"
    if state.last_error:
        code, detail, excerpt = state.last_error
        last = "%s: %s" % (code, detail)
        if excerpt:
            last += " [%s%s]" % (excerpt[:_EXCERPT_HEX], "..." if len(excerpt) > _EXCERPT_HEX else "")
    clients = len([client for client in telnet.sessions if client.at is not None])  # logged in
    return [
        "Serial: %s on GPIO%d" % (state.serial, app.config["meter"]["rx_pin"]),
        "Bytes %d, frames %d, readings %d; errors: %s" % (counters.bytes, counters.frames,
                                                         counters.readings, errors),
        "Diagnosis: " + state.diagnosis[1],
        "Last error: " + last,
        "Heap free %d B, used %d B, uptime %d s, reset cause: %s%s" % (
            telnet.heap[0], telnet.heap[1], state.uptime_s, state.reset_cause,
            ", SAFE MODE" if state.safe_mode else ""),
        "Loop stall max %d ms; decoding a frame took %s ms (max %s ms)" % (
            state.loop_stall_ms, _ms(state.frame_us), _ms(state.frame_us_max)),
        "Wi-Fi: %s; MQTT: %s" % (state.wifi, state.mqtt),
        "Telnet: %d client%s, %d dropped; log level %s, frame dumps %s" % (
            clients, "" if clients == 1 else "s", telnet.dropped, LEVELS[app.log.level],
            "on" if app.meter.dump else "off"),
    ]


def dropped(telnet, client, cause):
    """Count a client dropped for being too slow (app/telnet.py), and tell it why, and the log:
    `cause` "replies", "behind" or "stuck"."""
    telnet.dropped += 1
    why = "does not read the replies to its commands" if cause == "replies" else \
        "fell more than %d bytes behind the log" % len(telnet.log.ring) if cause == "behind" else \
        "took no data for %d s" % (_WRITE_TIMEOUT_MS // 1000)
    try:  # it may get through (the socket may have room again)
        client.sock.write(b"\r\nDropped: too slow (" + why.encode() + b").\r\n")
    except OSError:
        pass
    telnet.log.warning("Telnet client %s dropped: %s" % (client.name, why))


def _peer(stream):
    """"address:port" of the client (the unix port gives a raw IPv4 sockaddr)."""
    try:
        peer = stream.get_extra_info("peername")
        if isinstance(peer, (bytes, bytearray)):
            return "%d.%d.%d.%d:%d" % (peer[4], peer[5], peer[6], peer[7], peer[2] << 8 | peer[3])
        return "%s:%d" % (peer[0], peer[1])
    except (KeyError, IndexError, TypeError, ValueError):
        return "?"
