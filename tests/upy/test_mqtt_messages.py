# What MQTT publishes (app/mqtt_messages.py, app/mqtt_discovery.py) and the pure parts of the supervisor
# (app/mqtt.py, app/mqtt_link.py, app/mqtt_down.py): topics, the state message, Home Assistant
# discovery configs, exact kWh, the reconnect backoff, the streamed payloads and the socket they
# are written through. Both interpreters.
import gc
import json
import sys

from app import mqtt_messages as messages
from app import mqtt_discovery as discovery
from app.mqtt import IO_MS, SENSOR_SIZE, Mqtt, read
from app.mqtt_down import backoff_ms, describe
from app.mqtt_link import subscribe_packet
from han.pipeline import Pipeline
from han.reading import Reading
from han.units import HERTZ, NO_UNIT, VAR_HOUR, VOLT_AMPERE_HOUR, WATT, WATT_HOUR
from han.values import DateTime, Quantity
from support import FRAMES, ROOT, NoRoom, read_bytes, tick_clock, with_pairs

KAMSTRUP_SE = FRAMES + "/amsreader-frames/Kamstrup-Sweden.bin"  # hourly list: power to energy
METER_ID = "5706567331323526"
KAMSTRUP_SENSORS = ["power_import", "power_export", "reactive_power_import", "reactive_power_export",
                    "current_l1", "current_l2", "current_l3", "voltage_l1", "voltage_l2", "voltage_l3",
                    "energy_import", "energy_export", "reactive_energy_import", "reactive_energy_export"]


if not hasattr(gc, "mem_free"):  # CPython: no bounded heap to ask
    gc.mem_free = lambda: 0

def code(text):
    return bytes(int(part) for part in text.split("."))


def first_reading(path):
    pipeline = Pipeline()
    events = list(pipeline.feed(read_bytes(path))) + list(pipeline.flush())
    return [e for e in events if isinstance(e, Reading)][0]


def render(function, *args):
    parts = []
    function(*args, parts.append)
    return "".join(parts)


def reading_of(*items):
    return with_pairs(Reading(), [(code(text), value) for text, value in items])


def test_state_message_of_a_kamstrup_reading():
    reading = first_reading(KAMSTRUP_SE)
    text = render(messages.write_state, reading)
    state = json.loads(text)
    assert state["time"] == "2022-02-18T22:00:35"
    assert state["meter"] == {"id": METER_ID, "manufacturer": "Kamstrup", "model": "6841131BN245101092",
                              "list": "Kamstrup_V0001"}
    assert state["power_import"] == {"obis": "1.1.1.7.0.255", "value": 2269, "unit": "W"}
    assert state["current_l2"] == {"obis": "1.1.51.7.0.255", "value": 5.99, "unit": "A"}
    assert state["meter_id"] == {"obis": "1.1.0.0.5.255", "value": METER_ID}
    # 96.1.1 is named "meter_id" too: the second one goes by its code
    assert state["1.1.96.1.1.255"] == {"obis": "1.1.96.1.1.255", "value": "6841131BN245101092"}
    assert state["meter_time"] == {"obis": "0.1.1.0.0.255", "value": "2022-02-18T22:00:35"}
    # energy in kWh, exact: 32014158 Wh
    assert '"energy_import": {"obis": "1.1.1.8.0.255", "value": 32014.158, "unit": "kWh"}' in text
    assert '"reactive_energy_export": {"obis": "1.1.4.8.0.255", "value": 1073.187, "unit": "kvarh"}' in text
    assert len(state) == 2 + len(reading.values)


def test_energy_is_published_in_kwh_without_rounding():
    def published(q):  # (value topic's payload, the state message's value and unit as written)
        state = render(messages.write_state, reading_of(("1.0.99.1.0.255", q)))
        return messages.value_text(q), state[state.index('"value": '):-2]
    assert published(Quantity(85823280, 0, WATT_HOUR)) == ("85823.280", '"value": 85823.280, "unit": "kWh"')
    assert published(Quantity(5, 3, WATT_HOUR)) == ("5", '"value": 5, "unit": "kWh"')           # 5000 Wh
    assert published(Quantity(7, 2, VAR_HOUR)) == ("0.7", '"value": 0.7, "unit": "kvarh"')      # 700 varh
    assert published(Quantity(12345, -2, VOLT_AMPERE_HOUR)) == ("0.12345", '"value": 0.12345, "unit": "kVAh"')
    assert published(Quantity(-12, -1, WATT)) == ("-1.2", '"value": -1.2, "unit": "W"')
    assert published(Quantity(975, -3, NO_UNIT)) == ("0.975", '"value": 0.975')


def test_value_payloads_and_topics():
    assert messages.value_text(Quantity(32014158, 0, WATT_HOUR)) == "32014.158"
    assert messages.value_text("Kamstrup_V0001") == "Kamstrup_V0001"
    assert messages.value_text(b"\x01\xff") == "01ff"
    assert messages.value_text(DateTime(bytes((7, 230, 2, 18, 5, 22, 0, 35, 0, 0x80, 0, 0)))) == \
        "2022-02-18T22:00:35"
    assert messages.value_text(7) == "7"
    assert messages.value_topic("hanreader", code("1.1.1.7.0.255"), "power_import") == "hanreader/power/import"
    assert messages.value_topic("home/meter", code("1.0.32.7.0.255"), "voltage_l1") == "home/meter/voltage/l1"
    assert messages.value_topic("hanreader", code("1.0.99.1.0.255"), None) == "hanreader/obis/1.0.99.1.0.255"


def test_home_assistant_classes():
    assert discovery.ha_class("power_import", WATT) == ("power", "measurement", "W")
    assert discovery.ha_class("energy_export", WATT_HOUR) == ("energy", "total_increasing", "kWh")
    assert discovery.ha_class("reactive_energy_import", VAR_HOUR) == (None, "total_increasing", "kvarh")
    assert discovery.ha_class("frequency", HERTZ) == ("frequency", "measurement", "Hz")
    assert discovery.ha_class("voltage_l2", 35) == ("voltage", "measurement", "V")
    assert discovery.ha_class("current_l3", 33) == ("current", "measurement", "A")
    assert discovery.ha_class("power_factor_l1", NO_UNIT) == ("power_factor", "measurement", None)
    assert discovery.ha_class("meter_id", NO_UNIT) is None     # text, not a sensor
    assert discovery.ha_class(None, WATT) is None              # no name: no sensor
    assert discovery.ha_class("energy_import", "GJ") is None   # a unit without DLMS code
    assert discovery.ha_class("energy_import", 7) is None      # a DLMS unit that makes no sensor
    for unit in messages.SENSOR_UNITS:                         # every sensor unit has its classes
        assert discovery.ha_class("x", unit)[1] in ("measurement", "total_increasing")


def sensor_table():
    """An empty table of sensors, as app.mqtt.Mqtt makes it."""
    return connection()[0].sensors


def learn(table, reading):
    """The sensors of a reading learned into `table` as publish_reading learns them: how many the
    table holds then."""
    mqtt, _ = connection()
    mqtt.sensors = table
    mqtt.app.state = Fake(mqtt_sent=0, mqtt_reconnects=0, mqtt_error=None, mqtt_skipped=0)
    messages.publish_reading(mqtt, reading)
    return len([at for at in range(0, len(table), SENSOR_SIZE) if table[at]])


def test_meter_id_is_the_one_friendly_name_several_codes_have():
    # named() gives a second "meter_id" no name (the value goes by its code) and counts on no other
    # name being shared: every name han.text gives.
    from test_names import named_codes
    names = list(named_codes().values())
    assert len(names) > 30
    assert [name for name in names if names.count(name) > 1] == ["meter_id"] * 3
    # a sensor has a name (its C.D.E has one) and is a quantity: the table remembers them all
    texts = ("meter_id", "meter_type", "list_version", "meter_time", "device_name")
    assert len([name for name in names if name not in texts]) <= MAX_SENSORS
    codes = [(bytes([1, 1, 96, 1, 0, 255]), None), (bytes([1, 1, 0, 0, 5, 255]), None),
             (bytes([1, 1, 1, 7, 0, 255]), None), (bytes([1, 1, 96, 1, 1, 255]), None)]
    reading = with_pairs(Reading(), codes)
    assert [name for _, _, name in messages.named(reading)] == ["meter_id", None, "power_import", None]


def meter_of(reading):
    return reading.meter_id, reading.manufacturer, reading.model


def test_discovery_configs_of_a_kamstrup_meter():
    reading = first_reading(KAMSTRUP_SE)
    table = sensor_table()
    count = learn(table, reading)
    assert count == len(KAMSTRUP_SENSORS)
    device = discovery.device(meter_of(reading), b"\x01")
    configs = {}
    for i in range(count):
        entry_code, unit = discovery.sensor(table, i)
        name = messages.named(with_pairs(Reading(), [(entry_code, None)])).__next__()[2]
        topic = discovery.discovery_topic("homeassistant", device[0], name)
        assert topic == "homeassistant/sensor/hanreader_%s/%s/config" % (METER_ID, name)
        configs[name] = json.loads(render(discovery.write_discovery, entry_code, unit, device, "hanreader"))
    assert sorted(configs) == sorted(KAMSTRUP_SENSORS)
    energy = configs["energy_import"]
    assert energy == {
        "name": "Energy import", "unique_id": "hanreader_%s_energy_import" % METER_ID,
        "state_topic": "hanreader/energy/import", "availability_topic": "hanreader/status",
        "device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "kWh",
        "device": {"identifiers": ["hanreader_" + METER_ID], "name": "Kamstrup meter",
                   "manufacturer": "Kamstrup", "model": "6841131BN245101092", "serial_number": METER_ID},
        "origin": {"name": "hanreader"}}
    assert configs["power_export"]["device_class"] == "power"
    assert configs["power_export"]["unit_of_measurement"] == "W"
    assert configs["voltage_l3"]["name"] == "Voltage L3"
    assert configs["current_l1"]["unit_of_measurement"] == "A"
    assert configs["reactive_energy_export"]["state_class"] == "total_increasing"
    assert "device_class" not in configs["reactive_energy_export"]
    assert len(set(c["unique_id"] for c in configs.values())) == len(configs)


def test_power_factor_and_frequency_sensors():
    reading = reading_of(("1.0.13.7.0.255", Quantity(975, -3, NO_UNIT)),
                         ("1.0.14.7.0.255", Quantity(5000, -2, HERTZ)),
                         ("1.0.99.1.0.255", Quantity(1, 0, WATT)),       # no name: no sensor
                         ("0.0.96.1.0.255", "ABC-12 3"))                 # text: no sensor
    reading.meter_id = "ABC-12 3"
    table = sensor_table()
    assert learn(table, reading) == 2
    device = discovery.device(meter_of(reading), b"")
    assert device == ("hanreader_ABC_12_3", "ABC-12 3", None, None)
    factor = json.loads(render(discovery.write_discovery, *discovery.sensor(table, 0), device, "p"))
    assert factor["device_class"] == "power_factor" and "unit_of_measurement" not in factor
    assert factor["device"]["name"] == "Electricity meter"
    frequency = json.loads(render(discovery.write_discovery, *discovery.sensor(table, 1), device, "p"))
    assert (frequency["device_class"], frequency["unit_of_measurement"], frequency["state_topic"]) == \
        ("frequency", "Hz", "p/frequency")
    state = json.loads(render(messages.write_state, reading))
    assert state["time"] is None and state["meter"] == {"id": "ABC-12 3"}
    assert state["power_factor"] == {"obis": "1.0.13.7.0.255", "value": 0.975}
    assert '"value": 50.00, "unit": "Hz"' in render(messages.write_state, reading)


def test_sensors_are_learned_once_whatever_a_and_b_and_stay_bounded():
    table = sensor_table()
    count = learn(table, reading_of(("1.1.1.7.0.255", Quantity(1, 0, WATT))))
    assert count == 1
    count = learn(table, reading_of(("1.0.1.7.0.255", Quantity(2, 0, WATT)),     # same C.D.E
                                     ("1.0.1.8.0.255", Quantity(3, 0, WATT_HOUR))))
    assert count == 2 and discovery.sensor(table, 1) == (code("0.0.1.8.0.255"), WATT_HOUR)
    assert bytes(table[2 * SENSOR_SIZE:]) == bytes(len(table) - 2 * SENSOR_SIZE)
    # not sensors: text, a code without name, a unit that makes none
    assert learn(table, reading_of(("0.0.96.1.0.255", "123"), ("1.0.99.1.0.255", Quantity(1, 0, WATT)),
                                   ("1.0.0.0.5.255", Quantity(1, 0, NO_UNIT)))) == count
    # full: nothing more is taken
    assert len(table) // SENSOR_SIZE == MAX_SENSORS
    for i in range(MAX_SENSORS):
        table[i * SENSOR_SIZE:i * SENSOR_SIZE + SENSOR_SIZE] = bytes((WATT, 200, i, 0))
    full = bytes(table)
    assert learn(table, reading_of(("1.0.2.7.0.255", Quantity(1, 0, WATT)))) == MAX_SENSORS
    assert bytes(table) == full


def test_node_id_falls_back_to_the_chip_id():
    assert discovery.node_id(None, b"\x53\x49\x4d\x00\x00\x01") == "hanreader_53494d000001"
    assert discovery.node_id("", b"\xaa") == "hanreader_aa"
    assert discovery.node_id("Ab-9 z/é", b"") == "hanreader_Ab_9_z___"  # é: two bytes


def test_json_strings_are_escaped():
    from han.report import string, value
    assert string("Kamstrup_V0001") == '"Kamstrup_V0001"'
    assert string('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert string("line\nnext\t\x01") == '"line\\nnext\\t\\u0001"'
    assert string("m³") == '"m³"'  # not ASCII: as it is
    assert json.loads(string("é\"\x1f")) == "é\"\x1f"
    assert value("ok ³") == '"ok ³"'
    assert value("a\x7f") == '"617f"'  # unprintable: its UTF-8 bytes in hex


def test_display_names():
    assert discovery.display_name("power_import") == "Power import"
    assert discovery.display_name("power_import_l1") == "Power import L1"
    assert discovery.display_name("energy_import_tariff_1") == "Energy import tariff 1"


def test_backoff_doubles_up_to_a_minute_with_jitter():
    assert [backoff_ms(n, 128) for n in range(1, 9)] == [
        1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
    for n in (1, 5, 30):
        low, high = backoff_ms(n, 0), backoff_ms(n, 255)
        base = backoff_ms(n, 128)
        assert low == base - base // 4 and base < high < base + base // 4 + 1


def test_subscribe_packet():
    packet = subscribe_packet(b"homeassistant/status", 1)
    assert packet == b"\x82\x19\x00\x01\x00\x14homeassistant/status\x00"


class FakeSocket:
    """A socket for the connection: records writes, takes at most `room` bytes per write, gives
    `incoming` on reads."""

    def __init__(self, room=1 << 20, incoming=b""):
        self.room = room
        self.written = bytearray()
        self.writes = 0
        self.incoming = incoming

    def write(self, data):
        self.writes += 1
        n = min(len(data), self.room)
        self.written.extend(bytes(data[:n]))
        return n or None

    def read(self, n):
        data, self.incoming = self.incoming[:n], self.incoming[n:]
        return data


def fixed_header(first, size):
    """An MQTT packet's first byte and its remaining length `size` in 7-bit groups."""
    header = bytearray((first,))
    while size > 0x7F:
        header.append(size & 0x7F | 0x80)
        size >>= 7
    return bytes(header + bytes((size,)))


class Fake:
    def __init__(self, **attributes):
        for name, value in attributes.items():
            setattr(self, name, value)


def mqtt_config():
    return {"prefix": "hanreader", "discovery": True, "discovery_prefix": "homeassistant", "raw": False,
            "per_value": False}


def supervised():
    """An app.mqtt.Mqtt whose run() can go on (Wi-Fi up, its errors logged into `lines`): (mqtt,
    state, lines)."""
    lines = []
    state = Fake(mqtt="off")
    app = Fake(config={"mqtt": mqtt_config()}, meter=None, wifi=Fake(up=True), state=state,
               log=Fake(error=lines.append))
    return Mqtt(app, "198.51.100.1", 1883), state, lines


def connection(**options):
    """An app.mqtt.Mqtt connected as app/mqtt_link.py leaves it, over a FakeSocket."""
    sock = FakeSocket(**options)
    mqtt = Mqtt(Fake(config={"mqtt": mqtt_config()}, meter=None), "198.51.100.1", 1883)
    mqtt.sock = mqtt.io = sock
    return mqtt, sock


WRITE_CHUNK = len(connection()[0].chunk)  # what app.mqtt.Mqtt collects before it goes into the socket
MAX_SENSORS = 32  # Home Assistant sensors remembered: as many as han.text names quantities


def connection_with_a_reading():
    """connection(), with a first reading to publish (a Kamstrup's) and a log whose warnings
    are kept in the list returned."""
    mqtt, sock = connection()
    lines = []
    mqtt.app.log = Fake(warning=lines.append)
    mqtt.app.state = Fake(readings=1, reading=first_reading(KAMSTRUP_SE), mqtt_sent=0, mqtt_reconnects=0,
                          mqtt_error=None, mqtt_skipped=0)
    mqtt.app.hal = Fake(unique_id=lambda: b"\x01")
    return mqtt, sock, lines


def test_a_streamed_payload_is_measured_then_written_in_chunks():
    reading = first_reading(KAMSTRUP_SE)
    expected = render(messages.write_state, reading).encode()
    assert len(expected) > 3 * WRITE_CHUNK
    mqtt, sock = connection()
    mqtt.write(memoryview(b"\x30\x00\x00\x00")[:3])   # as publish() writes a header: part of a buffer
    mqtt.flush()
    assert bytes(sock.written) == b"\x30\x00\x00"
    sock.written = bytearray()
    messages.publish(mqtt, "hanreader/state", messages.write_state, (reading,), True)
    mqtt.flush()
    size = 2 + len("hanreader/state") + len(expected)
    assert bytes(sock.written) == fixed_header(0x31, size) + b"\x00\x0fhanreader/state" + expected
    assert sock.writes <= len(expected) // WRITE_CHUNK + 2
    # the length counts bytes, not characters
    sock.written = bytearray()
    unicode = reading_of(("1.0.0.0.0.255", "m³"))
    messages.publish(mqtt, "t", messages.write_state, (unicode,))
    mqtt.flush()
    expected = render(messages.write_state, unicode).encode()
    assert bytes(sock.written) == bytes((0x30, 2 + 1 + len(expected))) + b"\x00\x01t" + expected
    # the same object written as a plain message is written as itself
    sock.written = bytearray()
    messages.publish(mqtt, "t", b"text")
    mqtt.flush()
    assert bytes(sock.written) == b"\x30\x07\x00\x01ttext"


def umqtt_simple():
    """umqtt.simple's module, as tools/fetch_umqtt.py fetched it (make venv), on either
    interpreter: CPython gets its socket, struct and binascii under MicroPython's names."""
    for name in ("usocket", "ustruct", "ubinascii"):
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                sys.modules[name] = __import__(name[1:])
    module = {"__name__": "umqtt_simple"}
    with open(ROOT + "/.venv/upy-lib/umqtt/simple.py") as f:
        exec(f.read(), module)
    return module


def test_a_publish_is_written_byte_for_byte_as_umqtt_simple_writes_it():
    class Socket(FakeSocket):  # umqtt.simple writes its header as (buffer, length)
        def write(self, data, length=None):
            return FakeSocket.write(self, data if length is None else memoryview(data)[:length])

    client = umqtt_simple()["MQTTClient"](b"id", "localhost")
    for topic, message, retain in ((b"t", b"", False), (b"hanreader/status", b"online", True),
                                   (b"hanreader/state", b"x" * 200, False),       # a two-byte length
                                   (b"hanreader/raw", b"7e" * 9000, False)):      # three bytes
        sock = client.sock = Socket()
        client.publish(topic, message, retain)
        ours, our_sock = connection()
        messages.publish(ours, topic, message, None, retain)
        ours.flush()
        assert bytes(our_sock.written) == bytes(sock.written) and len(sock.written) > len(message)
        assert ours.packet_start == ours.filled == 0


def test_a_publishing_turn_loads_its_code_and_unloads_it_after():
    from app import unload
    mqtt, sock, _ = connection_with_a_reading()
    for name in ("app.mqtt_messages", "app.mqtt_discovery", "han.report"):
        unload(name)
    import han.text  # noqa: F401 - loaded by something else (the web server's answering code): kept
    assert mqtt._publish()  # the new reading, then the first sensor's discovery config
    written = bytes(sock.written)
    assert b"\x00\x0fhanreader/state{" in written and b"hanreader/power/import" in written
    assert b"homeassistant/sensor/hanreader_%s/power_import/config" % METER_ID.encode() in written
    assert mqtt.announced == 1 and mqtt.app.state.mqtt_sent == 2 + len(KAMSTRUP_SENSORS)
    for name in ("app.mqtt_messages", "app.mqtt_discovery", "han.report"):
        assert name not in sys.modules, name
    assert "han.text" in sys.modules
    mqtt.announced = len(KAMSTRUP_SENSORS)
    sock.written = bytearray()
    assert not mqtt._publish() and not sock.written  # nothing new: nothing loaded, nothing sent
    assert "app.mqtt_messages" not in sys.modules


def publish_without_room_for(mqtt, module, message=False):
    """mqtt._publish(message) while `module` finds no room for its code."""
    from app import unload
    unload(module)
    sys.modules[module] = NoRoom()
    try:
        return mqtt._publish(message)
    finally:
        sys.modules.pop(module, None)


def test_a_turn_without_room_even_to_say_so_keeps_the_connection():
    mqtt, sock, lines = connection_with_a_reading()

    def no_room(line):
        raise MemoryError

    mqtt.app.log = Fake(warning=no_room)
    assert not publish_without_room_for(mqtt, "app.mqtt_messages")  # nothing raised
    assert not sock.written and mqtt.published == 1


def test_a_turn_without_room_for_its_code_skips_the_reading_and_keeps_the_connection():
    mqtt, sock, lines = connection_with_a_reading()
    assert not publish_without_room_for(mqtt, "app.mqtt_messages")
    assert not sock.written  # nothing half written (nothing raised): the connection goes on
    assert mqtt.published == 1 and len(lines) == 1 and lines[0].startswith("MQTT: no room in the heap to publish")
    mqtt.app.state.readings = 2  # room again: the next reading goes out
    assert mqtt._publish()
    assert b"\x00\x0fhanreader/state{" in bytes(sock.written)
    assert mqtt.app.state.mqtt_skipped == 1
    assert mqtt.app.state.mqtt.endswith("; 1 reading skipped for want of heap")


def test_a_meter_that_never_says_its_number_is_named_by_the_chip_after_20_readings():
    mqtt, sock, _ = connection_with_a_reading()
    reading = mqtt.app.state.reading
    reading.meter_id = None
    mqtt.published = mqtt.app.state.readings  # (the reading published here, not by a turn)
    for _ in range(20):
        messages.publish_reading(mqtt, reading)
    assert not mqtt._publish()  # the sensors are learned, the device not known: nothing announced yet
    messages.publish_reading(mqtt, reading)
    assert mqtt.device == (None, "Kamstrup", "6841131BN245101092")
    assert mqtt._publish() and mqtt.announced == 1
    assert b"homeassistant/sensor/hanreader_01/power_import/config" in bytes(sock.written)


def test_a_discovery_config_without_room_waits_for_a_later_turn_unsaid():
    mqtt, sock, lines = connection_with_a_reading()
    assert mqtt._publish() and mqtt.announced == 1  # the reading and the first sensor's config
    sent = bytes(sock.written)
    assert not publish_without_room_for(mqtt, "app.mqtt_discovery")
    assert bytes(sock.written) == sent and mqtt.announced == 1 and not lines
    assert mqtt._publish() and mqtt.announced == 2  # room again: the next config goes out


class PollSocket(FakeSocket):
    """A connection's socket as _receive() uses it: a non-blocking read with nothing there gives
    None (not b"", which is the broker closing the connection)."""

    def setblocking(self, flag):
        self.blocking = flag

    def settimeout(self, seconds):
        self.blocking = True

    def read(self, n):
        if not self.incoming and not self.blocking:
            return None
        return FakeSocket.read(self, n)


HOME_ASSISTANT_ONLINE = b"\x30\x1c\x00\x14homeassistant/statusonline"


def test_pings_answered_and_the_subscription_acknowledged_are_read_without_umqtt():
    tick_clock()
    mqtt, sock, _ = connection_with_a_reading()
    mqtt.sock = mqtt.io = PollSocket(incoming=b"\xd0\x00" + b"\x90\x03\x00\x01\x00" + b"\xd0\x00")
    assert mqtt._receive() is False  # all read: the broker heard from, nothing for a turn to read
    assert mqtt.sock.incoming == b"" and mqtt.peeked is None
    assert mqtt._receive() is None  # nothing more came
    assert "umqtt.simple" not in sys.modules


def test_what_home_assistant_publishes_is_read_in_a_turn():
    tick_clock()
    mqtt, sock, lines = connection_with_a_reading()
    mqtt.sock = mqtt.io = PollSocket(incoming=HOME_ASSISTANT_ONLINE + b"\xd0\x00")
    assert mqtt._publish() and mqtt.announced == 1  # the reading and a first sensor announced
    mqtt.app.log.info = lines.append
    assert mqtt._receive() is True and mqtt.peeked == b"\x30"  # left for a turn
    assert publish_without_room_for(mqtt, "app.mqtt_messages", True) is False
    assert mqtt.peeked == b"\x30"  # no room for the turn (nothing raised): read later
    assert mqtt._receive() is True and mqtt.peeked == b"\x30"  # not a byte more read meanwhile
    assert mqtt._publish(True)
    assert mqtt.peeked is None and lines[-1].startswith("MQTT: Home Assistant (re)started")
    assert mqtt.announced == 1  # announcing again from the first sensor (in the same turn)
    assert mqtt._receive() is False and mqtt.sock.incoming == b""  # the ping's answer after it
    assert "umqtt.simple" not in sys.modules  # read as umqtt.simple's wait_msg() reads it, without its code


def test_a_publish_read_whatever_its_length_and_only_online_announces_again():
    tick_clock()
    mqtt, sock, lines = connection_with_a_reading()
    mqtt.app.log.info = lines.append
    assert mqtt._publish() and mqtt._publish() and mqtt.announced == 2
    topic = b"homeassistant/status"
    offline = fixed_header(0x30, 2 + len(topic) + 7) + b"\x00\x14" + topic + b"offline"
    retained = fixed_header(0x31, 2 + len(topic) + 6) + b"\x00\x14" + topic + b"online"
    long = fixed_header(0x30, 2 + len(topic) + 200) + b"\x00\x14" + topic + b"x" * 200  # two bytes of length
    mqtt.sock = mqtt.io = PollSocket(incoming=offline + long + b"\xd0\x00")
    for _ in range(2):
        assert mqtt._receive() is True and mqtt._publish(True)
    assert mqtt._receive() is False and mqtt.sock.incoming == b"" and not lines
    assert mqtt.announced == 4  # nothing announced again: a config more each turn
    mqtt.sock = mqtt.io = PollSocket(incoming=retained)
    assert mqtt._receive() is True and mqtt._publish(True) and mqtt.sock.incoming == b""
    assert len(lines) == 1 and mqtt.announced == 1


def test_a_long_publish_is_read_in_pieces_never_whole():
    # A broker may send anything on the topic subscribed to: nothing of it is held whole, and a
    # long payload ending in "online" is no birth message.
    tick_clock()
    mqtt, sock, lines = connection_with_a_reading()
    mqtt.app.log.info = lines.append
    assert mqtt._publish() and mqtt.announced == 1
    topic = b"homeassistant/status" + b"/x" * 100
    payload = b"y" * 4000 + b"online"
    publish = fixed_header(0x30, 2 + len(topic) + len(payload)) + bytes((0, len(topic))) + topic + payload
    mqtt.sock = mqtt.io = PollSocket(incoming=publish + b"\xd0\x00")
    reads = []
    read = mqtt.io.read

    def recorded(n):
        reads.append(n)
        return read(n)
    mqtt.io.read = recorded
    assert mqtt._receive() is True and mqtt._publish(True)
    assert max(reads) <= 64 and mqtt.sock.incoming == b"\xd0\x00"
    assert not lines and mqtt.announced == 2  # not announced again: a config more this turn


def state_cut_short(after):
    """app/mqtt_messages.py's write_state, running out of heap `after` bytes into its second
    rendering (the one into the socket)."""
    real = messages.write_state
    calls = []

    def write_state(reading, write):
        calls.append(reading)
        if len(calls) == 2:
            write(render(real, reading)[:after])
            raise MemoryError
        real(reading, write)
    return write_state


def publish_cut_short(mqtt, after):
    from app import mqtt_messages as module  # the one _publish finds (a test before may have unloaded it)
    real = module.write_state
    module.write_state = state_cut_short(after)
    try:
        return mqtt._publish()
    finally:
        module.write_state = real


def test_a_message_cut_short_by_the_heap_is_taken_back_and_the_connection_goes_on():
    mqtt, sock, lines = connection_with_a_reading()
    assert not publish_cut_short(mqtt, 40)  # header, topic and 40 bytes: still in the buffer
    assert not sock.written and mqtt.filled == 0
    assert mqtt.published == 1 and len(lines) == 1 and lines[0].startswith("MQTT: no room in the heap to publish")
    mqtt.app.state.readings = 2  # room again: the next reading goes out, from a whole packet on
    assert mqtt._publish()
    written = bytes(sock.written)
    state = render(messages.write_state, mqtt.app.state.reading).encode()
    assert written.startswith(fixed_header(0x30, 2 + 15 + len(state)) + b"\x00\x0fhanreader/state" + state)


def test_a_message_cut_short_after_part_of_it_went_out_ends_the_connection():
    mqtt, sock, _ = connection_with_a_reading()
    try:
        publish_cut_short(mqtt, 2 * WRITE_CHUNK)
    except MemoryError:
        pass  # app/mqtt.py's run() ends the connection: the broker has part of a packet
    else:
        raise AssertionError("a packet partly in the socket was taken for whole")
    assert len(sock.written) == 2 * WRITE_CHUNK and mqtt.packet_start == -1


def test_a_socket_that_takes_less_ends_the_connection():
    mqtt, _ = connection(room=100)
    mqtt.write(bytes(WRITE_CHUNK))
    try:
        mqtt.write(b"more")  # the chunk is full: flushed, and only 100 bytes go
    except OSError as e:
        assert describe(e) == "the broker took no data for %d ms" % IO_MS
    else:
        raise AssertionError("a short write was not noticed")


def test_reads_start_with_the_byte_the_loop_saw_and_skip_what_umqtt_leaves():
    mqtt, _ = connection(incoming=b"\x03\x00\x01\x00\xd0")
    mqtt.peeked = b"\x90"                 # a SUBACK: its type read by _receive
    assert read(mqtt, 1) == b"\x90"
    assert read(mqtt, read(mqtt, 1)[0]) == b"\x00\x01\x00"  # as _receive reads past it: length 3, 3 bytes
    assert read(mqtt, 1) == b"\xd0"
    mqtt.peeked = b"\x30"                 # the loop saw a byte; a turn reads it with the next two
    mqtt.io.incoming = b"\x05\x00"
    assert read(mqtt, 3) == b"\x30\x05\x00"
    try:
        read(mqtt, 1)
    except EOFError as e:
        assert describe(e) == "the broker closed the connection"
    else:
        raise AssertionError("end of stream not noticed")


def test_connect_packet_comes_from_umqtt_simple_without_network():
    sys.path.append(ROOT + "/.venv/upy-lib")  # tools/fetch_umqtt.py puts umqtt.simple there
    try:
        from umqtt.simple import MQTTClient
    except ImportError:
        return  # CPython (umqtt.simple is MicroPython code), or not fetched
    from app.mqtt_connect_packet import connect_packet
    mqtt = Mqtt(Fake(config={"mqtt": dict(mqtt_config(), user="meter", password="pw")}, meter=None,
                     hal=Fake(unique_id=lambda: b"SIM\x00\x00\x01")), "198.51.100.1", 1883)
    packet = bytes(connect_packet(mqtt))
    body = (b"\x00\x04MQTT\x04" + bytes((0x80 | 0x40 | 0x20 | 0x04 | 0x02,)) + b"\x00\x3c"
            + b"\x00\x16hanreader-53494d000001" + b"\x00\x10hanreader/status" + b"\x00\x07offline"
            + b"\x00\x05meter" + b"\x00\x02pw")
    assert packet == b"\x10" + bytes((len(body),)) + body
    import umqtt.simple
    assert umqtt.simple.socket.__name__ in ("socket", "usocket")  # put back


def test_failures_in_words():
    from errno import ECONNREFUSED
    assert describe(OSError(ECONNREFUSED)) == "connection refused"
    assert describe(EOFError()) == "the broker closed the connection"
    assert describe("no address found for mqtt.lan (DNS)") == "no address found for mqtt.lan (DNS)"
    assert describe(4) == "the broker refused the connection: wrong user name or password (mqtt.user, mqtt.password)"
    assert describe(9) == "the broker refused the connection: code 9"
    import asyncio
    assert describe(asyncio.TimeoutError()) == "the broker stopped answering (no reply to a ping in 5 s)"
    assert describe(OSError(-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")) == \
        "network error -30592 MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE"


def test_an_attempt_without_room_in_the_heap_is_retried_and_the_task_goes_on():
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return  # needs MicroPython's asyncio.sleep_ms (the test runs under MicroPython)
    import sys

    class LinkWithoutRoom:  # app.mqtt_link as it is when its code finds no room
        attempts = 0

        @staticmethod
        async def connect(mqtt):
            LinkWithoutRoom.attempts += 1
            raise MemoryError

    mqtt, state, lines = supervised()
    from app import unload
    unload("app.mqtt_link")  # what earlier tests loaded of the real one
    sys.modules["app.mqtt_link"] = LinkWithoutRoom

    async def for_a_while():
        task = asyncio.create_task(mqtt.run())
        await asyncio.sleep_ms(50)
        assert not task.done()  # it waits to try again: the task has not ended
        task.cancel()

    try:
        asyncio.run(for_a_while())
    finally:
        sys.modules.pop("app.mqtt_link", None)
    assert LinkWithoutRoom.attempts == 1
    assert state.mqtt.startswith("no room in the heap to connect (") and state.mqtt.endswith("retry in 10 s")
    assert lines == ["MQTT: " + state.mqtt]


def test_a_connection_whose_ending_code_finds_no_room_is_still_closed():
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return  # needs MicroPython's asyncio.sleep_ms (the test runs under MicroPython)

    class Sock(FakeSocket):
        closed = False

        def close(self):
            self.closed = True

    sock = Sock()

    class Link:  # app.mqtt_link: it connects
        @staticmethod
        async def connect(mqtt):
            mqtt.sock = mqtt.io = sock
            return None

    class Down:  # app.mqtt_down: it finds no room for its code at the end
        @staticmethod
        def ended(mqtt, problem):
            raise MemoryError

    mqtt, state, lines = supervised()

    async def serve():
        sys.modules["app.mqtt_down"] = Down  # run() unloaded what connecting loaded: what it loads at the end
        raise OSError(104)  # the connection breaks

    mqtt._serve = serve
    from app import unload
    unload("app.mqtt_link")
    sys.modules["app.mqtt_link"] = Link

    async def for_a_while():
        task = asyncio.create_task(mqtt.run())
        await asyncio.sleep_ms(50)
        assert not task.done()
        task.cancel()

    try:
        asyncio.run(for_a_while())
    finally:
        unload("app.mqtt_link")
        unload("app.mqtt_down")
    assert sock.closed and mqtt.sock is None and mqtt.io is None
    assert state.mqtt.startswith("no room in the heap to connect (")
    # why the connection ended, which the code left without room would have said
    assert lines[0].startswith("MQTT: the connection ended: OSError(104") and lines[1] == "MQTT: " + state.mqtt


def test_no_room_to_connect_is_said_without_needing_room():
    # Said where a MemoryError was caught: a second one raised there would end the MQTT task.
    try:
        from micropython import heap_lock, heap_unlock
        import asyncio
        asyncio.sleep_ms
    except (ImportError, AttributeError):
        return  # CPython: the heap cannot be locked
    locked = []

    class Link:  # app.mqtt_link, finding no room at all
        @staticmethod
        async def connect(mqtt):
            heap_lock()
            locked.append(True)
            raise MemoryError

    mqtt, state, lines = supervised()
    from app import unload
    unload("app.mqtt_link")
    sys.modules["app.mqtt_link"] = Link

    async def for_a_while():
        task = asyncio.create_task(mqtt.run())
        await asyncio.sleep_ms(50)  # (the loop ran on under the lock: nothing it does needs room)
        heap_unlock()
        locked.pop()
        assert not task.done()  # it waits to try again: the task has not ended
        task.cancel()

    try:
        asyncio.run(for_a_while())
    finally:
        if locked:
            heap_unlock()
        sys.modules.pop("app.mqtt_link", None)
    assert state.mqtt == "off" and lines == []  # nothing said: no room to say it


def test_a_turn_with_no_room_at_all_keeps_the_connection():
    # Everything a turn does before its code is loaded must need no room: a MemoryError raised
    # outside its handler (a list of the modules to unload, 256 B, did) ended the connection.
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        return  # CPython: the heap cannot be locked
    from app import unload
    mqtt, sock, lines = connection_with_a_reading()
    for name in ("app.mqtt_messages", "app.mqtt_discovery", "han.report", "han.text"):
        unload(name)
    heap_lock()
    try:
        published = mqtt._publish()
    finally:
        heap_unlock()
    assert published is False and not sock.written
    assert mqtt.app.state.mqtt_skipped == 1 and mqtt.published == 1
    assert "app.mqtt_messages" not in sys.modules
    mqtt.app.state.readings = 2  # room again: the next reading goes out
    assert mqtt._publish() and b"\x00\x0fhanreader/state{" in bytes(sock.written)


def test_no_turn_of_publishing_while_a_web_request_has_the_heap():
    # A page's code and a turn's code loaded at once may not fit: the turn waits for the request
    # to end (app.lent), then the reading goes out.
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return  # needs MicroPython's asyncio.sleep_ms (the test runs under MicroPython)

    class QuietSocket(FakeSocket):  # nothing comes from the broker, until it closes the connection
        closed = False

        def setblocking(self, flag):
            pass

        def settimeout(self, seconds):
            pass

        def read(self, n):
            return b"" if self.closed else None

    mqtt, _, _ = connection_with_a_reading()
    sock = mqtt.sock = mqtt.io = QuietSocket()
    written_while_lent = []

    async def a_request_then_none():
        sys.modules["app.web.http"] = object()
        await asyncio.sleep_ms(300)
        written_while_lent.append(len(sock.written))
        del sys.modules["app.web.http"]
        await asyncio.sleep_ms(300)
        sock.closed = True  # ends _serve

    async def both():
        asyncio.create_task(a_request_then_none())
        await asyncio.sleep_ms(0)
        try:
            await mqtt._serve()
        except EOFError:
            pass

    loaded = sys.modules.pop("app.web.http", None)
    try:
        asyncio.run(both())
    finally:
        sys.modules.pop("app.web.http", None)
        if loaded is not None:
            sys.modules["app.web.http"] = loaded
    assert written_while_lent == [0]
    assert b"\x00\x0fhanreader/state{" in bytes(sock.written)


def test_no_connection_attempt_while_a_web_request_has_the_heap():
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return  # needs MicroPython's asyncio.sleep_ms (the test runs under MicroPython)

    class Link:  # app.mqtt_link: each attempt finds no room (then a 10 s wait)
        attempts = []

        @staticmethod
        async def connect(mqtt):
            Link.attempts.append("app.web.http" in sys.modules)
            raise MemoryError

    mqtt, state, lines = supervised()
    from app import unload
    unload("app.mqtt_link")
    loaded = sys.modules.pop("app.web.http", None)

    async def for_a_while():
        sys.modules["app.web.http"] = object()  # a page's request under way
        sys.modules["app.mqtt_link"] = Link
        task = asyncio.create_task(mqtt.run())
        await asyncio.sleep_ms(300)
        tried_while_lent = len(Link.attempts)
        del sys.modules["app.web.http"]
        await asyncio.sleep_ms(300)
        task.cancel()
        return tried_while_lent

    try:
        tried_while_lent = asyncio.run(for_a_while())
    finally:
        sys.modules.pop("app.mqtt_link", None)
        sys.modules.pop("app.web.http", None)
        if loaded is not None:
            sys.modules["app.web.http"] = loaded
    assert tried_while_lent == 0 and Link.attempts == [False]


def test_umqtt_simple_is_let_go_while_the_broker_is_waited_for():
    # It builds the CONNECT packet; the wait for the broker's answer (seconds, when it is slow)
    # needs only app.mqtt_link: the heap has umqtt.simple's room back meanwhile.
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return  # needs MicroPython's asyncio.sleep_ms (the test runs under MicroPython)
    import socket
    from random import getrandbits
    listener = socket.socket()  # a broker that takes the connection and never answers
    for _ in range(20):  # (MicroPython's socket cannot say which port 0 got)
        port = 40000 + getrandbits(14)
        try:
            listener.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            break
        except OSError:
            pass
    listener.listen(1)
    from app import unload
    from app import mqtt_link
    mqtt, state, lines = supervised()
    mqtt.app.config["mqtt"].update(user="", password="", tls=False)
    mqtt.app.hal = Fake(unique_id=lambda: b"\x01")
    mqtt.app.log = Fake(error=lines.append, warning=lines.append, info=lines.append)
    state.mqtt_sent = state.mqtt_reconnects = state.mqtt_skipped = 0
    state.mqtt_error = None
    seen = []

    async def connecting():
        task = asyncio.create_task(mqtt_link.connect(mqtt))
        await asyncio.sleep_ms(300)
        seen.append(("umqtt.simple" in sys.modules, "app.mqtt_connect_packet" in sys.modules, state.mqtt))
        task.cancel()
        await asyncio.sleep_ms(0)

    mqtt.broker += (socket.getaddrinfo("127.0.0.1", port)[0][-1],)  # (host, port, address): no lookup
    sys.path.insert(0, ROOT + "/.venv/upy-lib")  # umqtt.simple as tools/fetch_umqtt.py fetched it
    try:
        asyncio.run(connecting())
    finally:
        sys.path.pop(0)
        listener.close()
        mqtt.close()
        unload("umqtt.simple")
        unload("umqtt")
    assert seen == [(False, False, "connecting to 198.51.100.1:1883; 0 messages sent, 0 reconnects")]

