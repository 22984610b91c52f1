"""Wi-Fi: join the configured network and stay joined; open an access point when that fails.

The health task (app/health.py) calls tick() every second to look at the radio; nothing here
waits for it (connect() returns at once).

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

state.wifi says in one line what is going on, for the status page and the console. This module
watches; what follows a change (the log, the backoff, opening and closing the access point, the
status line) is app/wifi_change.py, loaded for the change and unloaded after: while the Wi-Fi
is steady none of it takes heap.
"""
from app import elapsed, unload

try:
    from micropython import const
except ImportError:
    const = int  # CPython: the value itself (every const() here wraps an int)

_ATTEMPT_MS = const(20000)


class Wifi:
    # What a joined station leaves as it was, the class holds: its object needs fewer slots.
    force_ap = False     # the config could not be used: the AP stays open
    random_bits = None   # tests fix the backoff's jitter with one (else random.getrandbits)
    ap_name = None       # "hanreader-XXXX", once the access point has been opened
    ap = False           # the access point is open
    wait = 0
    reason = ""
    dns = None           # the DNS responder's task while the AP is open

    def __init__(self, hal, config, state, log, force_ap=False, random_bits=None):
        self.hal = hal            # its Wi-Fi radio (see app/hal)
        self.config = config["wifi"]
        self.state = state
        self.log = log
        if force_ap:
            self.force_ap = True
        if random_bits:
            self.random_bits = random_bits
        self.up = False           # the station is joined
        self.failures = 0
        self.trying = None        # ticks when the current attempt started
        self.since = None         # ticks when the wait before the next attempt started
        self.down_since = None    # ticks since when the station has not been joined

    def tick(self, now):
        """Look at the radio; start an attempt when one is due, and hand whatever changed to
        app/wifi_change.py."""
        if self.since is None:
            self.since = self.down_since = now
        radio = self.hal
        config = self.config
        ssid = config["ssid"]
        safe = self.state.safe_mode
        event = None
        if radio.connected() != self.up:
            self.up = not self.up
            event = "joined" if self.up else "lost"
            if not self.up:
                self.down_since = now
        elif not self.up and ssid and not safe:
            if self.trying is not None:
                if elapsed(now, self.trying) >= _ATTEMPT_MS:
                    event = "failed"
            elif elapsed(now, self.since) >= self.wait and not (self.ap and radio.clients()):
                radio.connect(ssid, config["password"], config["hostname"])
                self.trying = now
                event = "trying"
        forced = safe or not ssid or self.force_ap  # the access point opens at once and stays open
        ap = None
        if not self.ap and (forced or not self.up and
                            elapsed(now, self.down_since) >= config["ap_after_minutes"] * 60000):
            ap = "open"
        elif self.ap and self.up and not forced and not radio.clients():
            ap = "close"
        if event or ap:
            from app.wifi_change import change
            try:
                change(self, now, event, ap)
            finally:
                unload("app.wifi_change")
