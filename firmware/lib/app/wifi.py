"""Wi-Fi: join the configured network and stay joined; open an access point when that fails.

The task polls the radio every POLL_MS; nothing here waits for it (connect() returns at once).

    join      connect(), then poll until joined or ATTEMPT_MS have passed
    failed    disconnect(), wait BACKOFF_MS doubled per failure, at most MAX_BACKOFF_MS,
              each wait +-25 % at random (many devices behind one router do not retry together):
              about 5, 10, 20, 40, 80, 160, 300, 300 ... s
    lost      the first retry comes after about BACKOFF_MS
    AP        "hanreader-XXXX" (the last two bytes of the chip id), the config page at its address
              (192.168.4.1) and a DNS responder giving that address for every name (app/dns.py):
              * at once, and for good, when no network is set, in safe mode (then the station is
                not tried at all) or when the config could not be used;
              * after wifi.ap_after_minutes without a connection; the station keeps trying (but
                not while a phone is on the AP: scanning would disturb it), and the AP closes
                once the station is back and no phone is on it.

state.wifi says in one line what is going on, for the status page and the console.
"""
import asyncio
import time
from random import getrandbits

POLL_MS = 1000
ATTEMPT_MS = 20000
BACKOFF_MS = 5000
MAX_BACKOFF_MS = 300000
AP_ADDRESS = "192.168.4.1"  # the ESP32's default; the radio reports the real one


def _elapsed(now, then):
    return (now - then) & 0x3FFFFFFF  # ms; time.ticks_ms() wraps at 2**30 on the ESP32


def ap_name(unique_id):
    return "hanreader-%02X%02X" % (unique_id[-2], unique_id[-1])


def backoff_ms(failures, rand8):
    """The wait after `failures` (>= 1) failed attempts; `rand8` (0-255) spreads it +-25 %."""
    base = min(MAX_BACKOFF_MS, BACKOFF_MS << min(failures - 1, 7))
    return base - base // 4 + base // 4 * rand8 // 128


def _rand8():
    return getrandbits(8)


class Wifi:
    def __init__(self, hal, config, state, log, force_ap=False, rand8=_rand8):
        self.hal = hal
        self.radio = hal.wifi
        self.config = config["wifi"]
        self.state = state
        self.log = log
        self.force_ap = force_ap  # the config could not be used: the AP stays open
        self.rand8 = rand8
        self.ap_name = ap_name(hal.unique_id())
        self.up = False           # the station is joined
        self.ap = False           # the access point is open
        self.failures = 0
        self.trying = None        # ticks when the current attempt started
        self.since = None         # ticks when the wait before the next attempt started
        self.wait = 0
        self.down_since = None    # ticks since when the station has not been joined
        self.reason = ""
        self.dns = None           # the DNS responder's task while the AP is open

    async def run(self):
        while True:
            try:
                self.tick(time.ticks_ms())
            except Exception as e:  # a radio error must not end Wi-Fi for good
                self.log.error("Wi-Fi: %r" % e)
            await asyncio.sleep_ms(POLL_MS)

    def tick(self, now):
        if self.since is None:
            self.since = self.down_since = now
        radio = self.radio
        config = self.config
        ssid = config["ssid"]
        safe = self.state.safe_mode
        changed = False
        if radio.connected() != self.up:
            self.up = not self.up
            changed = True
            if self.up:
                self.failures = 0
                self.trying = None
                self.log.info("Wi-Fi: joined %s, address %s" % (ssid or "the network", radio.address()))
            else:
                self.down_since = now
                self.log.warning("Wi-Fi: lost the connection")
                self._retry_later(now, "connection lost")
        elif not self.up and ssid and not safe:
            if self.trying is not None:
                if _elapsed(now, self.trying) >= ATTEMPT_MS:
                    reason = radio.status()
                    self._retry_later(now, "no answer" if reason in ("connecting", "idle") else reason)
                    changed = True
            elif _elapsed(now, self.since) >= self.wait and not (self.ap and radio.clients()):
                radio.connect(ssid, config["password"], config["hostname"])
                self.trying = now
                changed = True
        why = "safe mode" if safe else "no network set" if not ssid else \
            "the config could not be used" if self.force_ap else None
        if not self.ap and (why or not self.up and
                            _elapsed(now, self.down_since) >= config["ap_after_minutes"] * 60000):
            self._open_ap(why or "not joined for %d min" % config["ap_after_minutes"])
            changed = True
        elif self.ap and self.up and not why and not radio.clients():
            self._close_ap()
            changed = True
        if changed:
            self._show()

    def _retry_later(self, now, reason):
        self.radio.disconnect()  # the driver stops retrying on its own: the backoff is ours
        self.failures += 1
        self.trying = None
        self.since = now
        self.wait = backoff_ms(self.failures, self.rand8())
        self.reason = reason
        self.log.warning("Wi-Fi: cannot join %s (%s); next try in %d s" % (
            self.config["ssid"], reason, self.wait // 1000))

    def _open_ap(self, why):
        self.radio.start_access_point(self.ap_name, self.config["ap_password"])
        self.ap = True
        address = self.radio.ap_address() or AP_ADDRESS
        self.log.warning("Wi-Fi: access point %s open, config page at http://%s (%s)" % (
            self.ap_name, address, why))
        if self.hal.dns_port:
            self.dns = asyncio.create_task(self._serve_dns(address))

    def _close_ap(self):
        self.radio.stop_access_point()
        self.ap = False
        if self.dns is not None:
            self.dns.cancel()
            self.dns = None
        self.log.info("Wi-Fi: access point closed")

    async def _serve_dns(self, address):
        from app.dns import Dns  # loaded only when an access point opens
        try:
            await Dns(address, self.hal.dns_port, self.hal.dns_host).run()
        except OSError as e:
            self.log.error("Wi-Fi: no DNS responder on port %d (%s)" % (self.hal.dns_port, e))

    def _show(self):
        ssid = self.config["ssid"]
        radio = self.radio
        if self.up:
            text = "connected to %s, %s" % (ssid or "the network", radio.address())
            rssi = radio.rssi()
            if rssi is not None:
                text += ", %d dBm" % rssi
        elif self.state.safe_mode:
            text = "safe mode"
        elif not ssid:
            text = "no network set"
        elif self.trying is not None:
            text = "joining " + ssid
            if self.failures:
                text += " (try %d)" % (self.failures + 1)
        else:
            text = "cannot join %s (%s), next try in %d s" % (ssid, self.reason, self.wait // 1000)
        if self.ap:
            text += "; access point %s at %s" % (self.ap_name, radio.ap_address() or AP_ADDRESS)
        self.state.wifi = text
