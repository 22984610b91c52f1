"""Home Assistant MQTT discovery: one config per sensor the meter reports, published retained to

    DISCOVERY/sensor/NODE/NAME/config

(DISCOVERY = mqtt.discovery_prefix, NODE = "hanreader_" + the meter's number, NAME its friendly
name). Loaded by app/mqtt.py to announce a sensor it learned (on connect, on Home Assistant's
birth message, for a sensor seen first) or to hear Home Assistant's status (that birth message),
and unloaded after. Configs are written in pieces through
`write(text)`, never built whole.
"""
from app.mqtt import SENSOR_SIZE, read
from app.mqtt_messages import SENSOR_UNITS, is_sensor, publish, value_topic
from app.mqtt_status import show
from han.text import name as friendly_name
from han.report import string

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# device_class, state_class and unit_of_measurement for each unit of app.mqtt_messages.SENSOR_UNITS,
# in its order ("-": no device class: recent Home Assistant versions know "reactive_energy", older
# ones nothing). Power factor (no unit) goes by name.
_PIECE = const(64)  # bytes of a topic or payload read at a time (hear)
_CLASSES = const(("power measurement W", "reactive_power measurement var", "apparent_power measurement VA",
                  "energy total_increasing kWh", "- total_increasing kvarh", "- total_increasing kVAh",
                  "current measurement A", "voltage measurement V", "frequency measurement Hz"))


def ha_class(name, unit):
    """(device_class, state_class, unit_of_measurement) for a Home Assistant sensor, or None
    when a value with this name and DLMS unit makes no sensor."""
    if not is_sensor(name, unit):
        return None
    if unit not in SENSOR_UNITS:
        return "power_factor", "measurement", None
    device_class, state_class, symbol = _CLASSES[SENSOR_UNITS.index(unit)].split()
    return None if device_class == "-" else device_class, state_class, symbol


def display_name(name):
    """"power_import_l1" -> "Power import L1", as Home Assistant shows a sensor."""
    # Slices and bytes here, not characters: MicroPython interns every character taken out of a
    # str (str[i], iterating) as a name, for good.
    words = name.split("_")
    for i in range(len(words)):
        word = words[i]
        if len(word) == 2 and word.startswith("l") and word[1:] in "123":
            words[i] = word.upper()
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def node_id(meter_id, unique_id):
    """The Home Assistant device's id: "hanreader_" and the meter's number (ASCII letters, digits
    and "_" only, as discovery topics need), or the board's chip id for a meter that sends none."""
    if meter_id:
        number = bytearray(meter_id.encode())  # bytes, not characters (see display_name)
        for i in range(len(number)):
            b = number[i]
            if not (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A):  # 0-9, A-Z, a-z
                number[i] = 0x5F  # "_"
        return "hanreader_" + number.decode()
    return "hanreader_" + "".join("%02x" % b for b in unique_id)


def device(meter, unique_id):
    """Who the Home Assistant device is, from `meter` = (number, manufacturer, model) as a
    reading says them: (node id, meter number, manufacturer, model)."""
    meter_id, manufacturer, model = meter
    return node_id(meter_id, unique_id), meter_id, manufacturer, model


def sensor(table, i):
    """(OBIS code, DLMS unit) of sensor `i` of the table app.mqtt_messages.publish_reading()
    fills: a code with A, B = 0 and F = 255, which names the same."""
    at = i * SENSOR_SIZE
    return b"\0\0" + bytes(table[at + 1:at + SENSOR_SIZE]) + b"\xff", table[at]


def discovery_topic(discovery_prefix, node, name):
    return "%s/sensor/%s/%s/config" % (discovery_prefix, node, name)


def write_discovery(code, unit, device, prefix, write):
    """The Home Assistant discovery config of one sensor, in pieces; `device` as device() makes it."""
    node, meter_id, manufacturer, model = device
    name = friendly_name(code)
    device_class, state_class, unit_text = ha_class(name, unit)
    write('{"name": %s, "unique_id": "%s_%s", "state_topic": %s, "availability_topic": %s'
          % (string(display_name(name)), node, name, string(value_topic(prefix, code, name)),
             string(prefix + "/status")))
    if device_class:
        write(', "device_class": "%s"' % device_class)
    write(', "state_class": "%s"' % state_class)
    if unit_text:
        write(', "unit_of_measurement": "%s"' % unit_text)
    write(', "device": {"identifiers": ["%s"], "name": %s' % (
        node, string((manufacturer + " meter") if manufacturer else "Electricity meter")))
    for key, v in (("manufacturer", manufacturer), ("model", model), ("serial_number", meter_id)):
        if v:
            write(', "%s": %s' % (key, string(v)))
    write('}, "origin": {"name": "hanreader"}}')


def announce(mqtt):
    """Publish the config of the next sensor `mqtt` (app.mqtt.Mqtt, connected) learned and has
    not announced on this connection yet."""
    this = device(mqtt.device, mqtt.app.hal.unique_id())
    code, unit = sensor(mqtt.sensors, mqtt.announced)
    config = mqtt.app.config["mqtt"]
    publish(mqtt, discovery_topic(config["discovery_prefix"], this[0], friendly_name(code)), write_discovery,
            (code, unit, this, config["prefix"]), True)
    mqtt.flush()
    show(mqtt, None, 1)
    mqtt.announced += 1


def hear(mqtt):
    """What the broker published to `mqtt` (app.mqtt.Mqtt, connected: its first byte peeked),
    read to its end (in pieces of _PIECE bytes at most): Home Assistant's status, the one topic app/mqtt_link.py subscribed to, at QoS 0
    (no packet id). umqtt.simple's wait_msg() reads a PUBLISH so; it is not loaded for this."""
    read(mqtt, 1)
    size = shift = 0  # the remaining length, in 7-bit groups
    while True:
        b = read(mqtt, 1)[0]
        size |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    n = read(mqtt, 2)
    n = n[0] << 8 | n[1]
    size -= 2 + n
    while n > 0:  # the topic: read in pieces, never whole in the heap (a broker may send any)
        n -= len(read(mqtt, min(n, _PIECE)))
    if size == 6:
        online = read(mqtt, 6) == b"online"
    else:
        online = False
        while size > 0:  # any other payload: in pieces too
            size -= len(read(mqtt, min(size, _PIECE)))
    if online:
        # Home Assistant's birth message: it wants the sensors announced again
        mqtt.app.log.info("MQTT: Home Assistant (re)started: announcing the sensors again")
        mqtt.announced = 0
