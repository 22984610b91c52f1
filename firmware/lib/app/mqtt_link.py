"""MQTT: connecting to the broker.

Loaded by app/mqtt.py for each connection attempt and unloaded once it is connected (or has
failed): nothing here is needed to publish. What it loads for a moment is unloaded before the
broker is waited for, so what the attempt holds while it waits is this module (and
app/mqtt_status.py).

  connect   the CONNECT packet made by app/mqtt_connect_packet.py (umqtt.simple's, which is let
            go before the broker is waited for); a non-blocking socket (TLS-wrapped with
            mqtt.tls); TCP and TLS get _CONNECT_MS, the CONNACK ANSWER_MS. Then "online"
            (retained) and the subscription to Home Assistant's status go out. What went wrong
            is put in words, the wait before the next attempt chosen, by app/mqtt_down.py.
  DNS       an IP address needs no lookup. A host name is looked up at the first connection and
            again after _RESOLVE_AFTER failures in a row; MicroPython's lookup blocks, for as long
            as the DNS server takes (seconds when it does not answer): give an IP address.

Beyond the IO_MS a socket operation may take, a TLS handshake holds the loop for its CPU time.
"""
import asyncio
from errno import EINPROGRESS

from app import unload
from app.mqtt import ANSWER_MS, IO_MS
from app.mqtt_status import show

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_CONNECT_MS = const(5000)
_RESOLVE_AFTER = const(5)


class Down(Exception):
    """The connection failed; the argument says why: words, or the return code of a CONNACK that
    refused it (app/mqtt_down.py has their words)."""


def subscribe_packet(topic, packet_id):
    """MQTT 3.1.1 SUBSCRIBE to one topic (bytes, < 120 long) at QoS 0. Built here because
    umqtt.simple's subscribe() waits for the broker's answer itself."""
    n = len(topic)
    return bytes((0x82, 5 + n, packet_id >> 8, packet_id & 0xFF, n >> 8, n & 0xFF)) + topic + b"\x00"


async def connect(mqtt):
    """One attempt to connect `mqtt` (app.mqtt.Mqtt) to its broker: None once it is connected,
    online and subscribed to Home Assistant's status; else what went wrong, for app/mqtt_down.py
    (an exception, words, a CONNACK's return code; ImportError itself: no umqtt.simple)."""
    try:
        from app.mqtt_connect_packet import connect_packet
        try:
            packet = connect_packet(mqtt)
        except ImportError:
            return ImportError  # MQTT cannot work at all: said by app/mqtt_down.py
        connect_packet = None
        unload("app.mqtt_connect_packet")  # its code and umqtt.simple's are not needed while the broker is waited for
        unload("umqtt.simple")
        sock, io, reply = await _open(mqtt, packet)
        mqtt.sock, mqtt.io = sock, io  # closed by app/mqtt_down.py's ended() from now on
        _accepted(mqtt, reply)
    except Down as e:
        return e.args[0]
    except Exception as e:  # noqa: BLE001 - whatever went wrong, try again later
        return e
    return None


async def _open(mqtt, packet):
    """A connection to the broker, CONNECT sent and the 4 bytes of its answer read: (socket, the
    stream over it, TLS or not, answer). (Its own function, as _accepted: code loaded in a
    scattered heap for each attempt comes in small pieces.)"""
    import socket
    host, port = mqtt.broker[0], mqtt.broker[1]
    show(mqtt, "connecting to %s:%d" % (host, port))
    if len(mqtt.broker) < 3 or (mqtt.failures and mqtt.failures % _RESOLVE_AFTER == 0):
        try:
            mqtt.broker = host, port, socket.getaddrinfo(host, port)[0][-1]
        except OSError:
            raise Down("no address found for %s (DNS)" % host)
    sock = socket.socket()
    sock.setblocking(False)
    io = sock
    try:
        try:
            sock.connect(mqtt.broker[2])
        except OSError as e:
            if e.args[0] != EINPROGRESS:
                raise
        if mqtt.app.config["mqtt"]["tls"]:
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.verify_mode = ssl.CERT_NONE  # no CA on the device: encrypted, not verified
            io = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
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
    if mqtt.peeked is not None:  # the last connection's (else the class's None: one attribute less)
        mqtt.peeked = None
    if reply[0] != 0x20 or reply[1] != 2:
        raise Down("not an MQTT broker (it answered %s)" % reply.hex())
    if reply[3]:
        raise Down(reply[3])
    mqtt.sock.settimeout(IO_MS / 1000)
    mqtt.failures = 0
    app = mqtt.app
    if app.state.mqtt_sent:  # connected before (its first message, "online", went out then)
        app.state.mqtt_reconnects += 1
    app.log.info("MQTT: connected to %s:%d" % (mqtt.broker[0], mqtt.broker[1]))
    if mqtt.raw is not None:
        mqtt.raw.end = 0  # frames from before are stale
    config = app.config["mqtt"]
    topic = (config["prefix"] + "/status").encode()  # (mqtt.prefix has at most 64 characters)
    mqtt.write(bytes((0x31, 2 + len(topic) + 6, 0, len(topic))) + topic + b"online")  # PUBLISH, retained
    if mqtt.sensors is not None:
        mqtt.write(subscribe_packet((config["discovery_prefix"] + "/status").encode(), 1))
    mqtt.flush()
    show(mqtt, None, 1)
    mqtt.announced = 0
