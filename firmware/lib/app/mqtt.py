"""MQTT: every reading to a broker, Home Assistant discovery, and no wait the meter would feel.

umqtt.simple (micropython-lib; frozen into the official ESP32 firmware or installed by `make
deploy`; PyPI's 1.3.4 under the unix port) builds the MQTT packets. Its own socket calls block
(a silent broker held the loop for seconds: shared notes, platform §4), so every wait is done
here, by the event loop:

  connect   a non-blocking socket (TLS-wrapped with mqtt.tls); TCP and TLS get CONNECT_MS. The
            CONNECT packet is umqtt.simple's: its connect() runs against a recorder standing in
            for the socket module (no network), the recorded bytes go out through the loop and
            the CONNACK is awaited for at most ANSWER_MS.
  then      umqtt.simple gets a Connection as its socket: what it writes collects in a small
            buffer that goes into the socket with an IO_MS timeout. A message is never whole in
            memory (Payload: rendered once to measure it, again into the socket). What the broker
            sends is awaited by the loop and only then parsed by umqtt.simple (wait_msg).
  alive     a PINGREQ every PING_MS; nothing back within ANSWER_MS: the broker is gone.
  QoS 0     nothing ever waits for an acknowledgement.
  retry     BACKOFF_MS doubled per failure up to MAX_BACKOFF_MS, +-25 % at random (devices that
            lost the same broker do not come back all at once).
  DNS       an IP address needs no lookup. A host name is looked up at the first connection and
            again after RESOLVE_AFTER failures in a row; MicroPython's lookup blocks, for as long
            as the DNS server takes (seconds when it does not answer): give an IP address.

So a broker can hold the loop for IO_MS at most per socket operation (a write into a full send
buffer, then the connection is dropped), plus the CPU time of a TLS handshake. Topics and
payloads: app/mqtt_messages.py. state.mqtt says in one line what is going on.
"""
import asyncio
import time
from binascii import hexlify
from errno import EAGAIN, ECONNREFUSED, ECONNRESET, EINPROGRESS, ETIMEDOUT
from random import getrandbits

from app import mqtt_messages as messages
from app.names import name as friendly_name
from han.values import Quantity

CONNECT_MS = 5000
ANSWER_MS = 5000
IO_MS = 250
PING_MS = 10000
KEEPALIVE_S = 60        # told to the broker, which drops a client silent for 1.5 times as long
BACKOFF_MS = 1000
MAX_BACKOFF_MS = 60000
RESOLVE_AFTER = 5
ID_WAIT_READINGS = 20   # readings without the meter's number before the chip id names the device
WRITE_CHUNK = 256       # bytes collected before they go into the socket
RAW_BUFFER = 2048       # frames waiting for the raw topic, 2 bytes of length each; more are dropped
BURST = 8               # messages published before the meter gets a turn
LINK_LAYERS = ("hdlc", "mbus", "dsmr", "ciphered")  # trace layers that are whole frames
_REFUSED = ("", "unacceptable protocol version", "client id rejected", "server unavailable",
            "wrong user name or password (mqtt.user, mqtt.password)",
            "not authorised (check mqtt.user and mqtt.password)")  # CONNACK return codes 0-5


def backoff_ms(failures, rand8):
    """The wait after `failures` (>= 1) failures in a row; `rand8` (0-255) spreads it +-25 %."""
    base = min(MAX_BACKOFF_MS, BACKOFF_MS << min(failures - 1, 6))
    return base - base // 4 + base // 4 * rand8 // 128


def subscribe_packet(topic, packet_id):
    """MQTT 3.1.1 SUBSCRIBE to one topic (bytes, < 120 long) at QoS 0. Built here because
    umqtt.simple's subscribe() waits for the broker's answer itself."""
    n = len(topic)
    return bytes((0x82, 5 + n, packet_id >> 8, packet_id & 0xFF, n >> 8, n & 0xFF)) + topic + b"\x00"


def _view(piece):
    """A piece of a message as bytes, not copied where it need not be (MicroPython's str has the
    buffer protocol, CPython's has not)."""
    try:
        return memoryview(piece)
    except TypeError:
        return memoryview(piece.encode())


def _hex(data, write):
    for at in range(0, len(data), 64):
        write(hexlify(data[at:at + 64]))


class Down(Exception):
    """The connection failed or ended; the argument says why, in words."""


class Payload:
    """A message for umqtt.simple's publish() that is never whole in memory: function(*args,
    write) writes it in pieces. len() comes from a first rendering that only counts bytes;
    Connection.write renders it again, into the socket."""

    def __init__(self, function, *args):
        self.function = function
        self.args = args
        self.size = 0
        function(*args, self._count)

    def _count(self, piece):
        self.size += len(_view(piece))  # UTF-8 bytes, not characters

    def __len__(self):
        return self.size


class _Recorder:
    """Stands in for the socket module inside umqtt.simple while its connect() builds the CONNECT
    packet: keeps what it writes and answers as a broker that accepts. Touches no network."""

    def __init__(self):
        self.packet = bytearray()

    def socket(self, *args):
        return self

    def getaddrinfo(self, *args):
        return ((0, 0, 0, "", None),)

    def settimeout(self, *args):
        pass

    setblocking = connect = close = settimeout

    def write(self, data, length=None):
        self.packet.extend(data if length is None else memoryview(data)[:length])

    def read(self, n):
        return b"\x20\x02\x00\x00"[:n]  # CONNACK: session not present, accepted


def connect_packet(client):
    """The CONNECT packet umqtt.simple's `client` sends (will, user, password, keepalive and all),
    without its connect() touching the network: a recorder is its socket module meanwhile."""
    import umqtt.simple as simple
    recorder = _Recorder()
    real = simple.socket
    simple.socket = recorder
    try:
        client.connect()
    finally:
        simple.socket = real
    if not recorder.packet:
        raise Down("this umqtt.simple builds its CONNECT another way: not supported")
    return recorder.packet


class Connection:
    """What umqtt.simple is given as its socket once the broker has accepted the connection.

    Writes collect in WRITE_CHUNK bytes and go into the socket with its IO_MS timeout (flush()
    after each batch); a socket that takes less than all of it ends the connection. Reads are
    only asked for once the event loop has seen the first byte of a packet (`peeked`)."""

    def __init__(self, sock, stream):
        self.sock = sock          # the TCP socket: its timeout bounds every operation
        self.stream = stream      # asyncio stream over `io`, for waiting
        self.io = stream.s        # read and written: the socket, or its TLS wrapper
        self.chunk = bytearray(WRITE_CHUNK)
        self.view = memoryview(self.chunk)
        self.filled = 0
        self.peeked = None
        sock.settimeout(IO_MS / 1000)

    def write(self, data, length=None):
        if isinstance(data, Payload):
            data.function(*data.args, self._put)
        else:
            self._put(data if length is None else memoryview(data)[:length])

    def _put(self, piece):
        view = _view(piece)
        n = len(view)
        if self.filled + n > WRITE_CHUNK:
            self.flush()
            if n > WRITE_CHUNK:
                self._send(view)
                return
        self.view[self.filled:self.filled + n] = view
        self.filled += n

    def flush(self):
        if self.filled:
            n = self.filled
            self.filled = 0
            self._send(self.view[:n])

    def _send(self, view):
        sent = self.io.write(view)
        if sent != len(view):  # None or short: the broker took no data for IO_MS
            raise OSError(ETIMEDOUT)

    def read(self, n):
        first = self.peeked
        if first is not None:
            self.peeked = None
            if n == 1:
                return first
            n -= 1
        data = self.io.read(n)
        if not data:
            raise Down("the broker closed the connection")
        if len(data) < n:  # the rest of the packet did not come within IO_MS
            raise OSError(ETIMEDOUT)
        return data if first is None else first + data

    def skip(self):
        """Read past a packet umqtt.simple only named (a SUBACK): its length, then its body."""
        size = shift = 0
        while True:
            b = self.read(1)[0]
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        while size:
            size -= len(self.read(min(size, 64)))

    def setblocking(self, flag):
        pass  # umqtt.simple's wait_msg asks for blocking reads: the timeout stays

    def close(self):
        for s in (self.io, self.sock):
            try:
                s.close()
            except OSError:
                pass


def describe(e):
    """Why a connection failed or ended, in words."""
    if isinstance(e, Down):
        return e.args[0]
    if isinstance(e, EOFError):
        return "the broker closed the connection"
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        code = e.args[0]
        if code == ECONNREFUSED:
            return "connection refused"
        if code == ECONNRESET:
            return "connection reset"
        if code in (ETIMEDOUT, EAGAIN):
            return "the broker took no data for %d ms" % IO_MS
    if isinstance(e, OSError):  # TLS errors are negative codes, with the name of the error
        return "network error " + " ".join(str(a) for a in e.args)
    return "%s %s" % (type(e).__name__, e)


class Mqtt:
    def __init__(self, app, host, port):
        config = app.config["mqtt"]
        self.hal = app.hal
        self.state = app.state
        self.log = app.log
        self.wifi = app.wifi
        self.config = config
        self.host, self.port = host, port
        self.where = "%s:%d" % (host, port)
        self.prefix = config["prefix"]
        self.status_topic = (self.prefix + "/status").encode()
        self.ha_status = (config["discovery_prefix"] + "/status").encode()
        self.client = None
        self.address = None       # the broker's address, looked up rarely (see RESOLVE_AFTER)
        self.failures = 0         # failed connections in a row
        self.connections = 0
        self.wake = asyncio.Event()
        self.pending = None       # the latest reading, until it is published
        self.problem = None       # why the current connection ends (from the receiving task)
        self.heard_ms = 0         # ticks when the broker last sent something
        self.sensors = messages.Sensors() if config["discovery"] else None
        self.device = None        # messages.device(), once a reading says which meter this is
        self.readings_without_id = 0
        self.announced = 0        # sensors announced to Home Assistant on this connection
        self.raw = bytearray(RAW_BUFFER) if config["raw"] else None
        self.raw_start = self.raw_end = 0
        self.raw_dropped = 0
        app.state.listeners.append(self.reading)
        if self.raw is not None and app.meter is not None:
            app.meter.frames = self.frame

    # Called by the meter task: they only take note, and wake the MQTT task.

    def reading(self, reading):
        self.pending = reading
        self.wake.set()

    def frame(self, layer, view):
        if layer not in LINK_LAYERS:
            return
        n = len(view)
        end = self.raw_end
        if end + 2 + n > RAW_BUFFER:
            self.raw_dropped += 1
            return
        raw = self.raw
        raw[end] = n >> 8
        raw[end + 1] = n & 0xFF
        raw[end + 2:end + 2 + n] = view
        self.raw_end = end + 2 + n
        self.wake.set()

    def _message(self, topic, message):
        """umqtt.simple's callback for what the broker sends us: Home Assistant's birth message."""
        if topic == self.ha_status and message == b"online":
            self.log.info("MQTT: Home Assistant (re)started: announcing the sensors again")
            self.announced = 0
            self.wake.set()

    def _show(self, what):
        state = self.state
        text = "%s; %d messages sent, %d reconnect%s" % (what, state.mqtt_sent, state.mqtt_reconnects,
                                                        "" if state.mqtt_reconnects == 1 else "s")
        if state.mqtt_error and what.startswith("connected"):
            text += "; last error: " + state.mqtt_error
        state.mqtt = text

    def _sent(self, n):
        self.state.mqtt_sent += n
        self._show("connected to " + self.where)

    async def run(self):
        try:
            from umqtt.simple import MQTTClient
        except ImportError:
            self.state.mqtt = "umqtt.simple is not installed (make deploy installs it)"
            self.log.error("MQTT: " + self.state.mqtt)
            return
        config = self.config
        user = config["user"].encode() if config["user"] else None
        self.client = client = MQTTClient(b"hanreader-" + hexlify(self.hal.unique_id()), self.host,
                                          self.port, user, config["password"].encode() if user else None,
                                          KEEPALIVE_S)
        client.set_last_will(self.status_topic, b"offline", True)
        client.set_callback(self._message)
        last_problem = None
        while True:
            if not self.wifi.up:
                self.state.mqtt = "waiting for Wi-Fi"
                await asyncio.sleep_ms(1000)
                continue
            self._show("connecting to " + self.where)
            connection = None
            try:
                connection = await self._connect()
                await self._serve(connection)
                problem = self.problem
            except Exception as e:  # noqa: BLE001 - whatever went wrong, try again later
                problem = self.problem or describe(e)
            finally:
                if connection is not None:
                    connection.close()
            self.failures += 1
            wait = backoff_ms(self.failures, getrandbits(8))
            self.state.mqtt_error = problem
            if problem != last_problem:
                self.log.warning("MQTT %s: %s; trying again in %d s, then less often"
                                 % (self.where, problem, (wait + 500) // 1000))
                last_problem = problem
            self._show("down: %s; retry in %d s" % (problem, (wait + 500) // 1000))
            await asyncio.sleep_ms(wait)

    async def _connect(self):
        import socket
        self.problem = None
        if self.address is None or (self.failures and self.failures % RESOLVE_AFTER == 0):
            try:
                self.address = socket.getaddrinfo(self.host, self.port)[0][-1]
            except OSError:
                raise Down("no address found for %s (DNS)" % self.host)
        packet = connect_packet(self.client)
        sock = socket.socket()
        sock.setblocking(False)
        io = sock
        try:
            try:
                sock.connect(self.address)
            except OSError as e:
                if e.args[0] != EINPROGRESS:
                    raise
            if self.config["tls"]:
                import ssl
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.verify_mode = ssl.CERT_NONE  # no CA on the device: encrypted, not verified
                io = context.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
                io.setblocking(False)
            stream = asyncio.StreamReader(io)
            stream.write(packet)
            try:
                await asyncio.wait_for_ms(stream.drain(), CONNECT_MS)  # connected, CONNECT sent
            except asyncio.TimeoutError:
                raise Down("no connection within %d s" % (CONNECT_MS // 1000))
            try:
                reply = await asyncio.wait_for_ms(stream.readexactly(4), ANSWER_MS)
            except asyncio.TimeoutError:
                raise Down("the broker accepted the connection but did not answer within %d s"
                           % (ANSWER_MS // 1000))
        except BaseException:
            for s in (io, sock):
                s.close()
            raise
        if reply[0] != 0x20 or reply[1] != 2:
            raise Down("not an MQTT broker (it answered %s)" % hexlify(reply).decode())
        if reply[3]:
            code = reply[3]
            raise Down("the broker refused the connection: " + (_REFUSED[code] if code < len(_REFUSED)
                                                                else "code %d" % code))
        connection = Connection(sock, stream)
        self.client.sock = connection
        return connection

    async def _serve(self, connection):
        """Publish until the connection ends (self.problem says why)."""
        client = self.client
        self.failures = 0
        self.connections += 1
        if self.connections > 1:
            self.state.mqtt_reconnects += 1
        self.log.info("MQTT: connected to %s" % self.where)
        self.raw_start = self.raw_end = 0  # frames from before are stale
        receiver = asyncio.create_task(self._receive(connection))
        try:
            client.publish(self.status_topic, b"online", True)
            if self.sensors is not None:
                connection.write(subscribe_packet(self.ha_status, 1))
            connection.flush()
            self._sent(1)
            self.announced = 0
            self.heard_ms = pinged_ms = time.ticks_ms()
            while self.problem is None:
                now = time.ticks_ms()
                if time.ticks_diff(self.heard_ms, pinged_ms) < 0 and time.ticks_diff(now, pinged_ms) > ANSWER_MS:
                    self.problem = "the broker stopped answering (no reply to a ping in %d s)" % (
                        ANSWER_MS // 1000)
                    break
                if time.ticks_diff(now, pinged_ms) >= PING_MS:
                    client.ping()
                    connection.flush()
                    pinged_ms = now
                if await self._publish_pending(connection):
                    continue
                self.wake.clear()
                try:
                    await asyncio.wait_for_ms(self.wake.wait(), 1000)
                except asyncio.TimeoutError:
                    pass
        finally:
            receiver.cancel()

    async def _receive(self, connection):
        """What the broker sends: waited for here, parsed by umqtt.simple once it has begun."""
        try:
            while True:
                first = await connection.stream.read(1)
                if not first:
                    raise Down("the broker closed the connection")
                self.heard_ms = time.ticks_ms()
                connection.peeked = first
                if self.client.wait_msg() is not None:  # a PUBLISH goes to _message; a PINGRESP is None
                    connection.skip()
        except Exception as e:  # noqa: BLE001 - the connection is over, whatever the reason
            if self.problem is None:
                self.problem = describe(e)
            self.wake.set()

    async def _publish_pending(self, connection):
        """Publish what waits: the latest reading, raw frames, one sensor's discovery config.
        True if there was anything."""
        busy = False
        reading = self.pending
        if reading is not None:
            self.pending = None
            await self._publish_reading(connection, reading)
            busy = True
        if self.raw is not None and self.raw_start < self.raw_end:
            self._publish_frames(connection)
            busy = True
        if self.device is not None and self.announced < self.sensors.count:  # one sensor at a time
            code, unit = self.sensors.entry(self.announced)
            topic = messages.discovery_topic(self.config["discovery_prefix"], self.device[0], friendly_name(code))
            self.client.publish(topic.encode(), Payload(messages.write_discovery, code, unit, self.device,
                                                        self.prefix), True)
            connection.flush()
            self._sent(1)
            self.announced += 1
            busy = True
        if busy:
            await asyncio.sleep_ms(0)  # the meter's turn
        return busy

    async def _publish_reading(self, connection, reading):
        sensors = self.sensors
        if sensors is not None:
            if self.device is None:  # which meter this is: its number, or the chip's after a while
                if reading.meter_id or self.readings_without_id >= ID_WAIT_READINGS:
                    self.device = messages.device(reading, self.hal.unique_id())
                else:
                    self.readings_without_id += 1
            sensors.learn(reading)
        client = self.client
        client.publish((self.prefix + "/state").encode(), Payload(messages.write_state, reading))
        sent = 1
        for code, v, name in messages.named(reading.items):
            if not self.config["per_value"] and (
                    sensors is None or name is None or not isinstance(v, Quantity) or sensors.find(code) < 0):
                continue
            topic = messages.value_topic(self.prefix, code, name)
            client.publish(topic.encode(), messages.value_text(v).encode())
            sent += 1
            if sent % BURST == 0:
                connection.flush()
                await asyncio.sleep_ms(0)
        connection.flush()
        self._sent(sent)

    def _publish_frames(self, connection):
        raw = self.raw
        view = memoryview(raw)
        topic = (self.prefix + "/raw").encode()
        sent = 0
        while self.raw_start < self.raw_end:
            at = self.raw_start
            n = raw[at] << 8 | raw[at + 1]
            self.client.publish(topic, Payload(_hex, view[at + 2:at + 2 + n]))
            self.raw_start = at + 2 + n
            sent += 1
        self.raw_start = self.raw_end = 0
        connection.flush()
        self._sent(sent)
