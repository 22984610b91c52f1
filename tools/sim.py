"""`make sim`: the firmware under the MicroPython unix port, reading a simulated meter.

    python3 tools/sim.py [--meter NAME] [--web-port 8080] [--telnet-port 2323] [--heap 112K]
                         [--speed N] [--data DIR] [--no-keys] [-- METER_SIM_OPTIONS ...]

Starts tools/meter_sim.py with the capture (default: a Kamstrup Omnipower; see meter_sim.py for
the names) and the firmware (firmware/main.py) connected to it, prints where the web page,
the telnet console and MQTT are, and runs until Ctrl-C, which stops both. The firmware is
started again when it exits with code 3 (a reboot: `reboot` in telnet, a config change) and,
like a board after a crash, 2 s after any other exit (giving up after 5 quick crashes in a row).

--heap 112K runs it in a heap the size of the ESP32-WROOM's, with the library precompiled to
.mpy (build/sim-mpy), as on the board. The device's files (config.json ...) are kept in --data
(default build/sim-data). When the capture is encrypted and its keys are published, they are
put into that config (--no-keys: leave the config alone).

Lines typed here go to the simulated meter line: noise [N] | send HEX | flip [N] | silence S |
push | stats.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REBOOT = 3          # the unix port's exit code for a reboot (app.hal.unix_env._EXIT_REBOOT)
QUICK_CRASH_S = 10  # a crash this soon after a start counts towards giving up
CRASHES_MAX = 5

sys.path.insert(0, HERE)
import build_mpy  # noqa: E402
import build_www  # noqa: E402
import fetch_umqtt  # noqa: E402
import meter_sim  # noqa: E402
import sim_broker  # noqa: E402

UPY_LIB = os.path.join(ROOT, ".venv", "upy-lib")  # umqtt.simple for the unix port (make venv)


def micropython():
    found = shutil.which("micropython")
    venv = os.path.join(ROOT, ".venv", "bin", "micropython")
    if os.path.exists(venv):
        found = venv
    if not found:
        sys.exit("sim: the MicroPython unix port is not installed (make sim installs it into .venv)")
    return found


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the firmware's servers do
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_port(port, deadline, process):
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def load_config(folder):
    try:
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        return config if isinstance(config, dict) else {}
    except (OSError, ValueError):
        return {}


def put_keys(folder, keys):
    """The capture's published keys into the device's config; True if it changed."""
    config = load_config(folder)
    meter = config.setdefault("meter", {})
    wanted = {"key": keys.get("encryption", ""), "auth_key": keys.get("authentication", "")}
    if all(meter.get(k) == v for k, v in wanted.items()):
        return False
    meter.update(wanted)
    path = os.path.join(folder, "config.json")
    with open(path + ".tmp", "w") as f:
        json.dump(config, f)
    os.replace(path + ".tmp", path)
    return True


def precompile(target):
    """firmware/ as the board gets it, with .mpy for this machine: main.py (and boot.py) stay source,
    the web pages are gzipped."""
    shutil.rmtree(target, ignore_errors=True)
    count = build_mpy.build(os.path.join(ROOT, "firmware", "lib"), os.path.join(target, "lib"), "host")
    count += build_mpy.build(UPY_LIB, os.path.join(target, "lib"), "host")  # umqtt.simple, as on the board
    build_www.build(os.path.join(ROOT, "firmware", "www"), os.path.join(target, "www"))  # pages gzipped
    for name in ("boot.py", "main.py"):
        shutil.copy(os.path.join(ROOT, "firmware", name), target)
    return count


class Sim:
    def __init__(self, args):
        self.args = args
        self.meter = None
        self.firmware = None
        self.control = None
        self.stopping = False
        self.broker = None  # sim_broker.Broker, when the device has no MQTT broker configured

    def start_meter(self):
        args = self.args
        command = [sys.executable, os.path.join(HERE, "meter_sim.py"), "--port", "0", "--control", "0",
                   "--speed", str(args.speed), "--quiet"] + args.sim_args + [args.capture]
        self.meter = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                      start_new_session=True, text=True)
        first = self.meter.stdout.readline()
        ports = [int(p) for p in _ports(first)]
        if self.meter.poll() is not None or len(ports) != 2:
            sys.exit("sim: the meter simulator did not start: " + first.strip())
        threading.Thread(target=_copy_lines, args=(self.meter.stdout,), daemon=True).start()
        self.serial_port, self.control_port = ports
        return first.strip()

    def start_firmware(self):
        args = self.args
        env = dict(os.environ, HANREADER_SERIAL="127.0.0.1:%d" % self.serial_port, HANREADER_DATA=args.data,
                   HANREADER_HTTP_PORT=str(args.web_port), HANREADER_TELNET_PORT=str(args.telnet_port),
                   MICROPYPATH=".frozen:" + UPY_LIB)
        if self.broker:
            env["HANREADER_MQTT_BROKER"] = "127.0.0.1:%d" % self.broker.port
        command = [micropython()]
        if args.heap:
            command += ["-X", "heapsize=" + args.heap]
        # Started in its folder: module paths (interned for good) are as short as on the board.
        command.append("main.py")
        self.started = time.monotonic()
        self.firmware = subprocess.Popen(command, cwd=self.firmware_dir, env=env, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def command(self, line):
        """One line to the meter line's control port; its reply."""
        try:
            if self.control is None:
                self.control = socket.create_connection(("127.0.0.1", self.control_port), timeout=5)
                self.control_file = self.control.makefile("rw")
            self.control_file.write(line + "\n")
            self.control_file.flush()
            return self.control_file.readline().strip()
        except OSError as e:
            self.control = None
            return "error: %s" % e

    def read_stdin(self):
        for line in sys.stdin:
            if line.strip() and not self.stopping:
                print("sim: meter line: " + self.command(line.strip()), flush=True)

    def stop(self):
        self.stopping = True
        for process in (self.firmware, self.meter):
            if process is not None and process.poll() is None:
                process.terminate()
        if self.broker:
            self.broker.stop()
        for process in (self.firmware, self.meter):
            if process is not None:
                try:
                    process.wait(3)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def run(self):
        args = self.args
        for name, port in (("web", args.web_port), ("telnet", args.telnet_port)):
            if not port_free(port):
                sys.exit("sim: the %s port %d is in use (make sim %s_PORT=... picks another)"
                         % (name, port, name.upper()))
        os.makedirs(args.data, exist_ok=True)
        info = meter_sim.sidecar(args.capture)
        if info.get("keys") and not args.no_keys and put_keys(args.data, info["keys"]):
            print("sim: the capture is encrypted: its published keys are now in %s/config.json" % args.data)
        fetch_umqtt.fetch(UPY_LIB)
        if not load_config(args.data).get("mqtt", {}).get("host") and args.broker != "none":
            self.broker = sim_broker.Broker(args.data + "-broker", None if args.broker == "auto" else args.broker)
            if not self.broker.start():
                print("sim: could not start an MQTT broker (%s): see %s" % (self.broker.kind, self.broker.log_path))
                self.broker = None
        self.firmware_dir = os.path.join(ROOT, "firmware")
        if args.heap:
            self.firmware_dir = args.build
            print("sim: %d modules precompiled into %s" % (precompile(self.firmware_dir),
                                                           os.path.relpath(self.firmware_dir)))
        described = self.start_meter()
        self.start_firmware()
        ready = wait_port(args.telnet_port, time.monotonic() + 20, self.firmware)
        self.banner(described, ready)
        threading.Thread(target=self.read_stdin, daemon=True).start()
        crashes = 0
        while True:
            code = self.firmware.wait()
            if self.meter.poll() is not None:
                print("sim: the meter simulator stopped (exit code %s)" % self.meter.returncode)
                return 1
            if code == REBOOT:
                print("sim: the firmware rebooted (exit code 3): starting it again", flush=True)
                crashes = 0
            else:
                crashes = crashes + 1 if time.monotonic() - self.started < QUICK_CRASH_S else 1
                if crashes >= CRASHES_MAX:
                    print("sim: the firmware stopped %d times in a row within %d s; giving up"
                          % (crashes, QUICK_CRASH_S))
                    return 1
                print("sim: the firmware stopped (exit code %d): starting it again in 2 s, as a board "
                      "resets after a crash" % code, flush=True)
                time.sleep(2)
            self.start_firmware()

    def banner(self, described, ready):
        args = self.args
        mqtt = load_config(args.data).get("mqtt", {})
        if mqtt.get("host"):
            broker = "broker %s:%s, topics under %s/" % (mqtt["host"], mqtt.get("port", 1883),
                                                        mqtt.get("prefix", "hanreader"))
        elif self.broker:
            broker = "broker 127.0.0.1:%d (%s, started by make sim: mqtt.host is not set)\n" \
                     "           watch:  %s" % (self.broker.port, self.broker.kind,
                                               self.broker.watch_command(mqtt.get("prefix", "hanreader")))
        else:
            broker = "not configured (set mqtt.host on the web page, or in %s/config.json)" % args.data
        lines = [
            "",
            "hanreader simulator%s" % ("" if ready else " (the firmware is slow to start: see its log)"),
            "  meter:   " + described.split("; ", 2)[-1],
            "  web:     http://127.0.0.1:%d" % args.web_port,
            "  telnet:  127.0.0.1:%d   (telnet 127.0.0.1 %d; try: status, level V)" % (args.telnet_port,
                                                                                     args.telnet_port),
            "  MQTT:    " + broker,
            "  device:  %s%s, files in %s" % (os.path.relpath(self.firmware_dir, ROOT),
                                             ", heap %s" % args.heap if args.heap else "", args.data),
            "  line:    type noise [N] | flip [N] | silence S | push | stats  (Ctrl-C stops)",
            "",
        ]
        print("\n".join(lines), flush=True)


def _ports(line):
    out = []
    for word in line.replace(";", " ").split():
        if word.startswith("127.0.0.1:"):
            out.append(word.rsplit(":", 1)[1])
    return out


def _copy_lines(stream):
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()


def main(argv):
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meter", default="kamstrup", help="a capture: name, frames/ path or file")
    parser.add_argument("--web-port", type=int, default=8080)
    parser.add_argument("--telnet-port", type=int, default=2323)
    parser.add_argument("--heap", default="", help="e.g. 112K: board-sized heap, precompiled library")
    parser.add_argument("--speed", type=float, default=1.0, help="the meter's time runs this much faster")
    parser.add_argument("--data", default=os.path.join(ROOT, "build", "sim-data"), help="the device's files")
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "sim-mpy"),
                        help="where --heap puts the precompiled firmware")
    parser.add_argument("--no-keys", action="store_true", help="do not put the capture's keys in the config")
    parser.add_argument("--broker", default="auto", choices=("auto",) + sim_broker.KINDS + ("none",),
                        help="the MQTT broker started when mqtt.host is not set (auto: mosquitto if "
                             "installed, else amqtt)")
    args = parser.parse_args(own)
    args.sim_args = extra
    args.capture = meter_sim.resolve(args.meter)
    args.data = os.path.abspath(args.data)
    args.build = os.path.abspath(args.build)
    sim = Sim(args)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        return sim.run()
    except KeyboardInterrupt:
        print("\nsim: stopping", flush=True)
        return 0
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
