"""The telnet console end to end: the firmware under the MicroPython unix port reads the meter
simulator (tools/meter_sim.py) and is talked to over real sockets.

Frame dumps at level V as the peer firmware prints them, "Unknown data received" with the payload
when noise is on the line, checksum errors naming header or footer, moving counters, several
clients with a non-reading one dropped while the meter goes on, the loop stall while a 2400-baud
frame trickles in, the password prompt, masked keys, and `reboot` (exit code 3, started again by
tools/sim.py, the `make sim` runner).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import micropython_binary
from sim_support import KAMSTRUP, ROOT, TOOLS, Firmware, MeterSim, connect, free_port, hex_lines_after, stop

with open(KAMSTRUP, "rb") as f:
    FRAME = f.read()
FIXED_SERIAL = {"baud": 2400, "parity": "N", "bits": 8, "stop_bits": 1}  # no automatic search
KEY = "000102030405060708090A0B0C0D0E0F"
STALL_LIMIT_MS = 50  # "low milliseconds", with room for a loaded test machine


@pytest.fixture
def rig(tmp_path):
    """start(config, *meter_sim_args) -> (meter simulator, firmware); both stopped afterwards."""
    started = []

    def start(config=None, *sim_args, speed="10"):
        sim = MeterSim(KAMSTRUP, "--quiet", "--seed", "1", "--speed", speed, "--offset", "0.5", *sim_args)
        started.append(sim)
        config = dict(config or {})
        config["meter"] = dict(FIXED_SERIAL, **config.get("meter", {}))
        firmware = Firmware(micropython_binary(), str(tmp_path / "data"), sim.port, config)
        started.append(firmware)
        return sim, firmware
    try:
        yield start
    finally:
        for item in reversed(started):
            item.close()


def complete_dump(client, title):
    """A predicate: the bytes and lines of the first complete hex dump titled `title` after
    the client's last expected line."""
    def find(lines):
        if title not in lines[client.seen:]:
            return None
        data, dump = hex_lines_after(lines[client.seen:], title)
        at = lines.index(title, client.seen) + 1 + len(dump)
        return (data, dump) if at < len(lines) else None  # a line after the dump: it is complete
    return find


def test_frame_dumps_at_level_v(rig):
    _, firmware = rig()
    client = firmware.connect()
    client.expect(r"^hanreader console")
    client.expect(r"^\(I\) hanreader starting on unix")  # the recent lines come first
    client.send("level V")
    client.expect(r"^Log level V")
    data, dump = client.wait(complete_dump(client, "(V) HDLC frame:"), what="an HDLC frame dump")
    assert data in (FRAME, FRAME[:-1])  # with or without the closing flag
    assert dump[0] == "(V) 7E A0 E2 2B 21 13 23 9A E6 E7 00 0F 00 00 00 00"  # 16 bytes a line
    assert all(len(line) == 4 + 16 * 3 - 1 for line in dump[:-1])
    apdu, _ = client.wait(complete_dump(client, "(V) APDU:"), what="an APDU dump")
    assert apdu == FRAME[11:-3]  # without flags, header, LLC and FCS
    client.send("dump off")
    client.expect(r"^Frame dumps off")
    client.send("status")
    client.expect(r"frame dumps off")


def test_a_push_dumped_at_level_v_larger_than_the_log_ring_reaches_the_client(tmp_path):
    """Kamstrup Omnipower (Denmark): a 477-byte ciphered push, dumped at level V as the ciphered
    frame and the decrypted APDU, is more text than the log's ring holds; a client that reads
    gets every dump whole and is not dropped."""
    capture = os.path.join(ROOT, "frames", "kamstrup-dk-script", "kamstrup-omnipower-dk-ggc.bin")
    with open(capture, "rb") as f:
        ciphered = f.read()
    with open(capture[:-4] + ".json") as f:
        keys = json.load(f)["keys"]
    sim = MeterSim(capture, "--quiet", "--speed", "10", "--offset", "0.5")
    firmware = Firmware(micropython_binary(), str(tmp_path / "data"), sim.port, {
        "meter": dict(FIXED_SERIAL, key=keys["encryption"], auth_key=keys["authentication"])})
    try:
        client = firmware.connect()
        client.expect(r"^hanreader console")
        client.send("level V")
        client.expect(r"^Log level V")
        for _ in range(2):  # two pushes in a row, each dumped whole
            data, _ = client.wait(complete_dump(client, "(V) Ciphered frame:"), what="a ciphered frame dump")
            assert data == ciphered
            plain, _ = client.wait(complete_dump(client, "(V) Decrypted APDU:"), what="a decrypted APDU dump")
            assert plain[0] == 0x0F and len(plain) == len(ciphered) - 18 - 12  # data-notification; no header, tag
            client.seen = len(client.lines())
        assert not any("Dropped" in line for line in client.lines())
    finally:
        firmware.close()
        sim.close()


def test_noise_shows_unknown_data_with_its_payload(rig):
    sim, firmware = rig()
    client = firmware.connect()
    client.send("level V")
    client.expect(r"^Log level V")
    client.expect(r"^\(V\) HDLC frame:")
    noise = bytes.fromhex(sim.command("noise 40").split()[-1])
    client.expect(r"^\(W\) Unknown data received")
    payload, dump = client.wait(complete_dump(client, "(V) payload:"), what="the payload dump")
    assert dump and payload in noise
    status = client.status()
    assert "noise" in status["text"] and "Last error: noise" in status["text"]


def test_checksum_errors_name_header_or_footer(rig):
    sim, firmware = rig()
    client = firmware.connect()
    client.expect(r"^hanreader console")
    footer = bytearray(FRAME)
    footer[100] ^= 0x10   # information field: the frame checksum (FCS) fails
    header = bytearray(FRAME)
    header[4] ^= 0x02     # destination address: the header checksum (HCS) fails
    sim.command("send " + footer.hex())
    client.expect(r"^\(W\) Checksum error.*(FCS|footer)")
    sim.command("send " + header.hex())
    client.expect(r"^\(W\) Checksum error.*(HCS|header)")


def test_counters_move_between_two_status_calls(rig):
    _, firmware = rig()
    client = firmware.connect()
    first = client.status()
    deadline = time.monotonic() + 20
    while True:
        second = client.status()
        if second["readings"] >= first["readings"] + 2:
            break
        assert time.monotonic() < deadline, second["text"]
        time.sleep(0.3)
    assert second["bytes"] >= first["bytes"] + len(FRAME)
    assert second["frames"] >= first["frames"] + 2
    for part in ("Serial: 2400 8N1", "Last error:", "Heap free", "uptime", "Loop stall max"):
        assert part in second["text"]


def test_the_meter_is_read_again_once_the_line_comes_back(rig):
    # The simulator stopped and started again on its port: a cable pulled out and put back.
    sim, firmware = rig()
    client = firmware.connect()

    def readings_beyond(count):
        deadline = time.monotonic() + 20
        while True:
            status = client.status()
            if status["readings"] > count:
                return status["readings"]
            assert time.monotonic() < deadline, status["text"]
            time.sleep(0.3)

    before = readings_beyond(0)
    sim.close()
    time.sleep(1)  # the firmware finds the line gone and tries again (every 0.5 s)
    quiet = client.status()["readings"]
    back = MeterSim(KAMSTRUP, "--quiet", "--seed", "1", "--speed", "10", "--offset", "0.5", "--port", str(sim.port))
    try:
        assert readings_beyond(quiet) > quiet >= before
    finally:
        back.close()


def test_two_clients_and_a_client_that_never_reads_is_dropped(rig):
    _, firmware = rig(None, "--interval", "10", speed="30")  # a push every 0.33 s: the log piles up
    watcher = firmware.connect()
    other = firmware.connect()
    watcher.send("level V")
    for client in (watcher, other):
        client.expect(r"^\(V\) HDLC frame:")
    assert watcher.status()["clients"] == 2
    stuck = firmware.connect(receive_buffer=2048)  # reads nothing from now on
    stuck.send("config")  # fills its window sooner; the log at level V does the rest
    before = watcher.status()
    watcher.expect(r"^\(W\) Telnet client \S+ dropped: ", timeout=30)
    for client in (watcher, other):  # both go on receiving what the meter decodes
        client.expect(r"^\(V\) HDLC frame:")
    after = watcher.status()
    assert after["dropped"] == 1 and after["clients"] == 2
    assert after["readings"] > before["readings"]
    assert after["stall"] < STALL_LIMIT_MS, after["text"]
    stuck.read_until_closed()


def test_client_limit_and_a_client_that_asks_but_never_reads(rig):
    _, firmware = rig()
    clients = [firmware.connect() for _ in range(3)]
    for client in clients:
        client.expect(r"^hanreader console")
    extra = firmware.connect()
    extra.expect(r"^Too many telnet clients")
    extra.read_until_closed()
    greedy = clients[2]
    greedy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    for _ in range(60):
        try:
            greedy.send("config")  # about 40 lines each, never read
        except OSError:  # dropped already, while we were still asking: what the test wants
            break
    clients[0].expect(r"^\(W\) Telnet client \S+ dropped: ", timeout=20)
    assert clients[0].status()["clients"] == 2


def test_loop_stall_stays_low_while_a_2400_baud_frame_trickles_in(rig):
    sim, firmware = rig(None, "--interval", "2.5", speed="1")  # real time: 0.95 s a frame
    client = firmware.connect()
    partial = False
    deadline = time.monotonic() + 30
    while True:
        status = client.status()
        partial = partial or status["bytes"] % len(FRAME) != 0  # caught in the middle of a frame
        if status["readings"] >= 2 and partial:
            break
        assert time.monotonic() < deadline, status["text"]
        time.sleep(0.05)
    assert status["stall"] < STALL_LIMIT_MS, status["text"]
    assert status["frame_ms_max"] < STALL_LIMIT_MS, status["text"]
    print("\nloop stall max %d ms; decoding a frame took %.3f ms (max %.3f ms)"
          % (status["stall"], status["frame_ms"], status["frame_ms_max"]))


def test_password_prompt_when_configured(rig):
    _, firmware = rig({"telnet": {"password": "s3cret!"}})
    client = firmware.connect()
    client.expect_prompt("Password: ")
    assert b"hanreader console" not in client.buffer
    client.send("guess")
    client.expect(r"Wrong password\.")
    client.buffer = b""
    client.seen = 0
    client.expect_prompt("Password: ")
    client.send("s3cret!")
    client.expect(r"^hanreader console")
    assert client.status()["clients"] == 1


def test_config_shows_secrets_masked(rig):
    _, firmware = rig({"telnet": {"password": "pw-1234"}, "meter": {"key": KEY}})
    client = firmware.connect()
    client.expect_prompt("Password: ")
    client.send("pw-1234")
    client.expect(r"^hanreader console")
    lines = client.command("config", r"^wifi\.ssid = ")
    assert "meter.key = 'set'" in lines
    assert "meter.auth_key = 'not set'" in lines
    assert "telnet.password = 'set'" in lines
    assert "meter.baud = 2400" in lines
    text = "\n".join(client.lines())
    assert KEY not in text and KEY.lower() not in text and "pw-1234" not in text


def test_reboot_restarts_the_firmware_under_the_sim_runner(tmp_path):
    telnet_port, web_port = free_port(), free_port()
    log = open(tmp_path / "sim.log", "w")
    runner = subprocess.Popen(
        [sys.executable, os.path.join(TOOLS, "sim.py"), "--meter", KAMSTRUP, "--speed", "10",
         "--telnet-port", str(telnet_port), "--web-port", str(web_port), "--data", str(tmp_path / "data")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        client = connect(telnet_port, alive=runner)
        assert client.status()["reset_cause"] == "power-on"
        client.send("reboot")
        client.expect(r"^Rebooting")
        client.read_until_closed()
        deadline = time.monotonic() + 20
        while True:  # the old process may still hold the port for a moment while it exits
            client = connect(telnet_port, alive=runner)
            try:
                client.expect(r"^hanreader console")
                break
            except AssertionError:
                assert client.closed and time.monotonic() < deadline
                client.close()
        assert client.status()["reset_cause"] == "reboot from telnet"
        client.close()
        with open(tmp_path / "sim.log") as f:
            output = f.read()
        assert "telnet:  127.0.0.1:%d" % telnet_port in output
        assert "web:     http://127.0.0.1:%d" % web_port in output
        assert "MQTT:    broker 127.0.0.1:" in output  # started by the runner: no mqtt.host set
        assert "rebooted (exit code 3)" in output
        runner.send_signal(signal.SIGINT)  # Ctrl-C: the runner stops the firmware and the simulator
        assert runner.wait(15) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", telnet_port), timeout=2).close()
    finally:
        stop(runner)
        log.close()
