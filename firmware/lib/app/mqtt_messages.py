"""MQTT: publishing a message written in pieces, and what a reading publishes, as app/mqtt.py
describes it (the state message, the values that go to a topic of their own), and the Home
Assistant sensors it brings.

Loaded by app/mqtt.py for each new reading and unloaded after, with han.report and han.text
unless something else had loaded them (the web server's answering code): nothing here is needed
between two readings, and a reading comes every 2 to 10 s.
"""
from app.mqtt import SENSOR_SIZE, view
from app.mqtt_status import show
from han import report, text  # (modules, not their functions: fewer names in this module's globals)
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
_ENERGY = const((_WATT_HOUR, _VOLT_AMPERE_HOUR, _VAR_HOUR))  # published in k-units (kWh), as Home Assistant wants
# The DLMS units of the quantities Home Assistant gets a sensor for; app/mqtt_discovery.py has
# their classes in this order. Power factor (no unit) goes by its name.
SENSOR_UNITS = bytes((_WATT, _VAR, _VOLT_AMPERE, _WATT_HOUR, _VAR_HOUR, _VOLT_AMPERE_HOUR, _AMPERE, _VOLT, _HERTZ))


def publish(mqtt, topic, message, arguments=None, retain=False):
    """A PUBLISH at QoS 0 through `mqtt` (app.mqtt.Mqtt, connected), byte for byte as
    umqtt.simple's publish() writes it (tests/upy/test_mqtt_messages.py compares them; written
    here so that a turn of publishing needs no umqtt.simple). `message` is the payload (str or
    bytes), or with `arguments` a function that writes it in pieces: message(*arguments, write),
    run twice (measured, then written into the socket), so it is never whole in memory.
    mqtt.packet_start is where the packet starts in the buffer while it is written (app/mqtt.py's
    _publish takes back a packet cut short by a MemoryError), then where it ends."""
    mqtt.packet_start = mqtt.filled
    size = 0

    def count(piece):
        nonlocal size
        size += len(view(piece))  # UTF-8 bytes, not characters

    if arguments is None:
        count(message)
    else:
        message(*arguments, count)
    topic_size = len(view(topic))
    size += 2 + topic_size
    header = bytearray(6)  # the type and flags, the remaining length in 7-bit groups, the topic's length
    header[0] = 0x30 | retain
    at = 1
    while size > 0x7F:
        header[at] = size & 0x7F | 0x80
        size >>= 7
        at += 1
    header[at] = size
    header[at + 1] = topic_size >> 8
    header[at + 2] = topic_size & 0xFF
    mqtt.write(memoryview(header)[:at + 3])
    mqtt.write(topic)
    if arguments is None:
        mqtt.write(message)
    else:
        message(*arguments, mqtt.write)
    mqtt.packet_start = mqtt.filled


def value_text(v):
    """A value as the payload of its own topic: a number, or text without JSON quotes."""
    if isinstance(v, Quantity):  # energy in k-units
        return text.decimal_text(v.raw, v.scaler - 3 if v.unit in _ENERGY else v.scaler)
    if isinstance(v, DateTime):
        return text.iso(v) or v.raw.hex()
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return report.text_of(v)
    return report.value(v)


def value_topic(prefix, code, name):
    """PREFIX/power/import for "power_import"; PREFIX/obis/A.B.C.D.E.F for a code without name."""
    if name is None:
        return prefix + "/obis/" + text.obis_text(code)
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
        name = text.name(code)
        if name == "meter_id":
            if meter_id:
                name = None
            meter_id = True
        yield code, v, name


def write_state(reading, write):
    """The state message of a reading, in pieces through write(text)."""
    time = text.iso(reading.time) if reading.time is not None else None
    write('{"time": ')
    write(report.string(time) if time else "null")
    separator = ', "meter": {'
    for key, v in (("id", reading.meter_id), ("manufacturer", reading.manufacturer),
                   ("model", reading.model), ("list", reading.list_id)):
        if v:
            write(separator)
            write('"%s": %s' % (key, report.string(v)))
            separator = ", "
    if separator == ", ":
        write("}")
    for code, v, name in named(reading):
        write(', "%s": {"obis": "%s", "value": ' % (name or text.obis_text(code), text.obis_text(code)))
        if isinstance(v, Quantity):
            write(value_text(v))
            unit = text.symbol(v.unit)
            if unit:
                write(', "unit": ')
                write(report.string("k" + unit if v.unit in _ENERGY else unit))
        else:
            write(report.value(v))
        write("}")
    write("}")


def publish_reading(mqtt, reading):
    """Publish a new reading through `mqtt` (app.mqtt.Mqtt, connected): its state message and the
    values that go to a topic of their own; with discovery on, learn its sensors."""
    table = mqtt.sensors  # (None: discovery off)
    device = mqtt.device
    if table is not None and not isinstance(device, tuple):  # which meter this is: its number, or the chip's after a while
        if reading.meter_id or device >= _ID_WAIT_READINGS:
            mqtt.device = reading.meter_id, reading.manufacturer, reading.model
        else:
            mqtt.device = device + 1  # (until then, the readings that did not say)
    config = mqtt.app.config["mqtt"]
    prefix = config["prefix"]
    publish(mqtt, prefix + "/state", write_state, (reading,))
    sent = 1
    per_value = config["per_value"]
    for code, v, name in named(reading):
        sensor = table is not None and isinstance(v, Quantity) and is_sensor(name, v.unit)
        # A Home Assistant sensor not seen before is remembered in the table while there is room:
        # SENSOR_SIZE bytes a sensor, its DLMS unit (never 0: an entry whose unit is 0 is free),
        # then C, D, E of its OBIS code (what the friendly name depends on), in the order they were
        # seen. A Norwegian meter sends power every 2 s, voltages every 10 s and energy every
        # hour, so they come in over time.
        for at in range(0, len(table) if sensor else 0, SENSOR_SIZE):
            if not table[at]:
                table[at] = v.unit
                table[at + 1:at + SENSOR_SIZE] = code[2:5]
                break
            if table[at + 1] == code[2] and table[at + 2] == code[3] and table[at + 3] == code[4]:
                break
        if per_value or sensor:
            publish(mqtt, value_topic(prefix, code, name), value_text(v))
            sent += 1
    mqtt.flush()
    show(mqtt, None, sent)
