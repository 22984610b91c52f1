"""What MQTT publishes: topics, payloads, Home Assistant discovery configs. Pure: no I/O.

Every payload is written in pieces through `write(text)`: no message is ever built whole
(app/mqtt.py streams the pieces into the socket). Topics, with PREFIX = mqtt.prefix:

    PREFIX/status             "online" (retained) on connect; "offline" (retained) is the last will
    PREFIX/state              one JSON message per reading (below)
    PREFIX/power/import ...   one value per topic, its exact number as text (energy in kWh): the
                              friendly name with "/" for "_"; a code without a name goes to
                              PREFIX/obis/1.0.99.1.0.255. All values with mqtt.per_value; with
                              discovery on, always those of the Home Assistant sensors (they read
                              their topic: a sensor whose value a reading lacks keeps its state).
    PREFIX/raw                each frame from the meter as hex (mqtt.raw)
    DISCOVERY/sensor/NODE/NAME/config     Home Assistant discovery, retained (DISCOVERY =
                              mqtt.discovery_prefix, NODE = "hanreader_" + the meter id)

The state message, values exact (integer and scaler, no float on the way), keyed by friendly
name (the OBIS code when the value has none, or when the name is already taken):

    {"time": "2024-01-07T12:00:10+01:00",
     "meter": {"id": "5706567274389702", "manufacturer": "Kamstrup", "model": "...", "list": "..."},
     "power_import": {"obis": "1.1.1.7.0.255", "value": 1468, "unit": "W"},
     "energy_import": {"obis": "1.1.1.8.0.255", "value": 12345.678, "unit": "kWh"},
     "meter_id": {"obis": "1.1.0.0.5.255", "value": "5706567274389702"}, ...}

Energy goes out in kWh (kvarh, kVAh), as Home Assistant's energy dashboard wants it: the Wh
quantity's scaler shifted by 3, so the decimal text stays exact.
"""
from app.names import name as friendly_name
from han.report import string, text_of, value as json_value
from han.values import (NO_UNIT, VAR_HOUR, VOLT_AMPERE_HOUR, WATT_HOUR, DateTime, Quantity, decimal_text,
                        obis_text)

MAX_SENSORS = 48       # Home Assistant sensors remembered (the name table has fewer)
SENSOR_SIZE = 4        # bytes per remembered sensor
_ENERGY = (WATT_HOUR, VOLT_AMPERE_HOUR, VAR_HOUR)
# DLMS unit code -> Home Assistant device_class, state_class, unit_of_measurement ("-": no
# device class: recent Home Assistant versions know "reactive_energy", older ones nothing). One
# string, not a dict of tuples: that took 2.4 KB of heap. Power factor (no unit) goes by name.
_CLASSES = (",27 power measurement W,29 reactive_power measurement var,28 apparent_power measurement VA"
            ",30 energy total_increasing kWh,32 - total_increasing kvarh,31 - total_increasing kVAh"
            ",33 current measurement A,35 voltage measurement V,44 frequency measurement Hz")


def quantity(q):
    """(exact decimal text, unit symbol) of a Quantity as published: energy in k-units."""
    if q.unit in _ENERGY:
        return decimal_text(q.raw, q.scaler - 3), "k" + q.symbol()
    return decimal_text(q.raw, q.scaler), q.symbol()


def value_text(v):
    """A value as the payload of its own topic: a number, or text without JSON quotes."""
    if isinstance(v, Quantity):
        return quantity(v)[0]
    if isinstance(v, DateTime):
        return v.iso() or v.raw.hex()
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


def ha_class(name, unit):
    """(device_class, state_class, unit_of_measurement) for a Home Assistant sensor, or None
    when a value with this name and DLMS unit makes no sensor."""
    if name is None or isinstance(unit, str):
        return None
    if unit == NO_UNIT:
        return ("power_factor", "measurement", None) if name.startswith("power_factor") else None
    at = _CLASSES.find(",%d " % unit)
    if at < 0:
        return None
    end = _CLASSES.find(",", at + 1)
    _, device_class, state_class, symbol = _CLASSES[at + 1:end if end > 0 else len(_CLASSES)].split()
    return None if device_class == "-" else device_class, state_class, symbol


def named(items):
    """(code, value, friendly name) for a reading's items; the name is None for a code without
    one, and for a code whose name an earlier item took (Kamstrup sends its number as 0.0.5 and
    its type as 96.1.1: both "meter_id"): such a value goes by its OBIS code."""
    taken = []
    for code, v in items:
        name = friendly_name(code)
        if name is not None:
            if name in taken:
                name = None
            else:
                taken.append(name)
        yield code, v, name


def write_state(reading, write):
    """The state message of a reading, in pieces."""
    time = reading.time.iso() if reading.time is not None else None
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
    for code, v, name in named(reading.items):
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


def display_name(name):
    """"power_import_l1" -> "Power import L1", as Home Assistant shows a sensor."""
    words = name.split("_")
    for i in range(len(words)):
        word = words[i]
        if len(word) == 2 and word[0] == "l" and word[1] in "123":
            words[i] = word.upper()
    text = " ".join(words)
    return text[0].upper() + text[1:]


def node_id(meter_id, unique_id):
    """The Home Assistant device's id: "hanreader_" and the meter's number (letters, digits and
    "_" only, as discovery topics need), or the board's chip id for a meter that sends none."""
    if meter_id:
        return "hanreader_" + "".join(c if c.isalpha() or c.isdigit() else "_" for c in meter_id)
    return "hanreader_" + "".join("%02x" % b for b in unique_id)


class Sensors:
    """The Home Assistant sensors a meter reports, learned from its readings: a Norwegian meter
    sends power every 2 s, voltages every 10 s and energy every hour, so they come in over time.
    Kept in one preallocated bytearray, SENSOR_SIZE bytes each (C, D, E of the OBIS code: what
    the friendly name depends on; then the DLMS unit), in the order they were seen."""

    def __init__(self):
        self.table = bytearray(MAX_SENSORS * SENSOR_SIZE)
        self.count = 0

    def learn(self, reading):
        """Add the reading's sensors not seen before; returns how many were added."""
        added = 0
        for code, v in reading.items:
            if not isinstance(v, Quantity) or self.count == MAX_SENSORS or self.find(code) >= 0:
                continue
            if ha_class(friendly_name(code), v.unit) is None:
                continue
            at = self.count * SENSOR_SIZE
            self.table[at:at + 3] = code[2:5]
            self.table[at + 3] = v.unit
            self.count += 1
            added += 1
        return added

    def find(self, code):
        """The index of the sensor for OBIS `code` (C, D and E compared), or -1."""
        table = self.table
        c, d, e = code[2], code[3], code[4]
        for i in range(self.count):
            at = i * SENSOR_SIZE
            if table[at] == c and table[at + 1] == d and table[at + 2] == e:
                return i
        return -1

    def entry(self, i):
        """(code, unit) of sensor `i`: a code with A, B = 0 and F = 255, which names the same."""
        at = i * SENSOR_SIZE
        return b"\0\0" + bytes(self.table[at:at + 3]) + b"\xff", self.table[at + 3]


def device(reading, unique_id):
    """Who the Home Assistant device is: (node id, meter number, manufacturer, model)."""
    return node_id(reading.meter_id, unique_id), reading.meter_id, reading.manufacturer, reading.model


def discovery_topic(discovery_prefix, node, name):
    return "%s/sensor/%s/%s/config" % (discovery_prefix, node, name)


def write_discovery(code, unit, device, prefix, write):
    """The Home Assistant discovery config of one sensor, in pieces (published retained);
    `device` as device() makes it."""
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
