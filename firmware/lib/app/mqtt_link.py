"""MQTT: connecting to the broker, and what to do when the connection failed or ended.

Loaded by app/mqtt.py for each connection attempt and unloaded while it is connected: nothing
here is needed to publish.

  connect   a non-blocking socket (TLS-wrapped with mqtt.tls); TCP and TLS get _CONNECT_MS. The
            CONNECT packet is umqtt.simple's: its connect() runs against a recorder standing in
            for the socket module (no network), and umqtt.simple's code is let go before the
            broker is waited for; the recorded bytes go out through the loop and
            the CONNACK is awaited for at most ANSWER_MS. Then "online" (retained) and the
            subscription to Home Assistant's status go out.
  retry     _BACKOFF_MS doubled per failure up to _MAX_BACKOFF_MS, +-25 % at random (devices that
            lost the same broker do not come back all at once).
  DNS       an IP address needs no lookup. A host name is looked up at the first connection and
            again after _RESOLVE_AFTER failures in a row; MicroPython's lookup blocks, for as long
            as the DNS server takes (seconds when it does not answer): give an IP address.

Beyond the IO_MS a socket operation may take, a TLS handshake holds the loop for its CPU time.
"""
import asyncio
from binascii import hexlify
from errno import EAGAIN, ECONNREFUSED, ECONNRESET, EINPROGRESS, ETIMEDOUT
from random import getrandbits

from app import unload
from app.mqtt import ANSWER_MS, IO_MS

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_CONNECT_MS = const(5000)
_KEEPALIVE_S = const(60)  # told to the broker, which drops a client silent for 1.5 times as long
_BACKOFF_MS = const(1000)
_MAX_BACKOFF_MS = const(60000)
_RESOLVE_AFTER = const(5)
_REFUSED = const(("", "unacceptable protocol version", "client id rejected", "server unavailable",
                  "wrong user name or password (mqtt.user, mqtt.password)",
                  "not authorised (check mqtt.user and mqtt.password)"))  # CONNACK return codes 0-5


class Down(Exception):
    """The connection failed; the argument says why, in words."""


def backoff_ms(failures, rand8):
    """The wait after `failures` (>= 1) failures in a row; `rand8` (0-255) spreads it +-25 %."""
    base = min(_MAX_BACKOFF_MS, _BACKOFF_MS << min(failures - 1, 6))
    return base - base // 4 + base // 4 * rand8 // 128


def subscribe_packet(topic, packet_id):
    """MQTT 3.1.1 SUBSCRIBE to one topic (bytes, < 120 long) at QoS 0. Built here because
    umqtt.simple's subscribe() waits for the broker's answer itself."""
    n = len(topic)
    return bytes((0x82, 5 + n, packet_id >> 8, packet_id & 0xFF, n >> 8, n & 0xFF)) + topic + b"\x00"


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


def describe(problem):
    """Why a connection failed or ended, in words (`problem`: words already, or an exception)."""
    e = problem
    if isinstance(e, str):
        return e
    if isinstance(e, Down):
        return e.args[0]
    if isinstance(e, EOFError):
        return "the broker closed the connection"
    if isinstance(e, asyncio.TimeoutError):  # app/mqtt.py's, for a ping (CPython's is an OSError)
        return "the broker stopped answering (no reply to a ping in %d s)" % (ANSWER_MS // 1000)
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


def _client(mqtt):
    """umqtt.simple's client for connecting `mqtt` (app.mqtt.Mqtt), set up in full (id, user,
    password, keepalive, last will), or None when umqtt.simple is not installed. What the
    broker publishes is parsed by a client of its own (app/mqtt_discovery.py)."""
    try:
        from umqtt.simple import MQTTClient
    except ImportError:
        return None
    config = mqtt.app.config["mqtt"]
    user = config["user"].encode() if config["user"] else None
    host, port = mqtt.broker
    client = MQTTClient(b"hanreader-" + hexlify(mqtt.app.hal.unique_id()), host, port, user,
                        config["password"].encode() if user else None, _KEEPALIVE_S)
    client.set_last_will((config["prefix"] + "/status").encode(), b"offline", True)
    return client


async def connect(mqtt):
    """One attempt to connect `mqtt` (app.mqtt.Mqtt) to its broker: 0 once it is connected,
    online and subscribed to Home Assistant's status; else the wait before the next attempt
    (see ended()), or None when MQTT cannot work at all (no umqtt.simple)."""
    app = mqtt.app
    client = _client(mqtt)
    if client is None:
        app.state.mqtt = "umqtt.simple is not installed (make deploy installs it)"
        app.log.error("MQTT: " + app.state.mqtt)
        return None
    mqtt.problem = None
    try:
        packet = connect_packet(client)
        client = None
        unload("umqtt.simple")  # its code is not needed while the broker is waited for
        await _connect(mqtt, packet)
    except Exception as e:  # noqa: BLE001 - whatever went wrong, try again later
        mqtt.problem = mqtt.problem or e
        return ended(mqtt)
    return 0


async def _connect(mqtt, packet):
    sock, io, reply = await _open(mqtt, packet)
    mqtt.sock, mqtt.io = sock, io  # closed by ended() from now on
    _accepted(mqtt, reply)


async def _open(mqtt, packet):
    """A connection to the broker, CONNECT sent and the 4 bytes of its answer read: (socket, the
    stream over it, TLS or not, answer). (Its own function, as _accepted: code loaded in a
    scattered heap for each attempt comes in small pieces.)"""
    import socket
    mqtt.show("connecting to %s:%d" % mqtt.broker)
    if mqtt.address is None or (mqtt.failures and mqtt.failures % _RESOLVE_AFTER == 0):
        try:
            mqtt.address = socket.getaddrinfo(*mqtt.broker)[0][-1]
        except OSError:
            raise Down("no address found for %s (DNS)" % mqtt.broker[0])
    sock = socket.socket()
    sock.setblocking(False)
    io = sock
    try:
        try:
            sock.connect(mqtt.address)
        except OSError as e:
            if e.args[0] != EINPROGRESS:
                raise
        if mqtt.app.config["mqtt"]["tls"]:
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.verify_mode = ssl.CERT_NONE  # no CA on the device: encrypted, not verified
            io = context.wrap_socket(sock, server_hostname=mqtt.broker[0], do_handshake_on_connect=False)
            io.setblocking(False)
        stream = asyncio.StreamReader(io)
        stream.write(packet)
        try:
            await asyncio.wait_for_ms(stream.drain(), _CONNECT_MS)  # connected, CONNECT sent
        except asyncio.TimeoutError:
            raise Down("no connection within %d s" % (_CONNECT_MS // 1000))
        try:
            reply = await asyncio.wait_for_ms(stream.readexactly(4), ANSWER_MS)
        except asyncio.TimeoutError:
            raise Down("the broker accepted the connection but did not answer within %d s"
                       % (ANSWER_MS // 1000))
    except BaseException:
        for s in (io, sock):
            s.close()
        raise
    return sock, io, reply


def _accepted(mqtt, reply):
    """The broker's CONNACK `reply` checked; then online: "online" published, Home Assistant's
    status subscribed to (with discovery on)."""
    mqtt.filled = 0
    mqtt.peeked = None
    if reply[0] != 0x20 or reply[1] != 2:
        raise Down("not an MQTT broker (it answered %s)" % hexlify(reply).decode())
    if reply[3]:
        code = reply[3]
        raise Down("the broker refused the connection: " + (_REFUSED[code] if code < len(_REFUSED)
                                                            else "code %d" % code))
    mqtt.sock.settimeout(IO_MS / 1000)
    mqtt.failures = 0
    app = mqtt.app
    if app.state.mqtt_sent:  # connected before (its first message, "online", went out then)
        app.state.mqtt_reconnects += 1
    app.log.info("MQTT: connected to %s:%d" % mqtt.broker)
    if mqtt.raw is not None:
        mqtt.raw.end = 0  # frames from before are stale
    config = app.config["mqtt"]
    topic = (config["prefix"] + "/status").encode()  # (mqtt.prefix has at most 64 characters)
    mqtt.write(bytes((0x31, 2 + len(topic) + 6, 0, len(topic))) + topic + b"online")  # PUBLISH, retained
    if mqtt.sensors is not None:
        mqtt.write(subscribe_packet((config["discovery_prefix"] + "/status").encode(), 1))
    mqtt.flush()
    mqtt.show(None, 1)
    mqtt.announced = 0


def ended(mqtt):
    """After a failed attempt or the end of a connection: closes the socket, says why (state,
    log), counts the failure; the wait before the next attempt."""
    mqtt.close()
    app = mqtt.app
    problem = describe(mqtt.problem)
    mqtt.failures += 1
    wait = backoff_ms(mqtt.failures, getrandbits(8))
    if problem != app.state.mqtt_error:  # a failure repeated is not logged again
        app.log.warning("MQTT %s:%d: %s; trying again in %d s, then less often"
                        % (mqtt.broker[0], mqtt.broker[1], problem, (wait + 500) // 1000))
    app.state.mqtt_error = problem
    mqtt.show("down: %s; retry in %d s" % (problem, (wait + 500) // 1000))
    return wait
