"""MQTT: each frame from the meter as hex on PREFIX/raw (mqtt.raw, for remote debugging).

Loaded by app/mqtt.py only when mqtt.raw is on. The meter task hands over every layer's bytes
(app.meter.Meter.frames); whole frames wait in one preallocated buffer until the MQTT task
publishes them. Frames from before a connection are stale: dropped when it is made.
"""
from binascii import hexlify

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_BUFFER = const(2048)  # frames waiting, 2 bytes of length each; more are dropped (counted)
_LINK_LAYERS = const(("hdlc", "mbus", "dsmr", "ciphered"))  # trace layers that are whole frames


def _hex(data, write):
    for at in range(0, len(data), 64):
        write(hexlify(data[at:at + 64]))


class Raw:
    def __init__(self):
        self.buffer = bytearray(_BUFFER)
        self.end = 0
        self.dropped = 0

    def frame(self, layer, view):
        """The meter task's hook: keep a whole frame for the raw topic."""
        if layer not in _LINK_LAYERS:
            return
        n = len(view)
        end = self.end
        if end + 2 + n > _BUFFER:
            self.dropped += 1
            return
        buffer = self.buffer
        buffer[end] = n >> 8
        buffer[end + 1] = n & 0xFF
        buffer[end + 2:end + 2 + n] = view
        self.end = end + 2 + n

    def publish(self, mqtt):
        """Publish the frames waiting through `mqtt` (app.mqtt.Mqtt, connected; app/mqtt.py has
        app/mqtt_messages.py loaded meanwhile)."""
        from app.mqtt_messages import publish
        from app.mqtt_status import show
        buffer = self.buffer
        view = memoryview(buffer)
        topic = mqtt.app.config["mqtt"]["prefix"] + "/raw"
        at = sent = 0
        while at < self.end:
            n = buffer[at] << 8 | buffer[at + 1]
            publish(mqtt, topic, _hex, (view[at + 2:at + 2 + n],))
            at += 2 + n
            sent += 1
        self.end = 0
        mqtt.flush()
        show(mqtt, None, sent)
