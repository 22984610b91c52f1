"""What the web server costs in MicroPython's heap, precompiled (.mpy) and with gzipped pages as on
the board; figures are for the 64-bit unix port, where most objects take about twice their ESP32
size.

* tests/web_heap_app.py runs the web server alone on a small app (the real State with an hour of
  power and a reading) in a bounded heap (WEB_HEAP): the live heap of each module (gc.mem_alloc
  after a collection), what each dashboard request allocates in all (collector off), and then
  three browsers' worth of concurrent dashboard loads (page, CSS, JS, data, history, status)
  without a MemoryError.
* the whole firmware, reading the simulated meter in a bounded heap (FIRMWARE_HEAP), serves the
  dashboard to three concurrent clients while the meter goes on.

The figures are printed (pytest -s) and written to test-artifacts/web-heap.txt.
"""
import gzip
import os
import subprocess
import threading
import time

import pytest
from conftest import micropython_binary
from sim_support import ROOT, free_port
from web_support import ARTIFACTS, Device, Rig, build_firmware

WEB_HEAP = "96K"        # the web server alone serves in 88K here (its harness included)
FIRMWARE_HEAP = "224K"  # the runtime without web needs ~160K here today; lower both as it slims
DASHBOARD = ("/", "/app.css", "/app.js", "/api/data", "/api/history?after=0", "/api/status")
STATIC = {"/": "index.html", "/app.css": "app.css", "/app.js": "app.js"}
CLIENTS = 3
ROUNDS = 4


@pytest.fixture(scope="module")
def firmware_dir(tmp_path_factory):
    return build_firmware(str(tmp_path_factory.mktemp("precompiled") / "firmware"))


def record(lines):
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "web-heap.txt"), "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


def load_dashboard(device, rounds=ROUNDS, clients=CLIENTS):
    """`clients` threads each loading the dashboard `rounds` times; the failures."""
    failures = []

    def client():
        for _ in range(rounds):
            for path in DASHBOARD:
                try:
                    response = device.get(path, **{"Accept-Encoding": "gzip"})
                    if response.status != 200:
                        failures.append((path, response.status))
                    elif path in STATIC:
                        with open(os.path.join(ROOT, "firmware", "www", STATIC[path]), "rb") as f:
                            if response.headers.get("content-encoding") != "gzip" or \
                                    gzip.decompress(response.body) != f.read():
                                failures.append((path, "not the gzipped page"))
                except OSError as e:
                    failures.append((path, repr(e)))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return failures


class Harness:
    """tests/web_heap_app.py under MicroPython with the precompiled library."""

    def __init__(self, firmware_dir, heap, measured):
        self.http_port = free_port()
        self.lines = []
        self.process = subprocess.Popen(
            [micropython_binary(), "-X", "heapsize=" + heap, os.path.join(ROOT, "tests", "web_heap_app.py"),
             str(self.http_port), str(measured)],
            env=dict(os.environ, MICROPYPATH=os.path.join(firmware_dir, "lib") + ":.frozen"), cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait_for("ready")

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, prefix, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        while len([line for line in self.lines if line.startswith(prefix)]) < count:
            assert self.process.poll() is None or not self.reader.is_alive() and False, "\n".join(self.lines)
            assert time.monotonic() < deadline, "no %r:\n%s" % (prefix, "\n".join(self.lines))
            time.sleep(0.05)
        return [line for line in self.lines if line.startswith(prefix)]

    def get(self, path, **headers):
        return Device.request(self, "GET", path, headers=headers)

    def close(self):
        self.process.kill()
        self.process.wait(5)


def test_web_server_heap_costs_and_serving_in_a_bounded_heap(firmware_dir):
    # Allocations are counted with the collector off: in a large heap, or they would exhaust it.
    harness = Harness(firmware_dir, "512K", measured=2 * len(DASHBOARD))
    try:
        imports = {line.split()[1]: int(line.split()[2]) for line in harness.wait_for("import")}
        base = int(harness.wait_for("base")[0].split()[1])
        ready = int(harness.wait_for("ready")[0].split()[2])
        for _ in range(2):  # the first round loads api.py; the second is the steady state
            for path in DASHBOARD:
                response = harness.get(path)
                assert response.status == 200, (path, response)
        allocations = [line.split() for line in harness.wait_for("alloc", 2 * len(DASHBOARD))]
    finally:
        harness.close()
    harness = Harness(firmware_dir, WEB_HEAP, measured=0)
    try:
        failures = load_dashboard(harness)
        status = harness.get("/api/status").json()
        assert harness.process.poll() is None, "\n".join(harness.lines)
        assert failures == [] and not [line for line in harness.lines if "MemoryError" in line], \
            (failures, harness.lines)
    finally:
        harness.close()
    steady = {path: int(size) for _, path, size in allocations[len(DASHBOARD):]}
    record(["web server alone, precompiled, -X heapsize=%s (64-bit unix port):" % WEB_HEAP,
            "  live heap: app.web.server %d B (stays loaded), app.web.http %d B and app.web.api %d B (while "
            "requests come), Web() with %d slot buffers %d B; web total %d B (harness base %d B)" % (
                imports["app.web.server"], imports["app.web.http"], imports["app.web.api"], 3, imports["Web()"],
                ready, base),
            "  allocated per request (all of it, collector off): " +
            ", ".join("%s %d B" % (path, size) for path, size in steady.items()),
            "  %d clients x %d dashboard loads in %s: no failure; live heap after %d B, free %d B" % (
                CLIENTS, ROUNDS, WEB_HEAP, status["heap_used"], status["heap_free"])])
    # Regressions: each module's live heap (the server was one module: its two parts together), and
    # what a dashboard request allocates.
    assert imports["app.web.server"] + imports["app.web.http"] < 20000 and imports["app.web.api"] < 8000 \
        and imports["Web()"] < 4000
    assert steady["/api/history"] < 16000 and steady["/app.js"] < 16000 and steady["/api/data"] < 28000


def test_the_whole_firmware_serves_the_dashboard_in_a_bounded_heap(firmware_dir, tmp_path):
    rig = Rig(tmp_path)
    try:
        device = rig.start({}, heap=FIRMWARE_HEAP, firmware_dir=firmware_dir, speed="10")
        before = device.wait_readings(2)
        failures = load_dashboard(device)
        after = device.wait_readings(before["good"] + 2)
        assert failures == [] and device.process.poll() is None, (failures, device.console()[-2000:])
        assert "MemoryError" not in device.console() and after["loop_stall_ms"] < 50, after
    finally:
        rig.close()
    record(["whole firmware, precompiled, -X heapsize=%s, meter at 10x speed, %d clients x %d dashboard loads:"
            % (FIRMWARE_HEAP, CLIENTS, ROUNDS),
            "  live heap %d B before, %d B after (free %d B); readings %d -> %d; longest loop stall %d ms" % (
                before["heap_used"], after["heap_used"], after["heap_free"], before["good"], after["good"],
                after["loop_stall_ms"])])
