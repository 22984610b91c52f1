"""Health: the watchdog supervisor, the uptime and the status LED.

Watchdog. Armed by the app only, ARM_MS after start (mpremote, which interrupts the program
right after a reset, never meets it), with TIMEOUT_MS: three times the longest stall expected
in normal work (about 20 s: a blocking DNS lookup plus an MQTT/TLS connect). Fed every FEED_MS
while the device is healthy: every watched task (the meter's) is still running and the loop
was not blocked for more than STALL_MS. A blocked loop cannot feed it at all; a task that ended
stops the feeding, and the board resets TIMEOUT_MS later. Ctrl-C (mpremote, the REPL) pushes
the timeout out to a day (`disarm`), so a person at the prompt is not reset under their hands.

LED, one 3 s cycle per pattern, the most basic problem shown:
    all well          dark, one short flash per good reading
    no data           one long blink (no reading for NO_DATA_MS)
    access point      fast flicker (setup: join "hanreader-XXXX")
    Wi-Fi down        two short blinks
    MQTT down         three short blinks
"""
import asyncio
import time

FEED_MS = 1000
TIMEOUT_MS = 60000
STALL_MS = 20000
ARM_MS = 60000
LED_MS = 50
FLASH_MS = 80
CYCLE_MS = 3000
NO_DATA_MS = 30000

OK = 0
NO_DATA = 1
WIFI_DOWN = 2   # the number of short blinks
MQTT_DOWN = 3
SETUP = 4


def _elapsed(now, then):
    return (now - then) & 0x3FFFFFFF  # ms; time.ticks_ms() wraps at 2**30 on the ESP32


def pattern(now, data_ms, wifi_up, ap, mqtt):
    """The LED pattern: `data_ms` ticks of the last reading (or of the start), `mqtt` state.mqtt
    ("off" when not configured; down unless "connected...")."""
    if _elapsed(now, data_ms) >= NO_DATA_MS:
        return NO_DATA
    if ap:
        return SETUP
    if not wifi_up:
        return WIFI_DOWN
    if mqtt != "off" and not mqtt.startswith("connected"):
        return MQTT_DOWN
    return OK


def lit(code, phase):
    """Whether the LED is on `phase` ms into the cycle of pattern `code` (not OK)."""
    if code == NO_DATA:
        return phase < 1000
    if code == SETUP:
        return phase % 200 < 100
    return phase < code * 400 and phase % 400 < 150


class Indicator:
    """Drives the LED (a hal Led, or None); the meter calls blink() for every good reading."""

    def __init__(self, led, state, wifi, started_ms):
        self.led = led
        self.state = state
        self.wifi = wifi          # app.wifi.Wifi (its `up` and `ap`), or None
        self.started_ms = started_ms
        self.code = OK
        self.code_ms = started_ms
        self.flash = False
        self.flash_ms = None

    def blink(self):
        self.flash = True

    def show(self, now):
        """Set the LED for ticks `now`; returns whether it is on."""
        state = self.state
        wifi = self.wifi
        data_ms = self.started_ms if state.reading_ms is None else state.reading_ms
        code = pattern(now, data_ms, wifi is None or wifi.up, wifi is not None and wifi.ap, state.mqtt)
        if code != self.code:
            self.code = code
            self.code_ms = now  # a pattern starts at its beginning
        if self.flash:
            self.flash = False
            self.flash_ms = now
        if code:
            on = lit(code, _elapsed(now, self.code_ms) % CYCLE_MS)
        else:
            on = self.flash_ms is not None and _elapsed(now, self.flash_ms) < FLASH_MS
        led = self.led
        if led is not None and on != led.lit:
            led.set(on)
        return on

    async def run(self):
        while True:
            self.show(time.ticks_ms())
            await asyncio.sleep_ms(LED_MS)


class Supervisor:
    """Feeds the watchdog while the device is healthy; keeps state.uptime_s."""

    def __init__(self, hal, state, log, started_ms, arm_ms=ARM_MS):
        self.hal = hal
        self.state = state
        self.log = log
        self.arm_ms = arm_ms
        self.tasks = []           # (name, task): each must keep running
        self.wdt = None
        self.last = started_ms
        self.ms = 0               # uptime below a second
        self.problem = None
        self.feeds = 0
        state.uptime_s = 0

    def watch(self, name, task):
        self.tasks.append((name, task))

    def check(self, now):
        """None when healthy at ticks `now`, else what is wrong. Counts the uptime."""
        gap = _elapsed(now, self.last)
        self.last = now
        self.ms += gap
        if self.ms >= 1000:
            self.state.uptime_s += self.ms // 1000
            self.ms %= 1000
        if gap - FEED_MS > STALL_MS:
            return "the loop was blocked for %d s" % ((gap - FEED_MS) // 1000)
        for name, task in self.tasks:
            if task.done():
                return "the %s task has ended" % name
        return None

    def tick(self, now):
        problem = self.check(now)
        if problem != self.problem:
            self.problem = problem
            if problem:
                self.log.error("Health: %s; the watchdog is not fed" % problem)
            else:
                self.log.info("Health: good again")
        if self.wdt is None and self.state.uptime_s * 1000 + self.ms >= self.arm_ms:
            self.wdt = self.hal.watchdog(TIMEOUT_MS)
            self.log.info("Watchdog on: the board resets after %d s without a healthy loop" % (
                TIMEOUT_MS // 1000))
        if self.wdt is not None and problem is None:
            self.wdt.feed()
            self.feeds += 1

    def disarm(self):
        """Someone took over the prompt (Ctrl-C): the watchdog must not reset the board now."""
        if self.wdt is not None:
            try:
                self.wdt.disarm()
            except Exception:  # noqa: BLE001 - best effort, nothing else to do
                pass

    async def run(self):
        while True:
            await asyncio.sleep_ms(FEED_MS)
            self.tick(time.ticks_ms())
