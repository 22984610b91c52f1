"""MQTT: every reading to a broker, Home Assistant discovery, and no wait the meter would feel.

What stays in memory while MQTT runs is this module: the supervisor, and the socket messages
are written through. The rest is loaded when it is needed and unloaded after (app.unload):

  app/mqtt_link.py       connecting (DNS, TCP, TLS, CONNACK): loaded for each connection attempt
  app/mqtt_connect_packet.py  the CONNECT packet, made by umqtt.simple: loaded with it for the
                         start of each attempt, both unloaded before the broker is waited for
  app/mqtt_down.py       a failed attempt or an ended connection: why in words, the backoff
  app/mqtt_status.py     state.mqtt, the line that says what MQTT is doing: loaded with each of
                         the others
  app/mqtt_messages.py   what a reading publishes, with han.report (JSON) and han.text (values'
                         text, friendly names): loaded for each new reading
  app/mqtt_discovery.py  Home Assistant discovery configs: loaded to announce a sensor (on
                         connect, on Home Assistant's birth message, for a sensor seen first)
                         and to hear that birth message
  app/mqtt_raw.py        the raw frames topic: loaded only when mqtt.raw is on
  umqtt.simple           micropython-lib's MQTT client (frozen into the official ESP32 firmware or
                         installed by `make deploy`; PyPI's 1.3.4 under the unix port): it builds
                         the CONNECT packet only. A PUBLISH at QoS 0 is written as umqtt.simple's
                         publish() writes it (app/mqtt_messages.py) and read as its wait_msg()
                         reads it (app/mqtt_discovery.py), so a turn does not load its code

umqtt.simple's own socket calls block (a silent broker held the loop for seconds: shared notes,
platform §4), so every wait is done by the event loop (connecting: app/mqtt_link.py). Once
connected, what is written collects in a small buffer that goes into the socket with an IO_MS
timeout. A message is never whole in memory: it is rendered once to measure it, again into the
socket. What the broker sends is looked for without waiting: a PINGRESP or a SUBACK is read here,
a PUBLISH (Home Assistant's status) in a turn of publishing (app/mqtt_discovery.py). A PINGREQ
(two bytes, written here) goes every _PING_MS; nothing back within ANSWER_MS: the broker is gone.
The MQTT task looks for a new reading and for what the broker sent every _POLL_MS (an
asyncio.Event and a receiving task would cost more heap than the rest of the loop).
QoS 0: nothing ever waits for an acknowledgement. So a broker can hold the loop for IO_MS at
most per socket operation (a write into a full send buffer, then the connection is dropped).

Topics, with PREFIX = mqtt.prefix (the setting):

    PREFIX/status             "online" (retained) on connect; "offline" (retained) is the last will
    PREFIX/state              one JSON message per reading (below)
    PREFIX/power/import ...   one value per topic, its exact number as text (energy in kWh): the
                              friendly name with "/" for "_"; a code without a name goes to
                              PREFIX/obis/1.0.99.1.0.255. All values with mqtt.per_value; with
                              discovery on, always those of the Home Assistant sensors (they read
                              their topic: a sensor whose value a reading lacks keeps its state).
    PREFIX/raw                each frame from the meter as hex (mqtt.raw)
    DISCOVERY/sensor/NODE/NAME/config     Home Assistant discovery, retained (app/mqtt_discovery.py)

The state message, values exact (integer and scaler, no float on the way), keyed by friendly
name (the OBIS code when the value has none, or when the name is already taken):

    {"time": "2024-01-07T12:00:10+01:00",
     "meter": {"id": "5706567274389702", "manufacturer": "Kamstrup", "model": "...", "list": "..."},
     "power_import": {"obis": "1.1.1.7.0.255", "value": 1468, "unit": "W"},
     "energy_import": {"obis": "1.1.1.8.0.255", "value": 12345.678, "unit": "kWh"},
     "meter_id": {"obis": "1.1.0.0.5.255", "value": "5706567274389702"}, ...}

Energy goes out in kWh (kvarh, kVAh), as Home Assistant's energy dashboard wants it: the Wh
quantity's scaler shifted by 3, so the decimal text stays exact. state.mqtt says in one line
what is going on.
"""
import asyncio
import gc
import sys
import time
from errno import ETIMEDOUT

from app import lent, unload, unload_wait_for

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# Names without "_" are for the modules MQTT loads for a moment and the tests.
IO_MS = const(250)        # the longest one socket operation may take: then the connection is dropped
ANSWER_MS = const(5000)   # for the CONNACK, and for the answer to a ping
SENSOR_SIZE = const(4)    # bytes per remembered sensor: its DLMS unit (never 0), C, D, E of its OBIS code
_SENSOR_TABLE = const(32 * SENSOR_SIZE)  # 32 Home Assistant sensors remembered: as many as han.text names quantities
_PING_MS = const(10000)
_POLL_MS = const(100)     # how often the MQTT task looks for something to publish
_NO_ROOM_MS = const(10000)  # the wait after an attempt that found no room in the heap for its code
_WRITE_CHUNK = const(256)  # bytes collected before they go into the socket
# The code a turn of publishing loads (and unloads after, unless it was loaded already).
_PUBLISHING = const(("app.mqtt_messages", "app.mqtt_status", "app.mqtt_discovery", "han.report", "han.text"))
# What a connection attempt, or the end of a connection, loads (and unloads after).
_CONNECTING = const(("app.mqtt_link", "app.mqtt_connect_packet", "umqtt.simple", "app.mqtt_status",
                     "app.mqtt_down"))


def view(piece):
    """A piece of a message as bytes, not copied where it need not be (MicroPython's str has the
    buffer protocol, CPython's has not)."""
    try:
        return memoryview(piece)
    except TypeError:
        return memoryview(piece.encode())


def read(mqtt, n):
    """`n` bytes (n > 0) of what the broker sent to `mqtt` (Mqtt, connected), starting with the
    byte it peeked (_receive()). (A function, not a method: the class's table of names stays at
    12 slots.)"""
    first = mqtt.peeked
    if first is not None:
        mqtt.peeked = None
        if n == 1:
            return first
        n -= 1
    data = mqtt.io.read(n)
    if not data:
        raise EOFError  # the broker closed the connection
    if len(data) < n:  # the rest of the packet did not come within IO_MS
        raise OSError(ETIMEDOUT)
    return data if first is None else first + data


class Mqtt:
    """The MQTT task (run) and, while connected, the socket messages are written through (write,
    flush; read() reads)."""

    # Defaults here: an instance's slot less while they keep them. Past 12 attributes an
    # instance's table grows from 12 slots to 17 (96 B more), and so does the class's.
    raw = None                # app.mqtt_raw.Raw, with mqtt.raw on
    peeked = None             # the first byte of a packet, read by _receive()

    def __init__(self, app, host, port):
        config = app.config["mqtt"]  # (read from there where it is needed: one attribute less)
        self.app = app
        # (host, port), then (host, port, address) once the address is looked up (rarely:
        # app/mqtt_link.py): one attribute where three were.
        self.broker = host, port
        self.failures = 0         # failed connections in a row
        self.published = 0        # state.readings when the latest reading published came in
        # The connection (app/mqtt_link.py): the TCP socket, whose timeout bounds every
        # operation; what is read and written (the socket or its TLS wrapper).
        self.sock = self.io = None
        self.chunk = bytearray(_WRITE_CHUNK)  # what is written, not yet in the socket
        self.filled = 0
        self.packet_start = 0     # where in chunk the packet being written starts (-1: partly sent)
        # Home Assistant sensors learned, in the order they were seen (app/mqtt_messages.py's
        # publish_reading()), and how many of them are announced on this connection
        self.sensors = bytearray(_SENSOR_TABLE) if config["discovery"] else None
        self.announced = 0
        # Which meter this is, (number, manufacturer, model), once a reading says it; until then how
        # many readings did not (app/mqtt_messages.py): one attribute where two were.
        self.device = 0
        if config["raw"] and app.meter is not None:
            from app.mqtt_raw import Raw
            self.raw = Raw()
            app.meter.frames = self.raw.frame

    # The connection's socket.

    def close(self):
        """Close the connection (both the TLS wrapper and the socket), needing no room in the
        heap: it is called where a MemoryError was caught."""
        io, sock = self.io, self.sock
        self.sock = self.io = None
        if io is not None:
            try:
                io.close()
            except OSError:
                pass
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def write(self, piece):
        """Into the buffer, into the socket when it is full: a packet is written here in pieces
        (app/mqtt_messages.py's publish(): str or bytes, as they are rendered)."""
        data = view(piece)
        at = 0
        while at < len(data):
            if self.filled == _WRITE_CHUNK:
                self.flush()
            n = min(len(data) - at, _WRITE_CHUNK - self.filled)
            self.chunk[self.filled:self.filled + n] = data[at:at + n]
            self.filled += n
            at += n

    def flush(self):
        """Into the socket with what was written (after each batch of messages)."""
        n = self.filled
        if n:
            self.filled = 0
            self.packet_start = 0 if self.packet_start == n else -1
            if self.io.write(memoryview(self.chunk)[:n]) != n:  # None or short: no data taken for IO_MS
                raise OSError(ETIMEDOUT)

    async def run(self):
        """Connect (app/mqtt_link.py), publish until the connection ends, say why (app/mqtt_down.py),
        wait, connect again."""
        app = self.app
        problem = None  # what ended the connection: an exception, words (app/mqtt_down.py's describe())
        while True:
            if not app.wifi.up:
                app.state.mqtt = "waiting for Wi-Fi"
                await asyncio.sleep_ms(1000)
                continue
            if "app.web.http" in sys.modules:  # a page has the heap for a moment (app.lent)
                await asyncio.sleep_ms(_POLL_MS)
                continue
            try:
                gc.collect()  # garbage first, from this shallow stack (see app/web/server.py)
                from app.mqtt_link import connect
                problem = await connect(self)  # None: connected
                connect = None
                for name in _CONNECTING:  # not needed while connected, nor what it loaded
                    unload(name)
                unload_wait_for()  # (the connecting waited for the broker with it)
                if problem is None:
                    try:
                        await self._serve()
                    except Exception as e:  # noqa: BLE001 - the connection is over, whatever the reason
                        problem = e
                from app.mqtt_down import ended
                wait = ended(self, problem)  # (never 0)
            except MemoryError:  # no room for the connecting (or ending) code now: a failed attempt
                wait = 0
            connect = ended = None
            for name in _CONNECTING:
                unload(name)
            if wait == 0:
                # Said as far as there is room to say it (a MemoryError raised here would end the
                # MQTT task).
                unload_wait_for()
                self.close()
                gc.collect()
                wait = _NO_ROOM_MS
                try:
                    app.state.mqtt = "no room in the heap to connect (%d B free); retry in %d s" % (
                        gc.mem_free(), _NO_ROOM_MS // 1000)
                    if problem is not None:  # a connection ended, and the code saying why found no room
                        app.log.error("MQTT: the connection ended: %r" % (problem,))
                    app.log.error("MQTT: " + app.state.mqtt)
                except MemoryError:
                    pass
            problem = None
            if wait is None:
                return  # no umqtt.simple: said in the status and the log
            await asyncio.sleep_ms(wait)

    def _receive(self):
        """Whatever the broker sent, looked for without waiting (the socket is non-blocking for
        its first byte): a PINGRESP or a SUBACK is read here, with the timeout. True when a
        PUBLISH came (Home Assistant's status, the one topic subscribed to), for
        app/mqtt_discovery.py to read in a turn of publishing (its first byte peeked); else False
        when something came, None when nothing did."""
        if self.peeked is not None:  # one a turn had no room to read: still to be read
            return True
        heard = None
        while True:
            self.sock.setblocking(False)
            try:
                first = self.io.read(1)
            finally:
                self.sock.settimeout(IO_MS / 1000)
            if first is None:  # nothing (more) came
                return heard
            if not first:
                raise EOFError  # the broker closed the connection
            heard = False
            if first[0] & 0xF0 == 0x30:
                self.peeked = first
                return True
            n = read(self, 1)[0]  # PINGRESP: 0 bytes follow; SUBACK: 3 (QoS 0: nothing else comes)
            if n:
                read(self, n)

    async def _serve(self):
        """Publish until the connection ends (an exception says why): each reading, the raw
        frames, the discovery configs of sensors not announced yet; a ping now and then.

        Publishing is done by plain functions, between turns of this loop: a coroutine's
        frame stays in the heap, where what it last referred to (a reading, a module that was
        to be unloaded) would be kept alive."""
        heard_ms = pinged_ms = time.ticks_ms()  # when the broker last sent something; when pinged
        while True:
            message = self._receive()
            now = time.ticks_ms()
            if message is not None:
                heard_ms = now
            if time.ticks_diff(heard_ms, pinged_ms) < 0 and time.ticks_diff(now, pinged_ms) > ANSWER_MS:
                raise asyncio.TimeoutError  # no answer to a ping (in words: app/mqtt_down.py)
            if time.ticks_diff(now, pinged_ms) >= _PING_MS:
                self.write(b"\xc0\x00")  # PINGREQ
                self.flush()
                pinged_ms = now
            # (not while a page or a connection has the heap lent: its turn first)
            busy = not lent() and self._publish(message)
            await asyncio.sleep_ms(0 if busy else _POLL_MS)  # the meter's turn

    def _publish(self, message=False):
        """What the broker published (with `message`: its first byte peeked), the raw frames
        waiting, the latest reading if it is new (readings that came while the last was
        published, or while the broker was away, are skipped: the latest is what counts), then
        the discovery config of the next sensor not announced yet; False if there was nothing to
        do. Their code is loaded for this and unloaded after (unless it was loaded already):
        between readings it would only take room."""
        state = self.app.state
        frames = self.raw is not None and self.raw.end
        at = self.announced * SENSOR_SIZE  # the next sensor to announce, if it is learned (its unit is not 0)
        announce = isinstance(self.device, tuple) and at < _SENSOR_TABLE and self.sensors[at]
        if not message and not frames and state.readings == self.published and not announce:
            return False
        kept = 0  # bit i: _PUBLISHING[i] was loaded before this turn, by someone else (an int: no room)
        for i in range(len(_PUBLISHING)):
            if _PUBLISHING[i] in sys.modules:
                kept |= 1 << i
        self.packet_start = self.filled  # between turns every packet is whole
        reading = state.readings != self.published  # a MemoryError cuts short the reading (else discovery)
        try:
            try:
                if kept != (1 << len(_PUBLISHING)) - 1:
                    gc.collect()  # garbage first, from this shallow stack (see app/web/server.py)
                from app.mqtt_messages import publish_reading
                if message:
                    from app.mqtt_discovery import hear
                    hear(self)
                    message = False  # read whole: the stream is in step again
                if frames:
                    self.raw.publish(self)
                if reading:
                    self.published = state.readings
                    publish_reading(self, state.reading)
                at = self.announced * SENSOR_SIZE
                if isinstance(self.device, tuple) and at < _SENSOR_TABLE and self.sensors[at]:
                    reading = False  # published: what is cut short now is a discovery config
                    from app.mqtt_discovery import announce
                    announce(self)
            except MemoryError:
                # No room for the code or for a message: the packet cut short is taken back, and
                # the connection is sound unless part of it went into the socket already (or a
                # message from the broker was read in part). The reading's messages not sent yet
                # are skipped (the next reading goes out); a discovery config waits for a later
                # turn (unsaid: it is tried each turn); a message from the broker too.
                if self.packet_start < 0 or message and self.peeked is None:
                    raise
                self.filled = self.packet_start
                self.flush()
                if reading:
                    self.published = state.readings
                    state.mqtt_skipped += 1
                    try:  # (a MemoryError raised here would end the connection)
                        self.app.log.warning("MQTT: no room in the heap to publish (%d B free): a reading skipped"
                                             % gc.mem_free())
                    except MemoryError:
                        pass
                return False
        finally:
            for i in range(len(_PUBLISHING)):
                if not kept >> i & 1:
                    unload(_PUBLISHING[i])
        return True
