"""A simulated meter: replays captures on a TCP "serial line" at the meter's baud rate and cadence.

    python3 tools/meter_sim.py [options] CAPTURE [CAPTURE ...]

CAPTURE is a file (.bin raw bytes, .txt a hex dump such as a telnet log), a path under frames/
with or without its extension, a capture's name (`kamstrup-se-list-3phase-hdlc`), or a short
name: kamstrup (the default of `make sim`), kamstrup-dk, aidon, kaifa, kaifa-ma309, landisgyr,
iskra, sagemcom, siemens, dsmr, p1-encrypted, noise. A capture holding several pushes (a telnet
log of many frames) is split at frame boundaries; HDLC and M-Bus segments and GBT blocks of one
message stay in one push.

The line. Each push goes out at the meter's serial setting ("2400 8N1": 10 bits per byte, so a
228-byte push takes 0.95 s), one push every INTERVAL seconds (start to start), both taken from
the capture's meter family unless --setting / --interval say otherwise. --speed N makes time run
N times faster (tests). Every client sees the same line at the same time; a client may connect,
disconnect and reconnect at any moment (a firmware reboot, a UART reopened with other settings).

The firmware's end. A client first sends "SERIAL <setting>\\n", the settings its UART listens
with (it may send it again at any time). When they differ from the meter's, the client gets
what a UART set that way would read from the line: the meter's bytes are turned into the wire's
bit levels and sampled again at the listener's baud, data bits, parity, stop bits and polarity
(a wrong baud rate gives garbage, a wrong polarity gives almost nothing).

Faults, from the command line (every K-th push, K = 1 if omitted):
    --noise N[/K]     a burst of N random bytes halfway between pushes
    --flips N[/K]     N random bit flips in the push
    --silence S[/K]   S seconds without pushes after the push

and at run time, one command per line on the control port (--control PORT) or on stdin
(--stdin); each gets one reply line ("ok ..." or "error ..."):
    noise [N]         N random bytes (default 64) as soon as the line is free (the reply
                      ends with their hex)
    send HEX          these bytes as soon as the line is free
    flip [N]          N bit flips (default 1) in the next push
    silence S         no pushes for S seconds, from now (a push under way is cut off)
    push              the next push starts now (or right after the current one)
    stats             pushes, bytes, noise bursts, flips, clients and their settings
    help

--port 0 and --control 0 pick free ports; the first line printed says which.
"""
import argparse
import json
import os
import queue
import random
import re
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMES = os.path.join(os.path.dirname(HERE), "frames")
TICK = 0.005  # wall-clock seconds between deliveries while a push is under way

# Short names for `make sim METER=...`.
ALIASES = {
    "kamstrup": "seed/kamstrup-no-list-telnet-dump.txt",
    "kamstrup-se": "amshan/kamstrup-se-list-3phase-hdlc.bin",
    "kamstrup-dk": "kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin",
    "aidon": "amsreader-frames/Aidon-TN-3p-list3-2024-09-21.bin",
    "kaifa": "amsreader-frames/Kaifa-TN-3p-list2-MA304H3E.bin",
    "kaifa-ma309": "netz-noe-doc/kaifa-ma309-evn-mbus-2seg-encrypted.bin",
    "landisgyr": "smartmeter-datacollector/landisgyr-e450-gbt-vse2026.bin",
    "iskra": "smartmeter-datacollector/iskra-am550-hdlc-segmented-vse2026.bin",
    "sagemcom": "energy-decrypter-tests/sagemcom-t210d-evn-mbus-2seg-encrypted.bin",
    "siemens": "shrdzm/siemens-im350-wienernetze-hdlc-encrypted.bin",
    "dsmr": "dsmr/telegram_v5.bin",
    "p1-encrypted": "go-smarty-reader/sagemcom-t210d-smarty-lu-ggc-dsmr.bin",
    "noise": "seed/noise-unknown-data-telnet-log.txt",
}

# Serial setting and push interval by meter family (the sidecar's "family"), first match wins;
# see the protocol notes' meter table. P1 ports (DSMR, RJ12) run at 115200 8N1.
FAMILY_DEFAULTS = (
    ("Kamstrup", "2400 8N1", 10.0),
    ("Aidon", "2400 8E1", 10.0),
    ("Kaifa MA309", "2400 8E1", 5.0),
    ("Kaifa MA", "2400 8E1", 10.0),
    ("Landis+Gyr E350", "2400 8E1", 10.0),
    ("Landis+Gyr", "2400 8E1", 5.0),
    ("Sagemcom T210-D (P1)", "115200 8N1", 10.0),
    ("Sagemcom S211", "115200 8N1", 1.0),
    ("Sagemcom T210-D", "2400 8E1", 5.0),
    ("Iskraemeco AM550", "115200 8N1", 5.0),
)
P1_DEFAULT = ("115200 8N1", 10.0)   # DSMR telegrams and RJ12 P1 ports
OTHER_DEFAULT = ("2400 8N1", 10.0)


# ---------------------------------------------------------------------------------------------
# Captures


def resolve(spec):
    """The capture file a CAPTURE argument names."""
    if os.path.isfile(spec):
        return spec
    name = ALIASES.get(spec.lower(), spec)
    for candidate in (name, name + ".bin", name + ".txt"):
        path = os.path.join(FRAMES, candidate)
        if os.path.isfile(path):
            return path
    captures = []
    for folder, _, files in os.walk(FRAMES):
        for f in files:
            if f.endswith((".bin", ".txt")):
                captures.append(os.path.relpath(os.path.join(folder, f), FRAMES))
    stem = [c for c in captures if os.path.splitext(os.path.basename(c))[0] == spec]
    found = stem or [c for c in captures if spec.lower() in c.lower()]
    if len(found) == 1:
        return os.path.join(FRAMES, found[0])
    if found:
        raise SystemExit("meter_sim: %r matches %d captures: %s"
                         % (spec, len(found), ", ".join(sorted(found))))
    raise SystemExit("meter_sim: no capture %r (a file, a frames/ path or one of: %s)"
                     % (spec, ", ".join(sorted(ALIASES))))


def load(path):
    """The capture's bytes: .txt is a hex dump (every two-hex-digit token is a byte)."""
    if path.endswith(".txt"):
        sys.path.insert(0, HERE)
        from decode import hex_tokens
        with open(path, encoding="utf-8", errors="replace") as f:
            return hex_tokens(f.read())
    with open(path, "rb") as f:
        return f.read()


def sidecar(path):
    try:
        with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def family_defaults(info):
    """(setting, interval) for a capture's sidecar."""
    family = info.get("family") or ""
    for prefix, setting, interval in FAMILY_DEFAULTS:
        if family.startswith(prefix):
            return setting, interval
    if info.get("layer") == "dsmr" or "P1" in family or "DSMR" in family:
        return P1_DEFAULT
    return OTHER_DEFAULT


def _hdlc(data, pos):
    """(end, more) of an HDLC frame at `pos`, or None. `more`: the push goes on (segmentation
    bit, or a GBT block that is not the last)."""
    n = len(data)
    if pos + 3 > n or data[pos] != 0x7E or data[pos + 1] & 0xF0 != 0xA0:
        return None
    end = pos + (((data[pos + 1] & 0x07) << 8) | data[pos + 2]) + 2
    if end > n or data[end - 1] != 0x7E:
        return None
    more = bool(data[pos + 1] & 0x08)
    at = pos + 3
    for _ in range(2):  # destination and source address: until a byte with bit 0 set
        while at < end and not data[at] & 1:
            at += 1
        at += 1
    info = at + 3  # after the control byte and HCS
    if data[info:info + 3] == b"\xe6\xe7\x00":
        info += 3  # LLC (only the first block of a GBT message has it)
    if info + 1 < end and data[info] == 0xE0 and not data[info + 1] & 0x80:
        more = True  # a GBT block without the last-block bit
    return end, more


def _mbus(data, pos):
    n = len(data)
    if pos + 7 > n or data[pos] != 0x68 or data[pos + 3] != 0x68 or data[pos + 1] != data[pos + 2]:
        return None
    end = pos + data[pos + 1] + 6
    if end > n or data[end - 1] != 0x16:
        return None
    ci = data[pos + 6]
    return end, ci < 0x20 and not ci & 0x10  # segmented message, FIN bit not yet set


_DSMR_START = re.compile(rb"/[A-Za-z]{3}[ -~]*\r\n")
_DSMR_END = re.compile(rb"![0-9A-Fa-f]{0,4}\r\n")


def _dsmr(data, pos):
    """(end, False) of a P1 telegram at `pos` ("/XXX5 ..." to "!CRC" CR LF), or None."""
    if data[pos] != 0x2F or not _DSMR_START.match(data, pos):
        return None
    end = _DSMR_END.search(data, pos)
    return (end.end(), False) if end else None


def split_pushes(data):
    """The pushes in a capture: a message's frames together; bytes that are no frame go with the
    push after them (or the last one). A capture without any frame is one push."""
    pushes = []
    start = pos = 0
    chain = False  # frames since `start` whose message has not ended yet
    while pos < len(data):
        unit = _hdlc(data, pos) or _mbus(data, pos) or _dsmr(data, pos)
        if unit is None:
            pos += 1
            continue
        end, more = unit
        shared = data[end - 1] == 0x7E and _hdlc(data, end - 1) is not None  # also the next frame's flag
        pos = end - 1 if shared else end
        chain = more
        if not more:
            pushes.append(data[start:end])
            start = pos  # a shared flag goes out with both pushes
    tail = data[start:]
    if tail and pushes and not chain:
        pushes[-1] += tail
    elif tail:
        pushes.append(tail)
    return pushes


# ---------------------------------------------------------------------------------------------
# Serial settings and what a UART set differently reads


def parse_setting(text):
    """"2400 8E1" or "115200 8N1 inverted" -> (baud, bits, parity None/"E"/"O", stop, invert)."""
    words = text.split()
    if len(words) < 2 or len(words[1]) != 3 or words[1][1].upper() not in "NEO":
        raise ValueError("a serial setting looks like '2400 8E1' or '115200 8N1 inverted': %r" % text)
    baud, frame = int(words[0]), words[1].upper()
    bits, stop = int(frame[0]), int(frame[2])
    if baud <= 0 or bits not in (5, 6, 7, 8) or stop not in (1, 2):
        raise ValueError("not a serial setting: %r" % text)
    parity = None if frame[1] == "N" else frame[1]
    return baud, bits, parity, stop, "inverted" in words[2:]


def format_setting(setting):
    baud, bits, parity, stop, invert = setting
    return "%d %d%s%d%s" % (baud, bits, parity or "N", stop, " inverted" if invert else "")


def bits_per_byte(setting):
    _, bits, parity, stop, _ = setting
    return 1 + bits + (1 if parity else 0) + stop


def wire_levels(data, setting):
    """The logical line levels (1 = idle/mark), one per bit time, with one idle bit before."""
    _, bits, parity, stop, _ = setting
    out = bytearray(b"\x01")
    for byte in data:
        out.append(0)
        ones = 0
        for i in range(bits):
            bit = (byte >> i) & 1
            ones += bit
            out.append(bit)
        if parity:
            out.append((ones & 1) if parity == "E" else (ones & 1) ^ 1)
        out.extend(b"\x01" * stop)
    return out


def uart_reads(data, sent, listening):
    """The bytes a UART set to `listening` reads from `data` sent with setting `sent`.

    It waits for a falling edge, checks the start bit at its middle, samples the data bits at
    their middles at its own baud rate, delivers the byte whatever the parity and stop bits say
    (as the ESP32 does) and looks for the next falling edge after its stop-bit sample.
    """
    if sent == listening:
        return bytes(data)
    levels = wire_levels(data, sent)
    n = len(levels)
    flip = 1 if sent[4] != listening[4] else 0  # polarity as the listener sees the line
    step = sent[0] / listening[0]               # a listener bit in sender bit times
    _, bits, parity, _, _ = listening

    def level(x):
        i = int(x)
        return (levels[i] if i < n else 1) ^ flip

    out = bytearray()
    ready = 0.0  # the listener looks for a start bit after this time
    i = 1
    while i < n:
        if i > ready and level(i - 1) and not level(i):
            if level(i + step / 2):
                i += 1  # shorter than half a bit: a glitch, not a start bit
                continue
            byte = 0
            for j in range(bits):
                if level(i + step * (1.5 + j)):
                    byte |= 1 << j
            out.append(byte)
            ready = i + step * (1.5 + bits + (1 if parity else 0))
            i = int(ready) + 1
            continue
        i += 1
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# The line


class Segment:
    """Bytes on the line, sent back to back at the meter's setting."""

    def __init__(self, data, kind, duration):
        self.data = bytes(data)
        self.kind = kind          # "push", "noise" or "send"
        self.duration = duration  # wall-clock seconds
        self.started = None
        self.versions = {}        # listening setting -> what such a UART reads

    def version(self, sent, listening):
        found = self.versions.get(listening)
        if found is None:
            found = self.versions[listening] = uart_reads(self.data, sent, listening)
        return found


class Client:
    def __init__(self, conn, address, default):
        self.conn = conn
        self.address = address
        self.setting = default
        self.out = queue.Queue()
        self.alive = True
        self.segment = None   # the segment it is being sent and how much of it it has had
        self.sent = 0
        self.joined = time.monotonic()  # connected, or reopened with other settings

    def close(self):
        if self.alive:
            self.alive = False
            self.out.put(None)
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Line:
    def __init__(self, pushes, setting, interval, speed=1.0, seed=None, noise=(0, 1), flips=(0, 1),
                 silence=(0.0, 1), offset=1.0, log=None):
        self.pushes = pushes
        self.setting = setting
        self.interval = interval
        self.speed = speed
        self.random = random.Random(seed)
        self.noise_plan, self.flip_plan, self.silence_plan = noise, flips, silence
        self.log = log or (lambda text: None)
        self.lock = threading.Condition()
        self.clients = []
        self.pending = []          # segments waiting for the line to be free
        self.current = None
        self.next_push = time.monotonic() + offset / speed
        self.noise_at = None       # when the planned noise burst of this gap goes out
        self.quiet_until = 0.0
        self.push_now = False
        self.flips_next = 0
        self.stats = {"pushes": 0, "bytes": 0, "noise": 0, "flips": 0, "silences": 0}
        self.index = 0
        self.stopped = False

    # -- time
    def seconds(self, meter_seconds):
        return meter_seconds / self.speed

    def duration(self, nbytes):
        return nbytes * bits_per_byte(self.setting) / self.setting[0] / self.speed

    # -- commands (any thread)
    def command(self, line):
        words = line.split()
        if not words:
            return None
        name, args = words[0].lower(), words[1:]
        try:
            with self.lock:
                reply = self._command(name, args)
                self.lock.notify_all()
            return reply
        except (ValueError, IndexError) as e:
            return "error %s" % e

    def _command(self, name, args):
        if name == "noise":
            n = int(args[0]) if args else 64
            segment = self._noise(n)
            self.pending.append(segment)
            return "ok noise %d bytes %s" % (n, segment.data.hex())
        if name == "send":
            data = bytes.fromhex("".join(args))
            self.pending.append(Segment(data, "send", self.duration(len(data))))
            return "ok send %d bytes" % len(data)
        if name == "flip":
            n = int(args[0]) if args else 1
            self.flips_next += n
            return "ok flip %d bits in the next push" % n
        if name == "silence":
            seconds = float(args[0])
            self._silence(seconds)
            return "ok silence %g s" % seconds
        if name == "push":
            self.push_now = True
            return "ok push"
        if name == "stats":
            clients = ",".join(format_setting(c.setting).replace(" ", "_") for c in self.clients if c.alive)
            return "ok " + " ".join("%s %d" % item for item in sorted(self.stats.items())) + \
                " clients %d %s" % (len(self.clients), clients or "-")
        if name == "help":
            return "ok commands: noise [N] | send HEX | flip [N] | silence S | push | stats"
        return "error unknown command %r" % name

    def _noise(self, n):
        self.stats["noise"] += 1
        data = bytes(self.random.getrandbits(8) for _ in range(n))
        return Segment(data, "noise", self.duration(n))

    def _silence(self, seconds):
        self.stats["silences"] += 1
        self.current = None  # a push under way is cut off
        self.quiet_until = time.monotonic() + self.seconds(seconds)
        self.next_push = max(self.next_push, self.quiet_until)

    def _flip(self, data, n):
        """`data` with `n` different data bits flipped."""
        data = bytearray(data)
        bits = self.setting[1]
        n = min(n, len(data) * bits)
        for at in self.random.sample(range(len(data) * bits), n):
            data[at // bits] ^= 1 << (at % bits)
        self.stats["flips"] += n
        return bytes(data)

    # -- clients
    def add(self, client):
        with self.lock:
            self.clients.append(client)
            self.lock.notify_all()

    def remove(self, client):
        with self.lock:
            client.close()
            if client in self.clients:
                self.clients.remove(client)

    # -- the line's own thread
    def run(self):
        while not self.stopped:
            with self.lock:
                wait = self._step(time.monotonic())
                if wait:
                    self.lock.wait(wait)

    def stop(self):
        with self.lock:
            self.stopped = True
            for client in list(self.clients):
                client.close()
            self.lock.notify_all()

    def _step(self, now):
        """Deliver what is due; the time to wait before the next step (0: go on at once)."""
        segment = self.current
        if segment is not None:
            elapsed = now - segment.started
            fraction = 1.0 if elapsed >= segment.duration else elapsed / segment.duration
            for client in self.clients:
                self._deliver(client, segment, fraction)
            if fraction >= 1.0:
                self.current = None
                return 0
            return TICK
        if self.pending:
            return self._start(self.pending.pop(0), now)
        if now < self.quiet_until:
            return self.quiet_until - now
        if self.noise_at is not None and now >= self.noise_at:
            self.noise_at = None
            return self._start(self._noise(self.noise_plan[0]), now)
        if self.push_now or now >= self.next_push:
            return self._start(self._push(now), now)
        due = self.next_push if self.noise_at is None else min(self.next_push, self.noise_at)
        return max(due - now, 0.0005)

    def _push(self, now):
        data = self.pushes[self.index % len(self.pushes)]
        self.index += 1
        count = self.stats["pushes"] = self.stats["pushes"] + 1
        flips, every = self.flip_plan
        n = self.flips_next + (flips if flips and count % every == 0 else 0)
        self.flips_next = 0
        if n:
            data = self._flip(data, n)
        if self.push_now:
            self.next_push = now + self.seconds(self.interval)
        else:
            self.next_push = max(self.next_push + self.seconds(self.interval), now)
        self.push_now = False
        size, every = self.noise_plan
        if size and count % every == 0:
            self.noise_at = now + self.seconds(self.interval) / 2
        quiet, every = self.silence_plan
        if quiet and count % every == 0:
            self.stats["silences"] += 1
            self.next_push = max(self.next_push, now + self.duration(len(data)) + self.seconds(quiet))
        return Segment(data, "push", self.duration(len(data)))

    def _start(self, segment, now):
        segment.started = now
        self.current = segment
        self.stats["bytes"] += len(segment.data)
        self.log("%s: %d bytes" % (segment.kind, len(segment.data)))
        return 0

    def _deliver(self, client, segment, fraction):
        if not client.alive:
            return
        seen = segment.version(self.setting, client.setting)
        if client.segment is not segment:  # the client's first look at this segment
            client.segment = segment
            # a client that joined while the segment was on the line missed its beginning
            client.sent = 0 if client.joined <= segment.started else int(len(seen) * fraction)
        due = len(seen) if fraction >= 1.0 else int(len(seen) * fraction)
        if due > client.sent:
            client.out.put(seen[client.sent:due])
            client.sent = due


# ---------------------------------------------------------------------------------------------
# Sockets


def serve_client(line, conn, address):
    client = Client(conn, address, line.setting)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer = threading.Thread(target=_send_loop, args=(line, client), daemon=True)
    writer.start()
    line.add(client)
    buf = b""
    try:
        while client.alive:
            data = conn.recv(256)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                text, buf = buf.split(b"\n", 1)
                text = text.decode("ascii", "replace").strip()
                if text.upper().startswith("SERIAL "):
                    try:
                        setting = parse_setting(text[7:])
                    except ValueError:
                        continue
                    with line.lock:
                        client.setting = setting
                        client.segment = None
                        client.joined = time.monotonic()
            buf = buf[-256:]
    except OSError:
        pass
    finally:
        line.remove(client)
        writer.join(1)
        conn.close()


def _send_loop(line, client):
    while True:
        data = client.out.get()
        if data is None:
            return
        try:
            client.conn.sendall(data)
        except OSError:
            line.remove(client)
            return


def accept_loop(server, handler):
    while True:
        try:
            conn, address = server.accept()
        except OSError:
            return
        threading.Thread(target=handler, args=(conn, address), daemon=True).start()


def serve_control(line, conn, address):
    with conn:
        f = conn.makefile("rwb", buffering=0)
        try:
            for raw in f:
                text = raw.decode("utf-8", "replace").strip()
                if text in ("quit", "exit"):
                    return
                reply = line.command(text)
                if reply is not None:
                    conn.sendall((reply + "\n").encode())
        except OSError:
            pass


def listen(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)
    return server


def _plan(text, kind):
    """"N" or "N/K" -> (N, K)."""
    if text is None:
        return (0, 1)
    amount, _, every = text.partition("/")
    value = float(amount) if kind is float else int(amount)
    every = int(every) if every else 1
    if value < 0 or every < 1:
        raise SystemExit("meter_sim: bad value %r" % text)
    return value, every


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     usage="%(prog)s [options] CAPTURE ...")
    parser.add_argument("captures", nargs="+", metavar="CAPTURE")
    parser.add_argument("--port", type=int, default=2300, help="serial line port (0: any free port)")
    parser.add_argument("--control", type=int, default=None, help="control port (0: any free port)")
    parser.add_argument("--stdin", action="store_true", help="read control commands from stdin")
    parser.add_argument("--setting", help="the meter's serial setting, e.g. '2400 8E1'")
    parser.add_argument("--baud", type=int, help="the meter's baud rate (keeps the rest of the setting)")
    parser.add_argument("--interval", type=float, help="seconds between pushes (start to start)")
    parser.add_argument("--offset", type=float, default=1.0, help="seconds before the first push")
    parser.add_argument("--speed", type=float, default=1.0, help="time runs this many times faster")
    parser.add_argument("--whole", action="store_true", help="each capture is one push, not split")
    parser.add_argument("--noise", metavar="N[/K]", help="N random bytes between pushes (every K-th)")
    parser.add_argument("--flips", metavar="N[/K]", help="N bit flips in each (K-th) push")
    parser.add_argument("--silence", metavar="S[/K]", help="S seconds of silence after each (K-th) push")
    parser.add_argument("--seed", type=int, default=None, help="random seed for noise and flips")
    parser.add_argument("--quiet", action="store_true", help="do not log each push")
    args = parser.parse_args(argv)

    paths = [resolve(spec) for spec in args.captures]
    info = sidecar(paths[0])
    setting_text, interval = family_defaults(info)
    try:
        setting = parse_setting(args.setting or setting_text)
    except ValueError as e:
        raise SystemExit("meter_sim: %s" % e)
    if args.baud:
        setting = (args.baud,) + setting[1:]
    interval = args.interval if args.interval is not None else interval
    if args.speed <= 0 or interval <= 0:
        raise SystemExit("meter_sim: --speed and --interval must be positive")
    pushes = []
    for path in paths:
        data = load(path)
        pushes.extend([data] if args.whole else split_pushes(data))
    pushes = [p for p in pushes if p]
    if not pushes:
        raise SystemExit("meter_sim: the capture holds no bytes")

    def log(text):
        if not args.quiet:
            print("meter_sim: " + text, flush=True)

    line = Line(pushes, setting, interval, args.speed, args.seed, _plan(args.noise, int),
                _plan(args.flips, int), _plan(args.silence, float), args.offset, log)
    server = listen(args.port)
    control = listen(args.control) if args.control is not None else None
    names = ", ".join(os.path.relpath(p, FRAMES) if p.startswith(FRAMES) else p for p in paths)
    print("meter_sim: serial on 127.0.0.1:%d%s; %s (%s, %d pushes, %d bytes) as %s every %g s%s"
          % (server.getsockname()[1],
             "; control on 127.0.0.1:%d" % control.getsockname()[1] if control else "",
             names, info.get("family") or "unknown meter", len(pushes), sum(map(len, pushes)),
             format_setting(setting), interval, " (speed x%g)" % args.speed if args.speed != 1 else ""),
          flush=True)
    threading.Thread(target=accept_loop, args=(server, lambda c, a: serve_client(line, c, a)),
                     daemon=True).start()
    if control:
        threading.Thread(target=accept_loop, args=(control, lambda c, a: serve_control(line, c, a)),
                         daemon=True).start()
    if args.stdin:
        threading.Thread(target=_stdin_loop, args=(line,), daemon=True).start()
    try:
        line.run()
    except KeyboardInterrupt:
        pass
    finally:
        line.stop()
        server.close()
        if control:
            control.close()


def _stdin_loop(line):
    for text in sys.stdin:
        reply = line.command(text.strip())
        if reply is not None:
            print("meter_sim: " + reply, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
