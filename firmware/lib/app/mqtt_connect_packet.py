"""MQTT: the CONNECT packet (client id, user, password, keepalive, last will), as umqtt.simple
builds it.

Loaded by app/mqtt_link.py for each connection attempt, with umqtt.simple, and unloaded before
the broker is waited for: umqtt.simple's connect() runs against a recorder standing in for the
socket module (no network), and the bytes it wrote are the packet.
"""
from binascii import hexlify

from app.mqtt_link import Down

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_KEEPALIVE_S = const(60)  # told to the broker, which drops a client silent for 1.5 times as long


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


def connect_packet(mqtt):
    """The CONNECT packet of `mqtt` (app.mqtt.Mqtt), made by umqtt.simple's client set up in full
    without its connect() touching the network: a recorder is its socket module meanwhile.
    ImportError: umqtt.simple is not installed."""
    import umqtt.simple as simple
    config = mqtt.app.config["mqtt"]
    user = config["user"].encode() if config["user"] else None
    client = simple.MQTTClient(b"hanreader-" + hexlify(mqtt.app.hal.unique_id()), mqtt.broker[0], mqtt.broker[1],
                               user, config["password"].encode() if user else None, _KEEPALIVE_S)
    client.set_last_will((config["prefix"] + "/status").encode(), b"offline", True)
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
