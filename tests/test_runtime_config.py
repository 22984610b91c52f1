"""The firmware as a process on the unix port (no meter needed): a corrupt config boots with the
defaults and is kept aside, a saved config survives restarts, the BOOT button skips main.py,
and three crashed starts in a row give safe mode.

A "crash" here is the process killed (SIGKILL) before it has run healthily: like a board that
resets or loses power, it gets no chance to clear the boot guard's count. HANREADER_HEALTHY_MS
shortens the healthy run where a test needs one; elsewhere it is the firmware's default (60 s).
A deliberate restart is the telnet `reboot` command (the process exits with 3, as a board resets).
"""
import json
import os
import socket
import subprocess
import threading
import time

import pytest
from conftest import micropython_binary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "000102030405060708090A0B0C0D0E0F"
SECRET = "Wifi-Secret-4711"
EXIT_REBOOT = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Firmware:
    """One run of `micropython firmware/main.py`, its output gathered line by line."""

    def __init__(self, data, telnet_port, **env):
        environment = dict(os.environ)
        environment.update({
            "HANREADER_DATA": str(data),
            "HANREADER_SERIAL": "127.0.0.1:%d" % free_port(),  # nothing listens: no meter
            "HANREADER_TELNET_PORT": str(telnet_port),
            "HANREADER_HTTP_PORT": str(free_port()),
        })
        environment.pop("HANREADER_HEALTHY_MS", None)
        environment.pop("HANREADER_BOOT_BUTTON", None)
        environment.update(env)
        self.telnet_port = telnet_port
        self.lines = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen([micropython_binary(), "firmware/main.py"], cwd=ROOT,
                                        env=environment, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.process.stdout:
            with self.changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                self.changed.notify_all()

    def output(self):
        with self.changed:
            return "\n".join(self.lines)

    def wait_for(self, text, timeout=20):
        """The first output line containing `text` (fails if the process ends first)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError("no %r in the output:\n%s" % (text, "\n".join(self.lines)))
                self.changed.wait(min(left, 0.1))

    def crash(self):
        self.process.kill()
        self.process.wait(10)
        self.reader.join(5)

    def finish(self, timeout=10):
        code = self.process.wait(timeout)
        self.reader.join(5)
        return code

    def stop(self):
        if self.process.poll() is None:
            self.crash()


class Console:
    """A telnet client of the firmware's debug console (which sends the recent log on connect)."""

    HELP = "Commands: help"  # starts the reply to `help` (and is in the greeting)

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.received = ""
        self.at = 0  # what expect() has looked at
        # The greeting and the recent log, in whichever order they come.
        self.recent = self.expect(self.HELP, "Heap free after start")

    def expect(self, *texts):
        """What arrives up to the end of the last of the next lines containing the `texts`."""
        deadline = time.monotonic() + 10
        while True:
            ends = []
            for text in texts:
                found = self.received.find(text, self.at)
                ends.append(self.received.find("\n", found) if found >= 0 else -1)
            if min(ends) >= 0:
                seen, self.at = self.received[self.at:max(ends) + 1], max(ends) + 1
                return seen
            assert time.monotonic() < deadline, "no %r from telnet; got %r" % (text, self.received)
            data = self.sock.recv(4096)
            assert data, "telnet closed; got %r" % self.received
            self.received += data.decode(errors="replace").replace("\r", "")

    def ask(self, command):
        """The reply to `command`: everything up to the reply to a following `help`."""
        self.sock.sendall(command.encode() + b"\r\nhelp\r\n")
        return self.expect(self.HELP).rsplit(self.HELP, 1)[0]

    def config(self):
        """The `config` command's lines as {"section.field": shown value}."""
        shown = {}
        for line in self.ask("config").splitlines():
            if " = " in line and not line.startswith("("):
                name, value = line.split(" = ", 1)
                shown[name] = value
        return shown

    def close(self):
        self.sock.close()


def start(data, **env):
    """A normal start: returns the firmware once its telnet console is up."""
    firmware = Firmware(data, free_port(), **env)
    try:
        firmware.wait_for("Telnet console on port %d" % firmware.telnet_port)
    except BaseException:
        firmware.stop()
        raise
    return firmware


def reboot(firmware):
    """A deliberate restart, through telnet: the process ends as a board would reset."""
    console = Console(firmware.telnet_port)
    console.sock.sendall(b"reboot\r\n")
    assert firmware.finish() == EXIT_REBOOT, firmware.output()
    console.close()


def crashes(data):
    with open(os.path.join(str(data), "crashes")) as f:
        return int(f.read())


def shown_defaults():
    from app import config as store
    shown = store.masked(store.defaults())
    return {"%s.%s" % (s, f): repr(v) for s in shown for f, v in shown[s].items()}


def save_with_micropython(data, changes):
    """Write the config as the device does: app.config.save under MicroPython."""
    script = ("import sys, json; sys.path.insert(0, 'firmware/lib'); from app import config as c; "
              "c.save(sys.argv[1], c.merged(c.defaults(), json.loads(sys.argv[2])))")
    proc = subprocess.run([micropython_binary(), "-c", script, str(data), json.dumps(changes)],
                          cwd=ROOT, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()


def test_corrupt_config_boots_with_defaults_and_is_kept_aside(tmp_path):
    corrupt = b'{"wifi": {"ssid": "home", "password": "' + SECRET.encode() + b'", '
    (tmp_path / "config.json").write_bytes(corrupt)
    firmware = start(tmp_path)
    try:
        why = ("(E) config.json is unreadable (syntax error in JSON): kept as config.bad.json; "
               "using the defaults (access point)")
        assert firmware.wait_for("config.json is unreadable") == why
        console = Console(firmware.telnet_port)
        assert why in console.recent  # the log kept for telnet says why, too
        assert console.config() == shown_defaults()
        status = console.ask("status")
        assert "GPIO16" in status and "SAFE MODE" not in status
        console.close()
        assert (tmp_path / "config.bad.json").read_bytes() == corrupt
        assert not (tmp_path / "config.json").exists()
        reboot(firmware)
        assert SECRET not in firmware.output()
        assert crashes(tmp_path) == 0  # a deliberate reboot is not a crash
    finally:
        firmware.stop()
    again = start(tmp_path)  # the bad file stays aside; nothing new to complain about
    try:
        assert "unreadable" not in again.output()
        assert (tmp_path / "config.bad.json").read_bytes() == corrupt
    finally:
        again.stop()


def test_saved_config_persists_across_restarts(tmp_path):
    first = start(tmp_path)
    try:
        console = Console(first.telnet_port)
        assert console.config() == shown_defaults()  # first boot: nothing stored
        console.close()
        reboot(first)
    finally:
        first.stop()
    changes = {"meter": {"rx_pin": 25, "baud": 2400, "parity": "E", "key": KEY},
               "wifi": {"ssid": "home", "password": SECRET},
               "mqtt": {"host": "broker.lan"}, "telnet": {"level": "D"}}
    save_with_micropython(tmp_path, changes)
    expected = shown_defaults()
    expected.update({"meter.rx_pin": "25", "meter.baud": "2400", "meter.parity": "'E'",
                     "meter.key": "'set'", "wifi.ssid": "'home'", "wifi.password": "'set'",
                     "mqtt.host": "'broker.lan'", "telnet.level": "'D'"})
    for _ in range(2):  # the saved config, then the same after a restart
        firmware = start(tmp_path)
        try:
            firmware.wait_for("Reading the meter on GPIO25 at 2400 8E1")
            console = Console(firmware.telnet_port)
            assert console.config() == expected
            status = console.ask("status")
            assert "2400 8E1" in status and "GPIO25" in status
            console.close()
            reboot(firmware)
            output = firmware.output()
            assert SECRET not in output and KEY not in output and KEY.lower() not in output
            assert "unreadable" not in output and "invalid settings" not in output
        finally:
            firmware.stop()
    with open(tmp_path / "config.json") as f:
        stored = json.load(f)
    assert stored["meter"]["key"] == KEY and stored["wifi"]["ssid"] == "home"
    assert sorted(os.listdir(tmp_path)) == ["config.json", "crashes", "reset-cause"]


def test_boot_button_skips_main_py(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    started = time.monotonic()
    firmware = Firmware(data, port, HANREADER_BOOT_BUTTON="1")
    assert firmware.finish() == 0
    took = time.monotonic() - started
    assert firmware.output() == "hanreader: BOOT button held at start-up: main.py skipped, nothing started"
    assert not data.exists()  # not even the boot guard ran
    assert took < 5, took
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_three_crashed_starts_give_safe_mode_until_a_healthy_run(tmp_path):
    for count in range(3):
        firmware = start(tmp_path)
        try:
            if count:
                firmware.wait_for("Starts in a row that ended within 60 s: %d (" % count)
            assert "SAFE" not in firmware.output() and "Safe mode" not in firmware.output()
        finally:
            firmware.crash()
        assert crashes(tmp_path) == count + 1
    for healthy_ms in ("60000", "300"):  # a crash in safe mode stays in safe mode; then a healthy run
        before = crashes(tmp_path)
        firmware = Firmware(tmp_path, free_port(), HANREADER_HEALTHY_MS=healthy_ms)
        try:
            line = firmware.wait_for("Safe mode: ")
            assert line.startswith("(E) Safe mode: the last %d starts ended within %s s " % (
                before, "60" if healthy_ms == "60000" else "0.3"))
            assert "only the access point and the config page run" in line
            firmware.wait_for("Heap free after start")
            output = firmware.output()
            assert "Reading the meter" not in output and "Telnet console" not in output
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", firmware.telnet_port), timeout=1).close()
            if healthy_ms == "300":
                firmware.wait_for("Ran 0.3 s: crash counter cleared")
                assert crashes(tmp_path) == 0
        finally:
            firmware.crash()
    firmware = start(tmp_path)  # normal again
    try:
        console = Console(firmware.telnet_port)
        assert "SAFE MODE" not in console.ask("status")
        console.close()
        assert "Safe mode" not in firmware.output() and "Starts in a row" not in firmware.output()
    finally:
        firmware.crash()


def test_a_healthy_run_resets_the_count(tmp_path):
    for _ in range(2):
        start(tmp_path).crash()
    firmware = start(tmp_path, HANREADER_HEALTHY_MS="200")
    firmware.wait_for("Ran 0.2 s: crash counter cleared")
    firmware.crash()
    for _ in range(2):
        start(tmp_path).crash()
    firmware = start(tmp_path)
    try:
        assert "Safe mode" not in firmware.output()
        firmware.wait_for("Starts in a row that ended within 60 s: 2 (")
    finally:
        firmware.crash()
