"""Helpers for the web tests: the firmware under the MicroPython unix port with its web server on
a free port (against tools/meter_sim.py), plain HTTP requests from CPython, and headless Chromium
for the browser tests (Debian's /usr/bin/chromium, started here; nothing is downloaded)."""
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import micropython_binary
from sim_support import KAMSTRUP, ROOT, TOOLS, MeterSim, free_port, stop

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIXED_SERIAL = {"baud": 2400, "parity": "N", "bits": 8, "stop_bits": 1}  # no automatic search
PASSWORD = "correct horse"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lowercase name: value}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


class Device:
    """firmware/main.py (or a precompiled copy in `firmware_dir`) under the unix port, reading a
    meter simulator on `serial_port`; its output goes to data/console.log."""

    def __init__(self, data, serial_port, config=None, heap=None, firmware_dir=None, http_port=None):
        os.makedirs(data, exist_ok=True)
        self.data = data
        if config is not None:
            with open(self.config_path(), "w") as f:
                json.dump(config, f)
        self.http_port = http_port or free_port()  # the same port again: a browser's page goes on
        self.telnet_port = free_port()
        self.output_path = os.path.join(data, "console.log")
        self.output = open(self.output_path, "a")
        env = dict(os.environ, HANREADER_SERIAL="127.0.0.1:%d" % serial_port, HANREADER_DATA=str(data),
                   HANREADER_TELNET_PORT=str(self.telnet_port), HANREADER_HTTP_PORT=str(self.http_port))
        for name in ("HANREADER_BOOT_BUTTON", "HANREADER_WIFI", "HANREADER_DNS_PORT", "HANREADER_HEALTHY_MS",
                     "HANREADER_MQTT_BROKER", "MICROPYPATH"):
            env.pop(name, None)
        main = os.path.join(ROOT, "firmware", "main.py")
        if firmware_dir:
            main = os.path.join(firmware_dir, "main.py")
            env["MICROPYPATH"] = os.path.join(firmware_dir, "lib") + ":.frozen"
        command = [micropython_binary()] + (["-X", "heapsize=" + heap] if heap else []) + [main]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.output,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready()

    def config_path(self):
        return os.path.join(self.data, "config.json")

    def console(self):
        with open(self.output_path, errors="replace") as f:
            return f.read()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError("the firmware exited with %s:\n%s" % (self.process.returncode,
                                                                              self.console()[-3000:]))
                if time.monotonic() > deadline:
                    raise AssertionError("no web server after %d s:\n%s" % (timeout, self.console()[-3000:]))
                time.sleep(0.1)

    def request(self, method, path, body=None, headers=None, timeout=15):
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            connection.close()

    def get(self, path, **headers):
        return self.request("GET", path, headers=headers)

    def post(self, path, fields=None, headers=None, body=None):
        headers = dict(headers or {})
        if fields is not None:
            body = "&".join("%s=%s" % (k, _quote(v)) for k, v in fields.items())
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return self.request("POST", path, body=body, headers=headers)

    def status(self):
        response = self.get("/api/status")
        assert response.status == 200, response
        return response.json()

    def wait_readings(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status["good"] >= count:
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.2)

    def wait_exit(self, timeout=15):
        return self.process.wait(timeout)

    def close(self):
        stop(self.process)
        self.output.close()


def _quote(value):
    from urllib.parse import quote_plus
    return quote_plus(str(value))


def basic(password=PASSWORD):
    return {"Authorization": "Basic " + base64.b64encode(("admin:" + password).encode()).decode()}


def log_in(device, password=PASSWORD):
    """{"Cookie", "X-CSRF-Token"} headers of a new session (the password is set first if need be)."""
    session = device.get("/api/session").json()
    response = device.post("/api/login" if session["password_set"] else "/api/password",
                           {"password": password, "password2": password})
    assert response.status == 200, response
    cookie = response.headers["set-cookie"].split(";")[0]
    return {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf"]}


class Rig:
    """Meter simulators and devices started by a test; all stopped at the end."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.started = []
        self.meter = None

    def start(self, config=None, capture=KAMSTRUP, data=None, heap=None, firmware_dir=None, sim_args=(),
              speed="10", http_port=None):
        if self.meter is None:
            self.meter = MeterSim(capture, "--quiet", "--seed", "1", "--speed", speed, "--offset", "0.5", *sim_args)
            self.started.append(self.meter)
        if config is not None:
            config = dict(config)
            config["meter"] = dict(FIXED_SERIAL, **config.get("meter", {}))
        device = Device(str(data or self.tmp_path / "data"), self.meter.port, config, heap, firmware_dir, http_port)
        self.started.append(device)
        return device

    def close(self):
        for item in reversed(self.started):
            item.close()


@pytest.fixture
def rig(tmp_path):
    """A Rig (the firmware and its meter simulator) for one test, stopped afterwards."""
    rig = Rig(tmp_path)
    try:
        yield rig
    finally:
        rig.close()


def build_firmware(target):
    """firmware/ as the board gets it, precompiled for this machine, pages gzipped."""
    sys.path.insert(0, TOOLS)
    import build_mpy
    import build_www
    build_mpy.build(os.path.join(ROOT, "firmware", "lib"), os.path.join(target, "lib"), "host")
    build_www.build(os.path.join(ROOT, "firmware", "www"), os.path.join(target, "www"))
    shutil.copy(os.path.join(ROOT, "firmware", "main.py"), target)
    return target


def chromium_available():
    return os.path.exists(CHROMIUM)


class Browser:
    """Headless Debian Chromium driven by Playwright, in a fresh profile; screenshots go to
    test-artifacts/."""

    def __init__(self, width=1000, height=900):
        from playwright.sync_api import sync_playwright
        self.playwright = sync_playwright().start()
        self.contexts = []
        self.profiles = []
        self.errors = []
        try:
            self.page = self.new_page(width, height)
        except Exception:
            self.close()
            raise

    def new_page(self, width=1000, height=900):
        """A page in a browser of its own (a fresh profile: no cookies)."""
        profile = tempfile.mkdtemp(prefix="hanreader-chromium-")
        self.profiles.append(profile)
        context = self.playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height})
        self.contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def screenshot(self, name, page=None):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name + ".png")
        (page or self.page).screenshot(path=path, full_page=True)
        return path

    def close(self):
        try:
            for context in self.contexts:
                context.close()
        finally:
            self.playwright.stop()
            for profile in self.profiles:
                shutil.rmtree(profile, ignore_errors=True)
