"""Helpers for the end-to-end tests: the meter simulator, the firmware under the MicroPython unix
port, a telnet client. Every wait polls against a deadline (the machine may be loaded); every
process started here is stopped by the fixture that started it."""
import json
import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
KAMSTRUP = os.path.join(ROOT, "frames", "amshan", "kamstrup-se-list-3phase-hdlc.bin")  # 228 B, 2400 8N1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class MeterSim:
    """tools/meter_sim.py on free ports, with its control channel."""

    def __init__(self, *args, log=None):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(TOOLS, "meter_sim.py"), "--port", "0", "--control", "0"]
            + list(args),
            stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.log = log
        first = self._first_line()
        ports = re.findall(r"127\.0\.0\.1:(\d+)", first)
        assert len(ports) == 2, first
        self.port, self.control_port = int(ports[0]), int(ports[1])
        self.description = first
        self._control = None

    def _first_line(self):
        if self.log is None:
            line = self.process.stdout.readline()
            assert line, "meter_sim did not start"
            return line
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with open(self.log.name) as f:
                line = f.readline()
            if line.endswith("\n"):
                return line
            assert self.process.poll() is None, "meter_sim did not start"
            time.sleep(0.05)
        raise AssertionError("meter_sim printed nothing")

    def command(self, text):
        if self._control is None:
            self._control = socket.create_connection(("127.0.0.1", self.control_port), timeout=10)
            self._control_file = self._control.makefile("rw")
        self._control_file.write(text + "\n")
        self._control_file.flush()
        reply = self._control_file.readline().strip()
        assert reply.startswith("ok"), reply
        return reply

    def stats(self):
        words = self.command("stats").split()[1:]
        return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2) if words[i + 1].isdigit()}

    def close(self):
        if self._control is not None:
            self._control.close()
        stop(self.process)
        if self.log is None:
            self.process.stdout.close()


class Firmware:
    """firmware/main.py under the unix port against a meter simulator; its output goes to a file."""

    def __init__(self, micropython, data, serial_port, config=None, heap=None):
        os.makedirs(data, exist_ok=True)
        if config is not None:
            with open(os.path.join(data, "config.json"), "w") as f:
                json.dump(config, f)
        self.telnet_port = free_port()
        self.output_path = os.path.join(data, "console.log")
        self.output = open(self.output_path, "w")
        env = dict(os.environ, HANREADER_SERIAL="127.0.0.1:%d" % serial_port, HANREADER_DATA=str(data),
                   HANREADER_TELNET_PORT=str(self.telnet_port), HANREADER_HTTP_PORT=str(free_port()))
        for name in ("HANREADER_BOOT_BUTTON", "HANREADER_WIFI", "HANREADER_DNS_PORT"):
            env.pop(name, None)
        command = [micropython] + (["-X", "heapsize=" + heap] if heap else []) + ["firmware/main.py"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.output,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def console(self):
        with open(self.output_path, errors="replace") as f:
            return f.read()

    def connect(self, timeout=20, **options):
        return connect(self.telnet_port, timeout, alive=self.process, **options)

    def close(self):
        stop(self.process)
        self.output.close()


def connect(port, timeout=20, alive=None, receive_buffer=None):
    """A telnet client, once the port accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket()
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        try:
            sock.connect(("127.0.0.1", port))
            return Telnet(sock)
        except OSError:
            sock.close()
            if alive is not None and alive.poll() is not None:
                raise AssertionError("the firmware exited with code %s" % alive.returncode)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Telnet:
    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(0.2)
        self.buffer = b""
        self.seen = 0  # lines before this index have been consumed by `expect`
        self.closed = False

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def _receive(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def lines(self):
        text = self.buffer.replace(b"\xff\xfb\x01", b"").replace(b"\xff\xfc\x01", b"")
        return text.decode("utf-8", "replace").split("\r\n")

    def wait(self, predicate, timeout=15, what="the expected output"):
        """Receive until predicate(lines) gives something true (returned); fail at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(self.lines()[:-1])  # complete lines only
            if found:
                return found
            if self.closed or time.monotonic() > deadline:
                raise AssertionError("%s not seen%s; got:\n%s" % (
                    what, " (connection closed)" if self.closed else "", "\n".join(self.lines()[-60:])))
            self._receive()

    def expect(self, pattern, timeout=15):
        """The first line after the last expected one that matches `pattern` (a regex)."""
        regex = re.compile(pattern)

        def find(lines):
            for i in range(self.seen, len(lines)):
                if regex.search(lines[i]):
                    self.seen = i + 1
                    return lines[i]
            return None
        return self.wait(find, timeout, "a line matching %r" % pattern)

    def expect_prompt(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.buffer:
            if self.closed or time.monotonic() > deadline:
                raise AssertionError("no %r; got %r" % (text, self.buffer[-300:]))
            self._receive()

    def command(self, text, last, timeout=15):
        """Send a command; the reply lines up to the one matching `last`."""
        start = len(self.lines()) - 1
        self.seen = max(self.seen, start)
        self.send(text)
        self.expect(last, timeout)
        return [line for line in self.lines()[start:self.seen] if not line.startswith("(")]

    def status(self, timeout=15):
        lines = self.command("status", r"^Telnet: ", timeout)
        return parse_status(lines)

    def read_until_closed(self, timeout=20):
        deadline = time.monotonic() + timeout
        while not self.closed:
            if time.monotonic() > deadline:
                raise AssertionError("the connection stays open")
            self._receive()

    def close(self):
        self.sock.close()


def parse_status(lines):
    text = "\n".join(lines)
    found = {"text": text}
    counters = re.search(r"Bytes (\d+), frames (\d+), readings (\d+)", text)
    if counters:
        found["bytes"], found["frames"], found["readings"] = map(int, counters.groups())
    stall = re.search(r"Loop stall max (\d+) ms; decoding a frame took ([\d.]+) ms \(max ([\d.]+) ms\)", text)
    if stall:
        found["stall"] = int(stall.group(1))
        found["frame_ms"], found["frame_ms_max"] = float(stall.group(2)), float(stall.group(3))
    clients = re.search(r"Telnet: (\d+) clients?, (\d+) dropped", text)
    if clients:
        found["clients"], found["dropped"] = map(int, clients.groups())
    cause = re.search(r"reset cause: ([^,\n]+)", text)
    if cause:
        found["reset_cause"] = cause.group(1)
    return found


def hex_lines_after(lines, title):
    """The bytes of the first hex dump titled `title` ("(V) HDLC frame:"), and its lines."""
    at = lines.index(title)
    dump = []
    for line in lines[at + 1:]:
        if not re.fullmatch(r"\(V\) [0-9A-F]{2}( [0-9A-F]{2}){0,15}", line):
            break
        dump.append(line)
    return bytes.fromhex(" ".join(line[4:] for line in dump)), dump
