# The Wi-Fi manager (app/wifi.py) driven by a fake clock and a fake radio: backoff, access point
# fallback, safe mode, status text. Runs under CPython (pytest) and MicroPython alike.

from app.health import FEED_MS as POLL_MS  # the health task has the Wi-Fi look at the radio this often
from app.log import Log
from app.state import State
from app.wifi import Wifi
from app.wifi_change import ap_name, backoff_ms

# app/wifi.py's and app/wifi_change.py's figures (private consts there)
ATTEMPT_MS, BACKOFF_MS, MAX_BACKOFF_MS = 20000, 5000, 300000

MINUTE = 60000


class Radio:
    """The hal as app/wifi.py sees it: its Wi-Fi radio, the chip id, the DNS port."""

    dns_port = 0  # no DNS task: these tests run without an event loop
    dns_host = "127.0.0.1"

    def __init__(self):
        self.joined = False
        self.clients_on_ap = 0
        self.connects = []     # (ssid, password, hostname)
        self.disconnects = 0
        self.opened = None  # (ssid, password) of the access point while it is open
        self.reason = "network not found"

    def connect(self, ssid, password, hostname):
        self.connects.append((ssid, password, hostname))

    def disconnect(self):
        self.disconnects += 1

    def connected(self):
        return self.joined

    def status(self):
        return "connected" if self.joined else self.reason

    def address(self, ap=False):
        if ap:
            return "192.168.4.1" if self.opened else None
        return "10.0.0.7" if self.joined else None

    def rssi(self):
        return -61 if self.joined else None

    def clients(self):
        return self.clients_on_ap

    def access_point(self, ssid, password=""):
        self.opened = None if ssid is None else (ssid, password)

    def unique_id(self):
        return b"\x24\x0a\xc4\x12\xab\xcd"


def config(ssid="Home", minutes=5, ap_password=""):
    return {"wifi": {"ssid": ssid, "password": "secret123", "hostname": "hanreader",
                     "ap_password": ap_password, "ap_after_minutes": minutes}}


def make(ssid="Home", minutes=5, force_ap=False, safe=False, ap_password=""):
    hal = Radio()
    state = State()
    state.safe_mode = safe
    log = Log("D")
    lines = []
    log.sinks.append(lines.append)
    manager = Wifi(hal, config(ssid, minutes, ap_password), state, log, force_ap=force_ap,
                   random_bits=lambda bits: 128)  # no jitter: waits are exactly the base
    return manager, hal, state, lines


def run_until(manager, start, end, step=POLL_MS):
    """Tick every `step` ms from `start` up to (not including) `end`; returns `end`."""
    now = start
    while now < end:
        manager.tick(now & 0x3FFFFFFF)
        now += step
    return end


def attempt_times(manager, radio, start, end):
    """The times (relative to `start`) at which connect() was called while ticking."""
    times = []
    now = start
    while now < end:
        before = len(radio.connects)
        manager.tick(now & 0x3FFFFFFF)
        if len(radio.connects) > before:
            times.append(now - start)
        now += POLL_MS
    return times


def test_ap_name_from_the_last_two_bytes_of_the_chip_id():
    assert ap_name(b"\x24\x0a\xc4\x12\xab\xcd") == "hanreader-ABCD"
    assert ap_name(b"SIM\x00\x00\x01") == "hanreader-0001"


def test_backoff_doubles_up_to_the_cap_with_25_percent_jitter():
    bases = [backoff_ms(n, 128) for n in range(1, 12)]
    assert bases == [5000, 10000, 20000, 40000, 80000, 160000, 300000, 300000, 300000, 300000, 300000]
    for n in (1, 4, 7, 30):
        base = backoff_ms(n, 128)
        low, high = backoff_ms(n, 0), backoff_ms(n, 255)
        assert low == base * 3 // 4
        assert base < high < base * 5 // 4
        assert all(low <= backoff_ms(n, r) <= high for r in range(256))
    assert backoff_ms(1000, 255) < MAX_BACKOFF_MS * 5 // 4  # no overflow for huge counts


def test_joins_at_once_and_reports_it():
    manager, radio, state, lines = make()
    manager.tick(0)
    assert radio.connects == [("Home", "secret123", "hanreader")]
    assert state.wifi == "joining Home"
    radio.joined = True
    manager.tick(1000)
    assert manager.up and not manager.ap and radio.opened is None
    assert state.wifi == "connected to Home, 10.0.0.7, -61 dBm"
    run_until(manager, 2000, 30 * MINUTE)
    assert len(radio.connects) == 1 and radio.opened is None
    assert any("joined Home" in line for line in lines)


def test_failed_attempts_back_off_exponentially():
    manager, radio, state, _ = make(minutes=60)
    times = attempt_times(manager, radio, 0, 20 * MINUTE)
    # Each attempt lasts ATTEMPT_MS, then waits 5, 10, 20 ... s (ticks are 1 s apart).
    expected = [0]
    wait = BACKOFF_MS
    while True:
        at = expected[-1] + ATTEMPT_MS + min(wait, MAX_BACKOFF_MS)
        if at >= 20 * MINUTE:
            break
        expected.append(at)
        wait *= 2
    assert times == expected, (times, expected)
    assert radio.disconnects == len(expected) - 1 or radio.disconnects == len(expected)
    assert state.wifi.startswith("cannot join Home (network not found), next try in") or \
        state.wifi.startswith("joining Home (try")


def test_timeout_reason_when_the_driver_is_still_trying():
    manager, radio, state, _ = make()
    radio.reason = "connecting"
    run_until(manager, 0, ATTEMPT_MS + 1)
    assert state.wifi == "cannot join Home (no answer), next try in 5 s"
    radio.reason = "wrong password"
    run_until(manager, ATTEMPT_MS + 1000, 2 * ATTEMPT_MS + 6000)
    assert state.wifi == "cannot join Home (wrong password), next try in 10 s"


def test_jitter_spreads_the_waits():
    manager, radio, _, _ = make(minutes=60)
    values = [0, 255, 64]
    manager.random_bits = lambda bits: values.pop(0) if values else 128
    times = attempt_times(manager, radio, 0, 3 * MINUTE)
    gaps = [b - a - ATTEMPT_MS for a, b in zip(times, times[1:])]
    # waits of 3.75 s, 12.4 s, 17.5 s, rounded up to the 1 s tick
    assert gaps[:3] == [4000, 13000, 18000], gaps


def test_no_network_set_opens_the_access_point_at_once_and_never_tries_the_station():
    manager, radio, state, lines = make(ssid="", ap_password="letmein123")
    manager.tick(0)
    assert radio.opened == ("hanreader-ABCD", "letmein123")
    assert manager.ap and state.wifi == "no network set; access point hanreader-ABCD at 192.168.4.1"
    run_until(manager, 1000, 60 * MINUTE)
    assert radio.connects == [] and radio.opened is not None
    assert any("config page at http://192.168.4.1 (no network set)" in line for line in lines)


def test_access_point_after_the_configured_minutes_then_closed_when_joined():
    manager, radio, state, lines = make(minutes=2)
    run_until(manager, 0, 2 * MINUTE - 1000)
    assert radio.opened is None
    manager.tick(2 * MINUTE)
    assert radio.opened == ("hanreader-ABCD", "")
    assert "access point hanreader-ABCD at 192.168.4.1" in state.wifi
    assert any("(not joined for 2 min)" in line for line in lines)
    # The station keeps trying behind the access point ...
    tries = len(radio.connects)
    run_until(manager, 2 * MINUTE + 1000, 10 * MINUTE)
    assert len(radio.connects) > tries
    # ... and once it is back, the access point closes.
    radio.joined = True
    manager.tick(10 * MINUTE)
    assert radio.opened is None and not manager.ap
    assert state.wifi == "connected to Home, 10.0.0.7, -61 dBm"


def test_a_phone_on_the_access_point_pauses_the_station_and_keeps_the_ap_open():
    manager, radio, state, _ = make(minutes=1)
    run_until(manager, 0, 2 * MINUTE)
    assert manager.ap
    radio.clients_on_ap = 1
    tries = len(radio.connects)
    end = run_until(manager, 2 * MINUTE, 30 * MINUTE)
    assert len(radio.connects) <= tries + 1  # at most the attempt already under way
    radio.joined = True  # e.g. the router came back by itself
    manager.tick(end)
    assert manager.up and manager.ap  # the phone keeps its page
    radio.clients_on_ap = 0
    manager.tick(end + 1000)
    assert not manager.ap and radio.opened is None


def test_lost_connection_retries_soon_and_falls_back_after_the_minutes():
    manager, radio, state, lines = make(minutes=3)
    radio.joined = True
    manager.tick(0)
    run_until(manager, 1000, 10 * MINUTE)
    lost = 10 * MINUTE
    radio.joined = False
    manager.tick(lost)
    assert not manager.up and "connection lost" in state.wifi
    times = attempt_times(manager, radio, lost + 1000, lost + 3 * MINUTE - 1000)
    assert times[0] == BACKOFF_MS - 1000  # about 5 s after the loss
    assert radio.opened is None
    manager.tick(lost + 3 * MINUTE)
    assert radio.opened is not None
    assert any("lost the connection" in line for line in lines)


def test_safe_mode_opens_the_access_point_and_does_not_try_the_station():
    manager, radio, state, lines = make(safe=True)
    manager.tick(0)
    assert radio.opened is not None and radio.connects == []
    assert state.wifi == "safe mode; access point hanreader-ABCD at 192.168.4.1"
    run_until(manager, 1000, 20 * MINUTE)
    assert radio.connects == [] and manager.ap
    assert any("(safe mode)" in line for line in lines)


def test_a_config_that_could_not_be_used_keeps_the_ap_open_while_joined():
    manager, radio, state, lines = make(force_ap=True)
    manager.tick(0)
    assert radio.opened is not None and radio.connects  # both at once
    radio.joined = True
    run_until(manager, 1000, 10 * MINUTE)
    assert manager.up and manager.ap
    assert state.wifi == "connected to Home, 10.0.0.7, -61 dBm; access point hanreader-ABCD at 192.168.4.1"
    assert any("(the config could not be used)" in line for line in lines)


def test_safe_mode_set_later_opens_the_access_point():
    manager, radio, state, _ = make()
    radio.joined = True
    run_until(manager, 0, 5000)
    state.safe_mode = True
    manager.tick(5000)
    assert manager.ap


def test_ticks_wrap_around():
    manager, radio, _, _ = make(minutes=1)
    start = (1 << 30) - 30000
    times = attempt_times(manager, radio, start, start + 70000)
    assert times[:2] == [0, ATTEMPT_MS + BACKOFF_MS]
    assert manager.ap  # a minute without a connection, across the wrap
