"""The firmware's memory budget, measured: precompiled, in a bounded MicroPython heap, fed by
the simulated meter for many frames.

    python3 tools/memory_budget.py [--heap 112K] [--frames 10000] [--speed 400] [--mqtt]
                                   [--web SECONDS] [--capture CAPTURE]

Prints the live heap (after a collection) once the firmware has started, after the first
reading and at checkpoints up to the last frame, and exits non-zero if the firmware stops,
falls behind or its live heap grows. With --mqtt a broker is started (Mosquitto, else amqtt:
tools/sim_broker.py) and the firmware publishes every reading to it (umqtt.simple precompiled
too, as on the board); the checkpoints are taken while it is connected. With --web a browser
stand-in loads the dashboard and polls /api/data every SECONDS, as the page does. --capture picks
the meter (a frames/ path or a meter_sim alias; its sidecar's keys go into the config). The board has about 110 KB of Python heap; the unix port
here is 64-bit, where most objects take about twice the room they take on the ESP32.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import build_mpy  # noqa: E402
import meter_sim  # noqa: E402
import sim_broker  # noqa: E402

CAPTURE = os.path.join(ROOT, "frames", "amshan", "kamstrup-se-list-3phase-hdlc.bin")
UPY_LIB = os.path.join(ROOT, ".venv", "upy-lib")  # umqtt.simple (tools/fetch_umqtt.py, make venv)
_FIRST_CONNECT_S = 35  # the firmware's first MQTT connection comes by then (three attempts)


def micropython():
    venv = os.path.join(ROOT, ".venv", "bin", "micropython")
    return venv if os.path.exists(venv) else shutil.which("micropython")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_NO_ROOM = b"No room in the heap for the console now"  # app/telnet.py's words
_NO_ROOM_TRIES = 10


class Console:
    """The firmware's telnet console: `status` parsed into numbers."""

    def __init__(self, port, deadline):
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.buffer = b""
        self.lost = 0     # pushes the meter task lost for want of heap ("memory" errors)
        self.skipped = 0  # readings MQTT did not publish for want of heap

    def status(self):
        """[bytes, frames, readings, heap free, heap used] and the MQTT line ("off", "connected ...");
        pushes lost for want of heap so far in self.lost, readings MQTT skipped for it in
        self.skipped. When the console's code finds no room in
        the heap for a moment, `status` is asked again, as a user would (up to _NO_ROOM_TRIES times
        in a row)."""
        self.sock.sendall(b"status\r\n")
        end = time.monotonic() + 20
        tries = 1
        while time.monotonic() < end:
            if _NO_ROOM in self.buffer:
                if tries == _NO_ROOM_TRIES:
                    raise RuntimeError("the console had no room in the heap for `status` %d times in a row" % tries)
                tries += 1
                self.buffer = b""
                time.sleep(0.5)
                self.sock.sendall(b"status\r\n")
            text = self.buffer.decode(errors="replace")
            found = re.search(r"Bytes (\d+), frames (\d+), readings (\d+).*?Heap free (\d+) B, used (\d+) B"
                              r".*?MQTT: ([^\r\n]*)\r\n", text, re.S)
            if found:
                lost = re.search(r"errors: [^\r\n]*\bmemory (\d+)", text)
                self.lost = int(lost.group(1)) if lost else 0
                skipped = re.search(r"(\d+) readings? skipped for want of heap", found.group(6))
                self.skipped = int(skipped.group(1)) if skipped else 0
                self.buffer = b""
                return [int(x) for x in found.groups()[:5]], found.group(6)
            self.buffer += self.sock.recv(65536)
        raise RuntimeError("no status reply")


class Dashboard:
    """A browser watching the dashboard as firmware/www/app.js does: the page once, then
    /api/data every `every` seconds and, when it shows a new reading, /api/history for the power
    samples after those it has (each request on a new connection, as the page's fetch() does
    after a keep-alive timeout)."""

    def __init__(self, port, every):
        self.port, self.every = port, every
        self.next_at = 0
        self.requests = 0
        self.readings = -1  # what the last /api/data said
        self.count = 0      # power samples had so far
        self.last_at = 0    # when the last poll was answered

    def quiet(self):
        """The firmware has unloaded the code that answers polls (app/web/server.py: once no
        connection is open, checked every 250 ms): the live heap between polls."""
        return time.monotonic() - self.last_at >= 1.0

    def get(self, path):
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: hanreader\r\nConnection: close\r\n\r\n" % path.encode())
            answer = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("GET %s answered %r" % (path, answer[:200]))
        self.requests += 1
        return answer.split(b"\r\n\r\n", 1)[1]

    def poll(self):
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.every
        if not self.requests:
            self.get("/")
        data = json.loads(self.get("/api/data"))
        if data["readings"] != self.readings:
            self.readings = data["readings"]
            self.count = json.loads(self.get("/api/history?after=%d" % self.count))["count"]
        self.last_at = time.monotonic()


def meter_config(capture):
    """The config's meter part for a capture: its serial setting (no detection) and keys."""
    info = meter_sim.sidecar(capture)
    setting, _ = meter_sim.family_defaults(info)
    baud, frame = setting.split()[:2]
    meter = {"baud": int(baud), "parity": frame[1]}
    keys = info.get("keys") or {}
    if keys.get("encryption"):
        meter["key"] = keys["encryption"]
    if keys.get("authentication"):
        meter["auth_key"] = keys["authentication"]
    return meter


def build(target, mqtt=False):
    build_mpy.build(os.path.join(ROOT, "firmware", "lib"), os.path.join(target, "lib"), "host")
    if mqtt:  # umqtt.simple precompiled as well: frozen or installed as .mpy on the board
        build_mpy.build(UPY_LIB, os.path.join(target, "lib"), "host")
    shutil.copy(os.path.join(ROOT, "firmware", "main.py"), target)
    www = os.path.join(ROOT, "firmware", "www")
    if os.path.isdir(www):
        shutil.copytree(www, os.path.join(target, "www"))


def run(heap, frames, speed, report=print, mqtt=False, web=0, capture=CAPTURE, entry="main.py"):
    """Samples [(readings, live heap)] at the checkpoints and the pushes lost for want of heap
    (the meter's "memory" errors, and the readings MQTT skipped for it); raises RuntimeError when the firmware
    stops, falls behind, (with `mqtt`) does not stay connected to the broker or (with `web`
    seconds) does not answer the dashboard. `entry`: the script run in the firmware's folder
    (tools/heap_census.py runs its census_main.py, which runs main.py)."""
    capture = meter_sim.resolve(capture)
    work = tempfile.mkdtemp(prefix="hanreader-budget-")
    processes = []
    broker = None
    try:
        firmware_dir = os.path.join(work, "firmware")
        build(firmware_dir, mqtt)
        data = os.path.join(work, "data")
        os.mkdir(data)
        with open(os.path.join(data, "config.json"), "w") as f:  # a fixed setting: no detection
            # A network set, as on a board in use: it joins (the unix hal's network stands in) and
            # no access point is opened (that is for setting the device up, with no broker to reach)
            json.dump({"meter": meter_config(capture), "telnet": {"level": "W"},
                       "wifi": {"ssid": "home", "password": "not-a-secret"}}, f)
        serial, telnet, http = free_port(), free_port(), free_port()
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "meter_sim.py"), "--port", str(serial), "--control", "0",
             "--quiet", "--speed", str(speed), "--interval", "1", capture],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Run from the firmware's folder with a relative library path: module paths (interned
        # for good as __file__) are then as short as the board's "/lib/han/cosem.mpy".
        env = dict(os.environ, MICROPYPATH="lib:.frozen",
                   HANREADER_SERIAL="127.0.0.1:%d" % serial, HANREADER_DATA=data,
                   HANREADER_TELNET_PORT=str(telnet), HANREADER_HTTP_PORT=str(http),
                   # The boot guard lets go after 2 s, not a minute: the checkpoints show the
                   # firmware as it runs for good (a run of 10,000 frames takes less than a minute).
                   HANREADER_HEALTHY_MS="2000")
        if mqtt:
            broker = sim_broker.Broker(os.path.join(work, "broker"))
            if not broker.start():
                raise RuntimeError("no MQTT broker could be started (install mosquitto)")
            env["HANREADER_MQTT_BROKER"] = "127.0.0.1:%d" % broker.port
        log = open(os.path.join(work, "firmware.log"), "w")
        firmware = subprocess.Popen([micropython(), "-X", "heapsize=" + heap, entry], cwd=firmware_dir,
                                    env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(firmware)
        console = Console(telnet, time.monotonic() + 30)
        dashboard = Dashboard(http, web) if web else None
        (_, _, readings, free, used), link = console.status()
        report("heap %s: live after start %d B (free %d B)%s" % (heap, used, free, "; MQTT: " + link if mqtt else ""))
        samples = []
        checkpoint = 1
        stalled_since = time.monotonic()
        last_readings = readings
        # The first connection may take a retry or two: an attempt that finds no room for its code
        # in the heap (at the start everything loads at once) is tried again 10 s later. The meter
        # is replayed fast, so this is counted in seconds, not readings. Once up, it must stay up.
        connect_by = time.monotonic() + _FIRST_CONNECT_S
        connected = False
        while True:
            if firmware.poll() is not None:
                raise RuntimeError("the firmware stopped (exit %s)" % firmware.returncode)
            if dashboard:
                dashboard.poll()
            (_, frames_seen, readings, free, used), link = console.status()
            if mqtt and not link.startswith("connected"):
                if connected or time.monotonic() > connect_by:
                    raise RuntimeError("MQTT is not connected after %d readings: %s" % (readings, link))
                checkpoint = max(checkpoint, readings + 1)  # measured once the connection is up
            else:
                connected = mqtt
            quiet = dashboard is None or dashboard.quiet()  # samples are taken between polls
            if quiet and (readings >= checkpoint or readings >= frames):
                samples.append((readings, used))
                report("after %5d readings: live %d B (free %d B)%s" % (
                    readings, used, free, "; MQTT: " + link.split(";")[1].strip() if mqtt else ""))
                checkpoint = checkpoint * 10 if checkpoint < frames // 10 else checkpoint + frames // 10
            if readings >= frames and quiet:
                report("pushes lost for want of heap: %d%s" % (
                    console.lost, "; readings MQTT skipped for want of heap: %d" % console.skipped if mqtt else ""))
                lost = console.lost + console.skipped
                break
            if readings != last_readings:
                last_readings, stalled_since = readings, time.monotonic()
            elif time.monotonic() - stalled_since > 30:
                raise RuntimeError("no new reading for 30 s (at %d)" % readings)
            time.sleep(0.5)
        return samples, lost
    except (RuntimeError, OSError) as e:  # what the firmware said last goes with it
        raise RuntimeError("%s; the firmware's log ends:\n%s" % (e, _log_tail(work))) from e
    finally:
        if broker is not None:
            broker.stop()
        for process in processes:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


def _log_tail(work, size=1500):
    try:
        with open(os.path.join(work, "firmware.log"), errors="replace") as f:
            return f.read()[-size:]
    except OSError:
        return "(no log)"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heap", default="112K")
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--speed", type=float, default=400)
    parser.add_argument("--mqtt", action="store_true", help="publish to a broker started here")
    parser.add_argument("--web", type=float, default=0, metavar="SECONDS",
                        help="poll the dashboard's /api/data this often (0: no browser)")
    parser.add_argument("--capture", default=CAPTURE, help="the meter: a frames/ path or a meter_sim alias")
    args = parser.parse_args(argv)
    samples, _ = run(args.heap, args.frames, args.speed, mqtt=args.mqtt, web=args.web, capture=args.capture)
    settled = [used for readings, used in samples if readings >= 100]
    growth = settled[-1] - min(settled) if settled else 0
    print("live heap growth from 100 readings to the end: %d B" % growth)
    return 0 if growth <= 2048 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
