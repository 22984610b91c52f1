"""What follows a change of the Wi-Fi (app/wifi.py watches): the log, the backoff after a failed
attempt, opening and closing the access point and its DNS responder, the status line. Loaded for
the change and unloaded right after."""
import asyncio
from random import getrandbits

from app import unload

try:
    from micropython import const
except ImportError:
    const = lambda value: value  # CPython: the value itself

_BACKOFF_MS = const(5000)
_MAX_BACKOFF_MS = const(300000)
_AP_ADDRESS = const("192.168.4.1")  # the ESP32's default; the radio reports the real one


def ap_name(unique_id):
    return "hanreader-%02X%02X" % (unique_id[-2], unique_id[-1])


def backoff_ms(failures, rand8):
    """The wait after `failures` (>= 1) failed attempts; `rand8` (0-255) spreads it +-25 %."""
    base = min(_MAX_BACKOFF_MS, _BACKOFF_MS << min(failures - 1, 7))
    return base - base // 4 + base // 4 * rand8 // 128


def change(wifi, now, event, ap):
    """`event`: the station "joined", was "lost", an attempt "failed" or is "trying" (or None);
    `ap`: the access point to "open" or "close" (or None)."""
    radio = wifi.hal
    log = wifi.log
    ssid = wifi.config["ssid"]
    if event == "joined":
        wifi.failures = 0
        wifi.trying = None
        log.info("Wi-Fi: joined %s, address %s" % (ssid or "the network", radio.address()))
    elif event == "lost":
        log.warning("Wi-Fi: lost the connection")
        _retry_later(wifi, now, "connection lost")
    elif event == "failed":
        reason = radio.status()
        _retry_later(wifi, now, "no answer" if reason in ("connecting", "idle") else reason)
    if ap == "open":
        wifi.ap_name = ap_name(radio.unique_id())
        radio.access_point(wifi.ap_name, wifi.config["ap_password"])
        wifi.ap = True
        address = radio.address(True) or _AP_ADDRESS
        # Why: at once and for good (safe mode, no network, a config that could not be used), or
        # after ap_after_minutes without a connection.
        why = "safe mode" if wifi.state.safe_mode else "no network set" if not ssid else \
            "the config could not be used" if wifi.force_ap else \
            "not joined for %d min" % wifi.config["ap_after_minutes"]
        log.warning("Wi-Fi: access point %s open, config page at http://%s (%s)" % (wifi.ap_name, address, why))
        if radio.dns_port:
            from app.dns import serve  # the task holds the responder's code while the AP is open
            wifi.dns = asyncio.create_task(serve(address, radio.dns_port, radio.dns_host, log))
    elif ap == "close":
        radio.access_point(None)
        wifi.ap = False
        if wifi.dns is not None:
            wifi.dns.cancel()
            wifi.dns = None
            unload("app.dns")
        log.info("Wi-Fi: access point closed")
    wifi.state.wifi = _status(wifi)


def _retry_later(wifi, now, reason):
    wifi.hal.disconnect()  # the driver stops retrying on its own: the backoff is ours
    wifi.failures += 1
    wifi.trying = None
    wifi.since = now
    wifi.wait = backoff_ms(wifi.failures, (wifi.random_bits or getrandbits)(8))
    wifi.reason = reason
    wifi.log.warning("Wi-Fi: cannot join %s (%s); next try in %d s" % (
        wifi.config["ssid"], reason, wifi.wait // 1000))


def _status(wifi):
    """state.wifi: what is going on, in one line."""
    ssid = wifi.config["ssid"]
    radio = wifi.hal
    if wifi.up:
        text = "connected to %s, %s" % (ssid or "the network", radio.address())
        rssi = radio.rssi()
        if rssi is not None:
            text += ", %d dBm" % rssi
    elif wifi.state.safe_mode:
        text = "safe mode"
    elif not ssid:
        text = "no network set"
    elif wifi.trying is not None:
        text = "joining " + ssid
        if wifi.failures:
            text += " (try %d)" % (wifi.failures + 1)
    else:
        text = "cannot join %s (%s), next try in %d s" % (ssid, wifi.reason, wifi.wait // 1000)
    if wifi.ap:
        text += "; access point %s at %s" % (wifi.ap_name, radio.address(True) or _AP_ADDRESS)
    return text
