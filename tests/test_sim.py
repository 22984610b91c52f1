"""tools/meter_sim.py: pacing at the meter's baud rate and cadence, faults (noise, bit flips,
silence) from the command line and the control channel, what a UART set differently reads,
reconnecting listeners; and how captures are found and split into pushes."""
import os
import socket
import sys
import time

import pytest
from sim_support import KAMSTRUP, ROOT, TOOLS, MeterSim

sys.path.insert(0, TOOLS)
import meter_sim  # noqa: E402

with open(KAMSTRUP, "rb") as f:
    FRAME = f.read()
assert len(FRAME) == 228


class Listener:
    """A client of the simulated serial line, recording when each byte arrived."""

    def __init__(self, port, setting=None):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(0.02)
        if setting:
            self.sock.sendall(("SERIAL %s\n" % setting).encode())
        self.data = bytearray()
        self.times = []  # (time, total bytes received) per recv

    def receive_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()

    def receive_until(self, size, timeout):
        end = time.monotonic() + timeout
        while len(self.data) < size:
            assert time.monotonic() < end, "only %d of %d bytes arrived" % (len(self.data), size)
            self.poll()

    def poll(self):
        try:
            chunk = self.sock.recv(4096)
        except socket.timeout:
            return
        assert chunk, "the simulator closed the line"
        self.data += chunk
        self.times.append((time.monotonic(), len(self.data)))

    def time_of(self, index):
        """When byte `index` arrived."""
        for at, total in self.times:
            if total > index:
                return at
        raise AssertionError("byte %d never arrived" % index)

    def close(self):
        self.sock.close()


@pytest.fixture
def sims():
    started = []

    def start(*args):
        sim = MeterSim(*args)
        started.append(sim)
        return sim
    yield start
    for sim in started:
        sim.close()


def test_a_228_byte_frame_at_2400_8n1_takes_095_s(sims):
    sim = sims(KAMSTRUP, "--offset", "0.3", "--interval", "30")
    line = Listener(sim.port, "2400 8N1")
    line.receive_until(len(FRAME), timeout=10)
    assert bytes(line.data) == FRAME
    took = line.time_of(len(FRAME) - 1) - line.time_of(0)
    assert 0.85 <= took <= 1.2, took   # 227 byte times of 10 bits at 2400 baud: 0.946 s
    assert len(line.times) > 20         # it trickles in, it does not come in one piece
    line.close()


def test_speed_and_bits_per_byte_from_the_setting(sims):
    sim = sims(KAMSTRUP, "--setting", "2400 8E1", "--speed", "4", "--offset", "0.3", "--interval", "60")
    line = Listener(sim.port, "2400 8E1")
    line.receive_until(len(FRAME), timeout=10)
    took = line.time_of(len(FRAME) - 1) - line.time_of(0)
    assert 0.22 <= took <= 0.4, took   # 11 bits a byte: 1.04 s, four times faster


def test_pushes_follow_the_interval(sims):
    sim = sims(KAMSTRUP, "--interval", "2", "--speed", "4", "--offset", "0.2")  # a push every 0.5 s
    line = Listener(sim.port)
    line.receive_until(4 * len(FRAME), timeout=10)
    starts = [line.time_of(i * len(FRAME)) for i in range(4)]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(0.35 <= gap <= 0.7 for gap in gaps), gaps
    assert bytes(line.data[:4 * len(FRAME)]) == FRAME * 4


def test_noise_on_command_goes_out_between_pushes(sims):
    sim = sims(KAMSTRUP, "--interval", "4", "--speed", "4", "--offset", "0.1", "--seed", "7")
    line = Listener(sim.port)
    line.receive_until(len(FRAME), timeout=10)
    reply = sim.command("noise 50")
    noise = bytes.fromhex(reply.split()[-1])
    assert len(noise) == 50
    line.receive_until(len(FRAME) + 50, timeout=10)
    line.receive_until(2 * len(FRAME) + 50, timeout=10)
    assert bytes(line.data) == FRAME + noise + FRAME
    assert sim.stats()["noise"] == 1


def test_bit_flips_on_command_damage_the_next_push(sims):
    sim = sims(KAMSTRUP, "--interval", "2", "--speed", "4", "--offset", "0.1")
    line = Listener(sim.port)
    line.receive_until(len(FRAME), timeout=10)
    sim.command("flip 3")
    line.receive_until(3 * len(FRAME), timeout=10)
    pushes = [bytes(line.data[i * len(FRAME):(i + 1) * len(FRAME)]) for i in range(3)]
    flipped = [sum(bin(a ^ b).count("1") for a, b in zip(push, FRAME)) for push in pushes]
    assert flipped == [0, 3, 0]
    assert sim.stats()["flips"] == 3


def test_silence_keeps_the_line_quiet(sims):
    sim = sims(KAMSTRUP, "--interval", "1", "--speed", "4", "--offset", "0.1")  # a push every 0.25 s
    line = Listener(sim.port)
    line.receive_until(len(FRAME), timeout=10)
    sim.command("silence 4")  # 1 s of wall time
    quiet_from = time.monotonic()
    line.receive_for(0.1)     # a push under way is cut: whatever was in flight lands now
    size = len(line.data)
    line.receive_for(0.7)
    assert len(line.data) == size
    line.receive_until(size + len(FRAME), timeout=10)
    resumed = line.time_of(size)
    assert 0.9 <= resumed - quiet_from <= 1.6, resumed - quiet_from
    assert bytes(line.data[-len(FRAME):]) == FRAME  # whole pushes again


def test_faults_from_the_command_line(sims):
    sim = sims(KAMSTRUP, "--interval", "2", "--speed", "4", "--offset", "0.1", "--noise", "20",
               "--flips", "1/2", "--seed", "3")
    line = Listener(sim.port)
    line.receive_until(4 * (len(FRAME) + 20), timeout=15)
    data = bytes(line.data)
    pushes, noise = [], []
    for i in range(4):  # push, 20 bytes of noise, push, ...
        pushes.append(data[i * 248:i * 248 + 228])
        noise.append(data[i * 248 + 228:i * 248 + 248])
    flipped = [sum(bin(a ^ b).count("1") for a, b in zip(push, FRAME)) for push in pushes]
    assert flipped == [0, 1, 0, 1]          # every second push
    assert all(len(n) == 20 for n in noise) and len(set(noise)) == 4


def test_a_listener_with_other_settings_reads_what_a_uart_would(sims):
    sim = sims(KAMSTRUP, "--interval", "1", "--speed", "8", "--offset", "0.1")
    right = Listener(sim.port, "2400 8N1")
    parity = Listener(sim.port, "2400 8E1")
    fast = Listener(sim.port, "9600 8N1")
    end = time.monotonic() + 0.6
    while time.monotonic() < end:
        for listener in (right, parity, fast):
            listener.poll()
    assert bytes(right.data[:len(FRAME)]) == FRAME
    assert FRAME[:40] not in bytes(parity.data)       # a stop bit read as parity: the bytes slip
    assert set(fast.data) <= {0x00, 0x80, 0xC0, 0xE0, 0xF0, 0xF8, 0x78, 0x38, 0x18, 0x08, 0xFC, 0x7C, 0x3C,
                              0x1C, 0x0C, 0xFE, 0x7E, 0x3E, 0x1E, 0x0E, 0x06, 0xFF}  # long bit runs only


def test_uart_model():
    setting = meter_sim.parse_setting
    assert meter_sim.uart_reads(FRAME, setting("2400 8N1"), setting("2400 8N1")) == FRAME
    # a receiver without parity reads an 8E1 line right (the parity bit passes for a stop bit)
    assert meter_sim.uart_reads(FRAME, setting("2400 8E1"), setting("2400 8N1")) == FRAME
    assert meter_sim.uart_reads(FRAME, setting("2400 8N1 inverted"), setting("2400 8N1 inverted")) == FRAME
    inverted = meter_sim.uart_reads(FRAME, setting("2400 8N1"), setting("2400 8N1 inverted"))
    assert inverted != FRAME and FRAME[:16] not in inverted
    slow = meter_sim.uart_reads(FRAME, setting("115200 8N1"), setting("2400 8N1"))
    assert len(slow) < 10  # 20 ms of 115200 baud is a few bytes' time at 2400
    assert meter_sim.bits_per_byte(setting("2400 8E1")) == 11
    assert meter_sim.format_setting(setting("115200 7e1 inverted")) == "115200 7E1 inverted"
    with pytest.raises(ValueError):
        setting("2400")


def test_a_listener_may_reconnect(sims):
    sim = sims(KAMSTRUP, "--interval", "1", "--speed", "4", "--offset", "0.1")
    first = Listener(sim.port)
    first.receive_until(len(FRAME), timeout=10)
    first.close()
    again = Listener(sim.port)
    again.receive_until(2 * len(FRAME), timeout=10)
    assert FRAME in bytes(again.data)
    assert sim.stats()["clients"] == 1


def test_captures_by_name_and_pushes():
    frames = os.path.join(ROOT, "frames")
    assert meter_sim.resolve("kamstrup") == os.path.join(frames, "seed", "kamstrup-no-list-telnet-dump.txt")
    assert meter_sim.resolve("amshan/kamstrup-se-list-3phase-hdlc") == KAMSTRUP
    assert meter_sim.resolve("kamstrup-se-list-3phase-hdlc") == KAMSTRUP
    assert meter_sim.resolve(KAMSTRUP) == KAMSTRUP
    with pytest.raises(SystemExit):
        meter_sim.resolve("no-such-meter")
    for name in meter_sim.ALIASES:
        assert os.path.isfile(meter_sim.resolve(name)), name
    assert meter_sim.load(meter_sim.resolve("kamstrup"))[:4] == bytes.fromhex("7EA0E22B")

    def pushes(name):
        return meter_sim.split_pushes(meter_sim.load(meter_sim.resolve(name)))
    assert [len(p) for p in pushes("Aidon_problem_same_list3")] == [396] * 4       # four frames, four pushes
    assert len(pushes("landisgyr-e450-gbt-vse2026")) == 1  # three GBT blocks: one message
    assert len(pushes("sagemcom-t210d-evn-mbus-2seg-encrypted")) == 1  # two M-Bus segments
    assert len(pushes("telegram_v5")) == 1
    assert len(pushes("L&G-E350_Norway")) == 20
    assert pushes("noise") == [meter_sim.load(meter_sim.resolve("noise"))]  # no frame: one push


def test_meter_families_give_setting_and_cadence():
    def defaults(name):
        return meter_sim.family_defaults(meter_sim.sidecar(meter_sim.resolve(name)))
    assert defaults("kamstrup") == ("2400 8N1", 10.0)
    assert defaults("aidon") == ("2400 8E1", 10.0)
    assert defaults("landisgyr") == ("2400 8E1", 5.0)
    assert defaults("dsmr") == ("115200 8N1", 10.0)
    assert defaults("p1-encrypted") == ("115200 8N1", 10.0)


def test_the_runner_with_a_bounded_heap_and_the_precompiled_library(tmp_path):
    """`make sim HEAP=...`: .mpy files in build/sim-mpy, `-X heapsize`, telnet on the given port.
    (The board has about 112K; the 64-bit unix port needs more room for the same objects.)"""
    import json
    import subprocess

    from sim_support import connect, free_port, stop
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"meter": {"baud": 2400, "parity": "N"}}))
    telnet_port = free_port()
    log = open(tmp_path / "sim.log", "w")
    runner = subprocess.Popen(
        [sys.executable, os.path.join(TOOLS, "sim.py"), "--meter", "kamstrup-se", "--speed", "10",
         "--heap", "256K", "--build", str(tmp_path / "mpy"), "--data", str(data),
         "--telnet-port", str(telnet_port), "--web-port", str(free_port())],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        client = connect(telnet_port, timeout=60, alive=runner)
        deadline = time.monotonic() + 20
        while client.status()["readings"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        client.close()
        assert (tmp_path / "mpy" / "lib" / "app" / "telnet.mpy").exists()
        assert not (tmp_path / "mpy" / "lib" / "app" / "telnet.py").exists()
        with open(tmp_path / "sim.log") as f:
            assert "heap 256K" in f.read()
    finally:
        stop(runner)
        log.close()


def test_board_targets_say_what_they_need_and_what_they_run():
    import subprocess

    def make(*args):
        return subprocess.run(["make", "--no-print-directory"] + list(args), cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    for args, needs in ((["deploy"], "PORT=/dev/ttyUSB0"), (["flash", "PORT=/dev/ttyUSB0"], "FIRMWARE="),
                        (["flash", "PORT=/dev/ttyUSB0", "FIRMWARE=/no/such.bin"], "no file")):
        done = make(*args)
        assert done.returncode == 2 and needs in done.stdout, done.stdout + done.stderr
    build = make("-n", "build").stdout
    assert "build_mpy.py --arch xtensawin firmware/lib build/esp32/lib" in build
    assert "cp firmware/boot.py firmware/main.py build/esp32/" in build
    deploy = make("-n", "deploy", "PORT=/dev/ttyUSB0").stdout
    assert "mpremote connect /dev/ttyUSB0 cp boot.py main.py : + cp -r lib :" in deploy
    assert "mip install umqtt.simple" in deploy
    flash = make("-n", "flash", "PORT=/dev/ttyUSB0", "FIRMWARE=" + KAMSTRUP).stdout  # any file will do
    assert "esptool --port /dev/ttyUSB0 erase-flash" in flash
    assert "esptool --port /dev/ttyUSB0 --baud 460800 write-flash 0x1000 " + KAMSTRUP in flash
