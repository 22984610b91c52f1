"""MQTT: publishing a message written in pieces, and what a reading publishes, as app/mqtt.py
describes it (the state message, the values that go to a topic of their own), and the Home
Assistant sensors it brings.

Loaded by app/mqtt.py for each new reading and unloaded after, with han.report and han.text
unless something else had loaded them (the web server's answering code): nothing here is needed
between two readings, and a reading comes every 2 to 10 s.
"""
from app.mqtt import MAX_SENSORS, SENSOR_SIZE, view
from han.report import string, text_of, value as json_value
from han.text import decimal_text, iso, obis_text, symbol
from han.text import name as friendly_name
from han.values import DateTime, Quantity

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_ID_WAIT_READINGS = const(20)  # readings without the meter's number before the chip id names the device
# DLMS units (han.values; consts here, so they take no room in this module's globals)
_WATT = const(27)
_VOLT_AMPERE = const(28)
_VAR = const(29)
_WATT_HOUR = const(30)
_VOLT_AMPERE_HOUR = const(31)
_VAR_HOUR = const(32)
_AMPERE = const(33)
_VOLT = const(35)
_HERTZ = const(44)
_NO_UNIT = const(255)
# The DLMS units of the quantities Home Assistant gets a sensor for; app/mqtt_discovery.py has
# their classes in this order. Power factor (no unit) goes by its name.
SENSOR_UNITS = bytes((_WATT, _VAR, _VOLT_AMPERE, _WATT_HOUR, _VAR_HOUR, _VOLT_AMPERE_HOUR, _AMPERE, _VOLT, _HERTZ))


def publish(mqtt, topic, function, arguments, retain=False):
    """Publish through `mqtt` (app.mqtt.Mqtt, connected) what function(*arguments, write) writes:
    measured first, then written again into the socket, never whole in memory."""
    size = 0

    def count(piece):
        nonlocal size
        size += len(view(piece))  # UTF-8 bytes, not characters

    function(*arguments, count)
    _start(mqtt, topic.encode(), size, retain)
    function(*arguments, mqtt.write)
    mqtt.packet_start = mqtt.filled


def publish_packet(mqtt, topic, message, retain=False):
    """A PUBLISH at QoS 0 into `mqtt`'s socket, byte for byte as umqtt.simple's publish() writes
    it (tests/upy/test_mqtt_messages.py compares them). Written here so that a turn of publishing
    needs no umqtt.simple: its code would be loaded for each reading."""
    _start(mqtt, topic, len(message), retain)
    mqtt.write(message)
    mqtt.packet_start = mqtt.filled


def _start(mqtt, topic, size, retain):
    """A PUBLISH's fixed header and topic, for a message of `size` bytes to follow; with
    mqtt.packet_start where it starts in the buffer while it is written (app/mqtt.py's _publish
    takes back a packet cut short by a MemoryError; publish() and publish_packet() set it past
    the packet once it is whole)."""
    mqtt.packet_start = mqtt.filled
    header = bytearray(4)  # the type and flags, the remaining length in 7-bit groups
    header[0] = 0x30 | retain
    size += 2 + len(topic)
    at = 1
    while size > 0x7F:
        header[at] = size & 0x7F | 0x80
        size >>= 7
        at += 1
    header[at] = size
    mqtt.write(header, at + 1)
    mqtt.write(bytes((len(topic) >> 8, len(topic) & 0xFF)))
    mqtt.write(topic)


def quantity(q):
    """(exact decimal text, unit symbol) of a Quantity as published: energy in k-units."""
    if q.unit in (_WATT_HOUR, _VOLT_AMPERE_HOUR, _VAR_HOUR):
        return decimal_text(q.raw, q.scaler - 3), "k" + symbol(q.unit)
    return decimal_text(q.raw, q.scaler), symbol(q.unit)


def value_text(v):
    """A value as the payload of its own topic: a number, or text without JSON quotes."""
    if isinstance(v, Quantity):
        return quantity(v)[0]
    if isinstance(v, DateTime):
        return iso(v) or v.raw.hex()
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return text_of(v)
    return json_value(v)


def value_topic(prefix, code, name):
    """PREFIX/power/import for "power_import"; PREFIX/obis/A.B.C.D.E.F for a code without name."""
    if name is None:
        return prefix + "/obis/" + obis_text(code)
    return prefix + "/" + name.replace("_", "/")


def is_sensor(name, unit):
    """Whether a quantity with this friendly name and DLMS unit makes a Home Assistant sensor."""
    return name is not None and isinstance(unit, int) and (
        unit in SENSOR_UNITS or unit == _NO_UNIT and name.startswith("power_factor"))


def named(reading):
    """(code, value, friendly name) for a reading's values; the name is None for a code without
    one, and for a second "meter_id", the one name three codes have (Kamstrup sends its number as
    0.0.5 and its type as 96.1.1): such a value goes by its OBIS code. (No list of the names
    taken: it grew to 256 B in one piece, which a scattered heap did not have in the middle of a
    state message, and the connection had to end.)"""
    meter_id = False
    codes = reading.codes
    values = reading.values
    for i in range(len(values)):
        code = codes[6 * i:6 * i + 6]
        v = values[i]
        name = friendly_name(code)
        if name == "meter_id":
            if meter_id:
                name = None
            meter_id = True
        yield code, v, name


def write_state(reading, write):
    """The state message of a reading, in pieces through write(text)."""
    time = iso(reading.time) if reading.time is not None else None
    write('{"time": ')
    write(string(time) if time else "null")
    separator = ', "meter": {'
    for key, v in (("id", reading.meter_id), ("manufacturer", reading.manufacturer),
                   ("model", reading.model), ("list", reading.list_id)):
        if v:
            write(separator)
            write('"%s": %s' % (key, string(v)))
            separator = ", "
    if separator == ", ":
        write("}")
    for code, v, name in named(reading):
        write(', "%s": {"obis": "%s", "value": ' % (name or obis_text(code), obis_text(code)))
        if isinstance(v, Quantity):
            number, unit = quantity(v)
            write(number)
            if unit:
                write(', "unit": ')
                write(string(unit))
        else:
            write(json_value(v))
        write("}")
    write("}")


def learn(table, count, reading):
    """Add the Home Assistant sensors of a reading not seen before to `table` (a bytearray of
    MAX_SENSORS, SENSOR_SIZE bytes each: C, D, E of the OBIS code, what the friendly name depends
    on, then the DLMS unit; in the order they were seen), which holds `count`: the new count.
    A Norwegian meter sends power every 2 s, voltages every 10 s and energy every hour, so they
    come in over time."""
    for code, v, name in named(reading):
        if count == MAX_SENSORS or not isinstance(v, Quantity) or not is_sensor(name, v.unit):
            continue
        c, d, e = code[2], code[3], code[4]
        for at in range(0, count * SENSOR_SIZE, SENSOR_SIZE):
            if table[at] == c and table[at + 1] == d and table[at + 2] == e:
                break
        else:
            at = count * SENSOR_SIZE
            table[at:at + 3] = code[2:5]
            table[at + 3] = v.unit
            count += 1
    return count


def publish_reading(mqtt, reading):
    """Publish a new reading through `mqtt` (app.mqtt.Mqtt, connected): its state message and the
    values that go to a topic of their own; with discovery on, learn its sensors first."""
    sensors = mqtt.sensors
    if sensors is not None:
        if mqtt.device is None:  # which meter this is: its number, or the chip's after a while
            if reading.meter_id or mqtt.readings_without_id >= _ID_WAIT_READINGS:
                mqtt.device = reading.meter_id, reading.manufacturer, reading.model
            else:
                mqtt.readings_without_id += 1
        mqtt.sensor_count = learn(sensors, mqtt.sensor_count, reading)
    config = mqtt.app.config["mqtt"]
    prefix = config["prefix"]
    publish(mqtt, prefix + "/state", write_state, (reading,))
    sent = 1
    per_value = config["per_value"]
    for code, v, name in named(reading):
        if per_value or sensors is not None and isinstance(v, Quantity) and is_sensor(name, v.unit):
            publish_packet(mqtt, value_topic(prefix, code, name).encode(), value_text(v).encode())
            sent += 1
    mqtt.flush()
    mqtt.show(None, sent)
