"""What the web server costs in MicroPython's heap, precompiled (.mpy) and with gzipped pages as on
the board; figures are for the 64-bit unix port, where most objects take about twice their ESP32
size.

* tests/web_heap_app.py runs the web server alone on a small app (the real State with an hour of
  power and a reading): what stays loaded (gc.mem_alloc after a collection), what each dashboard
  request allocates in all (collector off), the peak live heap while each is answered, and while
  a browser polls the dashboard's data; then, in a bounded heap (WEB_HEAP), three browsers'
  worth of concurrent dashboard loads (page, CSS, JS, data, history, status) without a
  MemoryError.
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
FIRMWARE_HEAP = "144K"  # 3 browsers loading the dashboard at once while a plain meter is read (136K: a 503)
DASHBOARD = ("/", "/app.css", "/app.js", "/api/data", "/api/history?after=0", "/api/status")
POLLS = 3
POLL_S = 2  # the dashboard asks for its data this often (www/app.js: POLL_MS)
HISTORY_COUNT = 360  # web_heap_app.py's samples: the polls ask for what came after them (none)
BROWSER = {  # what Chromium sends with a dashboard's fetch() (Host and Connection come from http.client)
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
                  "Safari/537.36",
    "Accept": "*/*", "Referer": "http://hanreader.local/", "Accept-Encoding": "gzip, deflate",
    "Accept-Language": "en-US,en;q=0.9", "Cookie": "hanreader=0123456789abcdef0123456789abcdef",
    "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
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

    def __init__(self, firmware_dir, heap, measured, ap=False):
        self.http_port = free_port()
        self.lines = []
        self.process = subprocess.Popen(
            [micropython_binary(), "-X", "heapsize=" + heap, os.path.join(ROOT, "tests", "web_heap_app.py"),
             str(self.http_port), str(measured)] + (["ap"] if ap else []),
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
    measured = 2 * len(DASHBOARD)
    harness = Harness(firmware_dir, "512K", measured)
    try:
        imports = {line.split()[1]: int(line.split()[2]) for line in harness.wait_for("import")}
        base = int(harness.wait_for("base")[0].split()[1])
        idle = int(harness.wait_for("ready")[0].split()[1])
        visit = 3 * DASHBOARD  # the first round loads the code; then allocations, then peaks
        for path in visit:
            response = harness.get(path, **BROWSER)
            assert response.status == 200, (path, response)
        # Once the answering code is gone, a browser watching the dashboard: what it costs from
        # then on (the names a visit interned stay: they are part of that idle heap).
        idle_after = int(harness.wait_for("unloaded")[0].split()[1])
        polls = POLLS * ("/api/data", "/api/history?after=%d" % HISTORY_COUNT)
        for path in polls:
            response = harness.get(path, **BROWSER)
            assert response.status == 200, (path, response)
        allocations = [int(line.split()[1]) for line in harness.wait_for("alloc", measured)]
        peaks = [[int(n) for n in line.split()[1:]] for line in harness.wait_for("peak", len(visit + polls) - measured)]
        # With the board's LINGER_MS (the polls came with it): the answering code goes as each
        # poll's connection closes, the watcher of time limits before the next poll; nothing of
        # the polls stays.
        polled_at = time.monotonic()
        idle_between = int(harness.wait_for("unloaded", 2)[1].split()[1])
        unloaded_after = time.monotonic() - polled_at
    finally:
        harness.close()
    # With the access point open (no network set, as at the first start): the polls must not load
    # what answers captive-portal checks (tests/test_web_api.py checks the redirects).
    harness = Harness(firmware_dir, "512K", measured=0, ap=True)
    try:
        for path in DASHBOARD:
            assert harness.get(path, Host="192.168.4.1").status == 200, path
        idle_ap = int(harness.wait_for("unloaded")[0].split()[1])  # the visit's names interned, as above
        for path in polls:
            response = harness.get(path, Host="192.168.4.1")
            assert response.status == 200, (path, response)
        peaks_ap = [[int(n) for n in line.split()[1:]] for line in harness.wait_for("peak", len(DASHBOARD + polls))]
    finally:
        harness.close()
    polling_ap = max(peak for peak, _ in peaks_ap[len(DASHBOARD):]) - idle_ap
    watching_ap = peaks_ap[-1][1] - idle_ap
    harness = Harness(firmware_dir, WEB_HEAP, measured=0)
    try:
        failures = load_dashboard(harness)
        status = harness.get("/api/status").json()
        assert harness.process.poll() is None, "\n".join(harness.lines)
        assert failures == [] and not [line for line in harness.lines if "MemoryError" in line], \
            (failures, harness.lines)
    finally:
        harness.close()
    steady = dict(zip(DASHBOARD, allocations[len(DASHBOARD):]))
    page_peaks = dict(zip(DASHBOARD, (peak for peak, _ in peaks[:len(DASHBOARD)])))
    polling = max(peak for peak, _ in peaks[len(DASHBOARD):]) - idle_after
    watching = peaks[-1][1] - idle_after  # what stays once a poll is done
    record(["web server alone, precompiled, -X heapsize=%s (64-bit unix port), requests with a browser's headers:"
            % WEB_HEAP,
            "  live heap: app.web.server %d B and Web() %d B stay loaded (no slot: each connection's is made for "
            "it) (idle: %d B, harness base %d B); idle after a visit %d B more (names interned)" % (
                imports["app.web.server"], imports["Web()"], idle, base, idle_after - idle),
            "  allocated per request (all of it, collector off): " +
            ", ".join("%s %d B" % (path, size) for path, size in steady.items()),
            "  peak live heap above idle while answering: " +
            ", ".join("%s %d B" % (path, peak - idle) for path, peak in page_peaks.items()),
            "  a dashboard polling /api/data and /api/history: peak %d B above idle (after a visit), %d B "
            "once a poll is done (the answering code goes with its connection)" % (polling, watching),
            "  the same with the access point open: peak %d B above idle (after a visit), "
            "%d B once a poll is done" % (polling_ap, watching_ap),
            "  the answering code unloaded %.2f s after the last poll (the dashboard polls every %d s): "
            "live heap %d B above idle" % (unloaded_after, POLL_S, idle_between - idle_after),
            "  %d clients x %d dashboard loads in %s: no failure; live heap after %d B, free %d B" % (
                CLIENTS, ROUNDS, WEB_HEAP, status["heap_used"], status["heap_free"])])
    # Regressions: what stays loaded, what a dashboard's polls hold and allocate.
    assert imports["app.web.server"] + imports["Web()"] < 3500
    assert imports["Web()"] < 512  # no slot (its Request and 256-byte buffer) is kept between connections
    # A request's allocations include its connection's slot (its 256-byte buffer), made for it. A
    # poll of /api/data loads han.text (values' text and friendly names), which the decoder does
    # not keep (1.3 KB of it stayed loaded in han.values before); /api/history does not.
    # (/api/history's 360 samples go out in pieces of the 256-byte buffer: each wait for the
    # socket allocates; the room a poll holds is what counts, polling above)
    assert polling < 15500 and steady["/api/data"] < 10500 and steady["/api/history?after=0"] < 11000
    assert steady["/api/status"] < 8000  # the status page's poll: http.py and status.py, no routes.py
    assert watching_ap < watching + 200 and polling_ap < polling + 200
    assert unloaded_after < POLL_S and idle_between - idle_after < 512  # a few blocks: what the last poll left
    assert watching < 1024  # the answering code went with the poll's connection


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


def test_the_dashboard_is_served_when_the_free_heap_is_in_small_pieces(firmware_dir):
    # After hours of readings, pages and MQTT turns the free room in the heap is scattered, and
    # each request loads its answering code (http.py with api.py, status.py or pages.py) into it:
    # no piece of that code, nor the connection's buffer (http.BUFFER, 256 B), may be large. With
    # everything on in 144K, polls found no 634-656 B piece for http.exchange's code and got a
    # 503; the code before needed 608-640 B pieces for a poll and 576 B for a page here
    # (routes.py's constant table took 544 B). In 112K, between 448 and 544 B were the largest
    # free pieces when a poll came.
    piece = 448
    proc = subprocess.run(
        [micropython_binary(), "-X", "heapsize=160K", os.path.join(ROOT, "tests", "web_pieces_app.py"), str(piece)]
        + list(DASHBOARD), env=dict(os.environ, MICROPYPATH=os.path.join(firmware_dir, "lib") + ":.frozen"),
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line for line in lines if line.startswith("largest")] == ["largest %d" % piece] * len(DASHBOARD), lines
    assert [line for line in lines if line.startswith("/")] == ["%s HTTP/1.1 200 OK" % p for p in DASHBOARD], lines
    record(["web server alone, precompiled: the dashboard (page, files, polls) served with the free heap in "
            "%d-byte pieces" % piece])
