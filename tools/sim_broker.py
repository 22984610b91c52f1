"""The MQTT broker `make sim` starts when the device has none configured (mqtt.host empty).

Mosquitto where it is installed (Debian: apt-get install mosquitto), else amqtt, a broker in
Python that `make sim` installs into .venv: a new user sees MQTT messages without installing
anything system-wide. It listens on 127.0.0.1 only, on port 1883 when free, and keeps nothing
when stopped. Its files (config, log) go into FOLDER.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KINDS = ("mosquitto", "amqtt")


def mosquitto_binary():
    return shutil.which("mosquitto") or next(
        (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(path)), None)


def amqtt_binary():
    found = os.path.join(os.path.dirname(sys.executable), "amqtt")
    return found if os.path.exists(found) else shutil.which("amqtt")


def free_port(preferred=1883):
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue


class Broker:
    """A broker process on 127.0.0.1; `kind` is "mosquitto", "amqtt" or None (the first there is).
    `settings`: Mosquitto's for the listener (the tests add passwords and TLS)."""

    def __init__(self, folder, kind=None, port=None, settings=("allow_anonymous true",)):
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        self.kind = kind or ("mosquitto" if mosquitto_binary() else "amqtt")
        self.port = port or free_port()
        self.log_path = os.path.join(folder, self.kind + ".log")
        if self.kind == "mosquitto":
            binary = mosquitto_binary()
            config = os.path.join(folder, "mosquitto.conf")
            with open(config, "w") as f:
                f.write("listener %d 127.0.0.1\n%s\npersistence false\n" % (self.port, "\n".join(settings)))
                if hasattr(os, "geteuid") and os.geteuid() == 0:
                    f.write("user root\n")  # else it becomes user "mosquitto", who cannot read FOLDER
            self.command = [binary, "-c", config] if binary else None
        else:
            binary = amqtt_binary()
            config = os.path.join(folder, "amqtt.yaml")
            with open(config, "w") as f:
                f.write("listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:%d\n"
                        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                        "    allow_anonymous: true\n" % self.port)
            self.command = [binary, "-c", config] if binary else None
        self.process = None

    def start(self, timeout=20):
        """Start it and wait until it takes connections; False if it cannot be started."""
        if self.command is None:
            return False
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def watch_command(self, prefix):
        """How to see what the device publishes."""
        if self.kind == "mosquitto" and shutil.which("mosquitto_sub"):
            return "mosquitto_sub -h 127.0.0.1 -p %d -t '%s/#' -v" % (self.port, prefix)
        sub = os.path.join(os.path.dirname(amqtt_binary() or sys.executable), "amqtt_sub")
        if os.path.exists(sub):
            return "%s --url mqtt://127.0.0.1:%d -t '%s/#'" % (os.path.relpath(sub, ROOT), self.port, prefix)
        return "any MQTT client, 127.0.0.1:%d, topic %s/#" % (self.port, prefix)
