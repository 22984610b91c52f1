"""MQTT end to end: the firmware under the MicroPython unix port, reading the simulated meter,
publishes to a real Mosquitto (started here on a free port); a paho-mqtt subscriber checks what
arrives. Then the faults: the broker stopped and started again, a socket that accepts and never
answers, a wrong password. Through each, the meter task must go on decoding (the telnet status
counts readings) with the event loop never held for long (the longest stall since start, also
from telnet), and publishing must come back by itself.

Mosquitto is Debian's package: `make test` and CI install it. umqtt.simple comes from PyPI
(tools/fetch_umqtt.py) onto MICROPYPATH.
"""
import decimal
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho
import pytest
from conftest import micropython_binary
from sim_support import ROOT, TOOLS, Firmware, MeterSim, free_port, stop

sys.path.insert(0, TOOLS)
import fetch_umqtt  # noqa: E402
import sim_broker  # noqa: E402

CAPTURE = os.path.join(ROOT, "frames", "amsreader-frames", "Kamstrup-Sweden.bin")  # power to energy
with open(os.path.join(ROOT, "frames", "amsreader-frames", "Kamstrup-Sweden.json")) as f:
    EXPECTED = json.load(f)["expected"][0]
with open(CAPTURE, "rb") as f:
    FRAME = f.read()
METER_ID = "5706567331323526"
NODE = "hanreader_" + METER_ID
SENSORS = 14  # power, reactive power (2 each), current, voltage (3 each), energy, reactive energy (2 each)
FIXED_SERIAL = {"baud": 2400, "parity": "N", "bits": 8, "stop_bits": 1}
UPY_LIB = os.path.join(ROOT, ".venv", "upy-lib")
STALL_LIMIT_MS = 50  # the longest the loop may be held, whatever the broker does (measured: a few ms)


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %g s" % (what, timeout))
        time.sleep(0.05)


def meter_goes_on(rig, since, count, what):
    """Wait until the meter task has decoded `count` readings more than status `since` had;
    the status then."""
    return wait_until(lambda: (lambda status: status["readings"] >= since["readings"] + count and status)(
        rig.status()), 30, "%d more readings while %s" % (count, what))


class Subscriber:
    """A paho-mqtt client that keeps every message: (topic, payload, retained)."""

    def __init__(self, port, topic="#", tls=False, user=None):
        self.messages = []
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-%d" % free_port())
        if user:
            self.client.username_pw_set(*user)
        if tls:
            self.client.tls_set(cert_reqs=__import__("ssl").CERT_NONE)
            self.client.tls_insecure_set(True)
        self.client.on_message = self._message
        self.client.on_connect = lambda client, *_: client.subscribe(topic)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic):
        with self.lock:
            return [(payload, retained) for t, payload, retained in self.messages if t == topic]

    def topics(self, prefix):
        with self.lock:
            return [t for t, _, _ in self.messages if t.startswith(prefix)]

    def wait(self, topic, timeout=20, count=1):
        return wait_until(lambda: len(self.on(topic)) >= count and self.on(topic), timeout,
                          "%d message(s) on %s" % (count, topic))

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module", autouse=True)
def umqtt_on_the_path():
    fetch_umqtt.fetch(UPY_LIB)
    saved = os.environ.get("MICROPYPATH")
    os.environ["MICROPYPATH"] = ".frozen:" + UPY_LIB
    yield
    if saved is None:
        del os.environ["MICROPYPATH"]
    else:
        os.environ["MICROPYPATH"] = saved


@pytest.fixture
def rig(tmp_path):
    """broker(**Broker options), firmware(mqtt config), subscriber(port): all stopped afterwards."""
    started = []

    class Rig:
        def broker(self, **options):
            if not sim_broker.mosquitto_binary():
                pytest.fail("Mosquitto is not installed (make test installs it: apt-get install mosquitto)")
            broker = sim_broker.Broker(str(tmp_path / ("broker%d" % len(started))), "mosquitto", **options)
            assert broker.start(), open(broker.log_path).read()
            started.append(broker)
            return broker

        def firmware(self, mqtt, capture=CAPTURE):
            sim = MeterSim(capture, "--quiet", "--seed", "1", "--speed", "10", "--offset", "0.5")
            started.append(sim)
            firmware = Firmware(micropython_binary(), str(tmp_path / "data"), sim.port,
                                {"meter": FIXED_SERIAL, "mqtt": dict({"host": "127.0.0.1"}, **mqtt)})
            started.append(firmware)
            self.telnet = firmware.connect()
            return firmware

        def subscriber(self, port, **options):
            subscriber = Subscriber(port, **options)
            started.append(subscriber)
            return subscriber

        def status(self):
            status = self.telnet.status()
            status["mqtt"] = re.search(r"MQTT: (.*)", status["text"]).group(1)
            return status

    try:
        yield Rig()
    finally:
        for item in reversed(started):
            item.close() if hasattr(item, "close") else item.stop()


def check_state(payload):
    """The state message against the capture's expected reading: every value, exactly."""
    state = json.loads(payload, parse_float=decimal.Decimal)
    assert state["time"] == EXPECTED["time"]
    assert state["meter"]["id"] == METER_ID and state["meter"]["manufacturer"] == "Kamstrup"
    by_code = {entry["obis"]: entry for key, entry in state.items() if key not in ("time", "meter")}
    assert sorted(by_code) == sorted(EXPECTED["obis"])
    for code, expected in EXPECTED["obis"].items():
        entry = by_code[code]
        if isinstance(expected, list):
            number, unit = decimal.Decimal(str(expected[0])), expected[1]
            if unit.endswith("h"):  # Wh, varh: published in kWh, kvarh
                number, unit = number / 1000, "k" + unit
            assert (entry["value"], entry["unit"]) == (number, unit), code
        else:
            assert entry["value"] == expected, code
    assert state["power_import"]["obis"] == "1.1.1.7.0.255"
    assert '"value": 32014.158, "unit": "kWh"' in payload.decode()


def test_state_topics_discovery_raw_frames_and_last_will(rig):
    broker = rig.broker()
    watcher = rig.subscriber(broker.port)
    firmware = rig.firmware({"port": broker.port, "per_value": True, "raw": True})
    check_state(watcher.wait("hanreader/state")[0][0])
    assert watcher.wait("hanreader/status")[0] == (b"online", False)
    # one topic per value, exact; energy in kWh
    assert watcher.wait("hanreader/power/import")[0][0] == b"2269"
    assert watcher.wait("hanreader/energy/import")[0][0] == b"32014.158"
    assert watcher.wait("hanreader/current/l2")[0][0] == b"5.99"
    assert watcher.wait("hanreader/obis/1.1.96.1.1.255")[0][0] == b"6841131BN245101092"
    # the raw frame as hex, as the meter sent it (with or without the closing flag)
    assert watcher.wait("hanreader/raw")[0][0] in (FRAME.hex().encode(), FRAME[:-1].hex().encode())
    # Home Assistant: one config per sensor this meter reports, retained
    configs = wait_until(lambda: len(set(watcher.topics("homeassistant/"))) >= SENSORS and
                         set(watcher.topics("homeassistant/")), 20, "the discovery configs")
    assert configs == {"homeassistant/sensor/%s/%s/config" % (NODE, name) for name in (
        "power_import", "power_export", "reactive_power_import", "reactive_power_export", "current_l1",
        "current_l2", "current_l3", "voltage_l1", "voltage_l2", "voltage_l3", "energy_import",
        "energy_export", "reactive_energy_import", "reactive_energy_export")}
    energy = json.loads(watcher.on("homeassistant/sensor/%s/energy_import/config" % NODE)[0][0])
    assert (energy["device_class"], energy["state_class"], energy["unit_of_measurement"]) == \
        ("energy", "total_increasing", "kWh")
    assert energy["unique_id"] == NODE + "_energy_import"
    assert energy["state_topic"] == "hanreader/energy/import"
    assert energy["availability_topic"] == "hanreader/status"
    assert energy["device"]["identifiers"] == [NODE]
    power = json.loads(watcher.on("homeassistant/sensor/%s/power_import/config" % NODE)[0][0])
    assert (power["device_class"], power["state_class"], power["unit_of_measurement"]) == \
        ("power", "measurement", "W")
    assert rig.subscriber(broker.port, topic="hanreader/status").wait("hanreader/status")[0] == (b"online", True)
    with open(broker.log_path) as f:  # the client id is the board's own: two boards never kick each other off
        assert " as hanreader-53494d000001 " in f.read()
    late = rig.subscriber(broker.port, topic="homeassistant/#")  # retained: a late Home Assistant sees them
    wait_until(lambda: len(late.messages) >= SENSORS and all(r for _, _, r in late.messages), 10,
               "retained discovery configs")
    # Home Assistant's birth message: everything announced again
    before = len(watcher.topics("homeassistant/sensor/"))
    watcher.client.publish("homeassistant/status", "online")
    wait_until(lambda: len(watcher.topics("homeassistant/sensor/")) >= before + SENSORS, 10,
               "discovery announced again after Home Assistant's birth message")
    status = rig.status()
    assert re.match(r"connected to 127\.0\.0\.1:%d; \d+ messages sent, 0 reconnects$" % broker.port,
                    status["mqtt"]), status["mqtt"]
    assert status["stall"] < STALL_LIMIT_MS, status["text"]
    # the process dies without a word: the broker publishes its last will, retained
    firmware.process.send_signal(signal.SIGKILL)
    firmware.process.wait(5)
    wait_until(lambda: (b"offline", False) in watcher.on("hanreader/status"), 10, "the last will")
    after = rig.subscriber(broker.port, topic="hanreader/status")
    assert after.wait("hanreader/status")[0] == (b"offline", True)


def test_broker_stopped_and_started_again(rig):
    broker = rig.broker()
    watcher = rig.subscriber(broker.port)
    rig.firmware({"port": broker.port})
    watcher.wait("hanreader/state")
    broker.stop()
    down = rig.status()
    wait_until(lambda: rig.status()["mqtt"].startswith("down: "), 10, "MQTT down in the status")
    during = meter_goes_on(rig, down, 3, "the broker is away")  # the firmware retries, backing off
    wait_until(lambda: re.match(r"down: (connection refused|the broker closed the connection); retry in \d+ s",
                                rig.status()["mqtt"]), 10, "why, in the status")
    print("\nbroker stopped: MQTT: %s; loop stall max %d ms" % (during["mqtt"], during["stall"]))
    broker.start()
    again = rig.subscriber(broker.port)
    again.wait("hanreader/state", timeout=30)
    # the restarted broker kept nothing: what it has now was announced again
    assert again.wait("hanreader/status")[0][0] == b"online"
    wait_until(lambda: len(set(again.topics("homeassistant/sensor/"))) == SENSORS, 10,
               "discovery announced again after the reconnection")
    status = rig.status()
    assert re.match(r"connected to .*; \d+ messages sent, 1 reconnect; last error: ", status["mqtt"]), \
        status["mqtt"]
    assert status["stall"] < STALL_LIMIT_MS, status["text"]
    print("\nbroker stopped and started: loop stall max %d ms" % status["stall"])


def test_a_broker_that_accepts_but_never_answers(rig):
    port = free_port()
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", port))
    silent.listen(8)  # the kernel accepts connections; nobody ever reads or answers
    try:
        rig.firmware({"port": port})
        first = rig.status()
        wait_until(lambda: "did not answer" in rig.status()["mqtt"], 15, "the silent broker noticed")
        during = meter_goes_on(rig, first, 4, "the broker says nothing")
        assert during["stall"] < STALL_LIMIT_MS, during["text"]
        print("\nsilent broker: MQTT: %s; loop stall max %d ms" % (during["mqtt"], during["stall"]))
    finally:
        silent.close()
    broker = rig.broker(port=port)  # a real broker on that port now
    watcher = rig.subscriber(port)
    watcher.wait("hanreader/state", timeout=30)
    status = rig.status()
    assert status["mqtt"].startswith("connected"), status["mqtt"]
    assert status["stall"] < STALL_LIMIT_MS, status["text"]


def test_wrong_password_then_the_right_one(rig, tmp_path):
    passwords = str(tmp_path / "passwords")
    subprocess.run(["mosquitto_passwd", "-b", "-c", passwords, "meter", "other"], check=True)
    broker = rig.broker(settings=("allow_anonymous false", "password_file " + passwords))
    rig.firmware({"port": broker.port, "user": "meter", "password": "s3cret"})
    first = rig.status()
    wait_until(lambda: "refused" in rig.status()["mqtt"], 15, "the refusal in the status")
    status = rig.status()
    assert re.match(r"down: the broker refused the connection: (wrong user name or password|not author)",
                    status["mqtt"]), status["mqtt"]
    during = meter_goes_on(rig, first, 3, "the broker refuses")
    print("\nwrong password: MQTT: %s; loop stall max %d ms" % (during["mqtt"], during["stall"]))
    subprocess.run(["mosquitto_passwd", "-b", passwords, "meter", "s3cret"], check=True)
    broker.process.send_signal(signal.SIGHUP)  # Mosquitto reads its password file again
    watcher = rig.subscriber(broker.port, user=("meter", "s3cret"))
    watcher.wait("hanreader/state", timeout=30)
    assert rig.status()["mqtt"].startswith("connected")
    status = rig.status()
    assert status["stall"] < STALL_LIMIT_MS, status["text"]


def test_a_broker_that_stops_answering_mid_session(rig):
    broker = rig.broker()
    watcher = rig.subscriber(broker.port)
    rig.firmware({"port": broker.port})
    watcher.wait("hanreader/state")
    first = rig.status()
    broker.process.send_signal(signal.SIGSTOP)  # frozen: connections stay open, nothing answers
    try:
        wait_until(lambda: "stopped answering" in rig.status()["mqtt"], 25, "the unanswered ping noticed")
        during = meter_goes_on(rig, first, 5, "the broker is frozen")
        assert during["stall"] < STALL_LIMIT_MS, during["text"]
        print("\nfrozen broker: MQTT: %s; loop stall max %d ms" % (during["mqtt"], during["stall"]))
    finally:
        broker.process.send_signal(signal.SIGCONT)
    sent = len(watcher.on("hanreader/state"))
    watcher.wait("hanreader/state", timeout=30, count=sent + 1)
    wait_until(lambda: rig.status()["mqtt"].startswith("connected"), 20, "connected again")


def self_signed_certificate(folder):
    """A key and certificate for 127.0.0.1 (the device does not check it: it has no CA)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_path, certificate_path = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    with open(certificate_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, certificate_path


def test_tls_with_user_and_password(rig, tmp_path):
    key, certificate = self_signed_certificate(str(tmp_path))
    passwords = str(tmp_path / "passwords")
    subprocess.run(["mosquitto_passwd", "-b", "-c", passwords, "meter", "s3cret"], check=True)
    broker = rig.broker(settings=("certfile " + certificate, "keyfile " + key, "allow_anonymous false",
                                  "password_file " + passwords))
    watcher = rig.subscriber(broker.port, tls=True, user=("meter", "s3cret"))
    rig.firmware({"port": broker.port, "tls": True, "user": "meter", "password": "s3cret"})
    check_state(watcher.wait("hanreader/state")[0][0])
    status = rig.status()
    assert status["mqtt"].startswith("connected"), status["mqtt"]
    assert status["stall"] < 200, status["text"]  # the TLS handshake's arithmetic holds the loop
    print("\nTLS: loop stall max %d ms (the handshake)" % status["stall"])


@pytest.mark.parametrize("kind", sim_broker.KINDS)
def test_make_sim_starts_a_broker_when_none_is_configured(tmp_path, kind):
    if kind == "mosquitto" and not sim_broker.mosquitto_binary():
        pytest.fail("Mosquitto is not installed (make test installs it: apt-get install mosquitto)")
    log_path = str(tmp_path / "sim.log")
    log = open(log_path, "w")
    os.makedirs(str(tmp_path / "data"))
    with open(str(tmp_path / "data" / "config.json"), "w") as f:
        json.dump({"meter": FIXED_SERIAL}, f)  # no search for the serial setting: quicker
    runner = subprocess.Popen(
        [sys.executable, os.path.join(TOOLS, "sim.py"), "--meter", "kamstrup-se", "--speed", "10", "--broker",
         kind, "--telnet-port", str(free_port()), "--web-port", str(free_port()), "--data", str(tmp_path / "data")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
    watcher = None
    try:
        def banner():
            with open(log_path) as f:
                return re.search(r"MQTT:    broker 127\.0\.0\.1:(\d+) \((\w+), started by make sim", f.read())
        found = wait_until(banner, 40, "the MQTT line of the banner")
        assert found.group(2) == kind
        watcher = Subscriber(int(found.group(1)))
        state = json.loads(watcher.wait("hanreader/state", timeout=30)[0][0])
        assert state["power_import"]["unit"] == "W"
        with open(str(tmp_path / "data" / "config.json")) as f:
            assert json.load(f) == {"meter": FIXED_SERIAL}  # the device's config is left alone
    finally:
        if watcher:
            watcher.close()
        runner.send_signal(signal.SIGINT)
        try:
            runner.wait(15)
        finally:
            stop(runner)
            log.close()
