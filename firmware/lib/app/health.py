"""Health: the watchdog, the uptime, the event-loop stall monitor and the status LED, in one task
that wakes every TICK_MS; every FEED_MS it also has the Wi-Fi (app/wifi.py) look at the radio.

Stalls. Any delay of a wake beyond TICK_MS is time the loop was blocked; the longest since start
is state.loop_stall_ms.

Watchdog. Armed by the app only, ARM_MS after start (mpremote, which interrupts the program
right after a reset, never meets it; the boot guard's healthy run, app/boot_guard.py: its count
of starts that ended early is cleared then), with TIMEOUT_MS: three times the longest stall expected
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

from app import elapsed, unload

try:
    from micropython import const
except ImportError:
    const = int  # CPython: the value itself (every const() here wraps an int)

TICK_MS = 50    # module globals: the tests run the task with shorter ones
FEED_MS = 1000
_TIMEOUT_MS = const(60000)
_DISARMED_MS = const(86400000)  # the watchdog's timeout once a person has the prompt (a day)
_STALL_MS = const(20000)
_ARM_MS = const(60000)
_FLASH_MS = const(80)
_CYCLE_MS = const(3000)
_NO_DATA_MS = const(30000)

# The LED patterns (WIFI_DOWN and MQTT_DOWN: their numbers of short blinks). The tests have
# their own copies of these figures: private consts are no module attributes on MicroPython.
_OK = const(0)
_NO_DATA = const(1)
_WIFI_DOWN = const(2)
_MQTT_DOWN = const(3)
_SETUP = const(4)


def pattern(now, data_ms, wifi_up, ap, mqtt):
    """The LED pattern: `data_ms` ticks of the last reading (or of the start), `mqtt` state.mqtt
    ("off" when not configured; down unless "connected...")."""
    if elapsed(now, data_ms) >= _NO_DATA_MS:
        return _NO_DATA
    if ap:
        return _SETUP
    if not wifi_up:
        return _WIFI_DOWN
    if mqtt != "off" and not mqtt.startswith("connected"):
        return _MQTT_DOWN
    return _OK


def lit(code, phase):
    """Whether the LED is on `phase` ms into the cycle of pattern `code` (not OK)."""
    if code == _NO_DATA:
        return phase < 1000
    if code == _SETUP:
        return phase % 200 < 100
    return phase < code * 400 and phase % 400 < 150


class Health:
    """The meter sets `flash` for every good reading (one short flash); the app arms nothing:
    tick() does."""

    # The starting values are the class's: the object holds only what has been set (12 slots at
    # most in a run without problems: its table of attributes grows past 12).
    code = _OK       # the LED's pattern
    flash = None     # True: a reading came (set by the meter); then the ticks its short flash began
    meter = None     # the meter task (set by the start): it must keep running
    arm_ms = _ARM_MS
    armed = False
    ms = 0           # uptime below a second
    problem = None

    def __init__(self, hal, state, log, wifi, started_ms):
        self.hal = hal
        self.state = state
        self.log = log
        self.wifi = wifi          # app.wifi.Wifi (its `up` and `ap`), or None
        self.started_ms = self.code_ms = self.last = started_ms  # code_ms: when the pattern began;
        # last: ticks of the last tick()

    def show(self, now):
        """Set the LED for ticks `now` (the hal drives it, if there is one); returns whether it is
        on."""
        state = self.state
        wifi = self.wifi
        data_ms = self.started_ms if state.reading_ms is None else state.reading_ms
        code = pattern(now, data_ms, wifi is None or wifi.up, wifi is not None and wifi.ap, state.mqtt)
        if code != self.code:
            self.code = code
            self.code_ms = now  # a pattern starts at its beginning
        flash = self.flash
        if flash is True:
            flash = self.flash = now
        if code:
            on = lit(code, elapsed(now, self.code_ms) % _CYCLE_MS)
        else:
            on = flash is not None and elapsed(now, flash) < _FLASH_MS
        self.hal.light(on)
        return on

    def tick(self, now):
        """Count the uptime to ticks `now`, check the health and feed the watchdog if it is good
        (arming it first once ARM_MS have passed)."""
        gap = elapsed(now, self.last)
        self.last = now
        self.ms += gap
        if self.ms >= 1000:
            self.state.uptime_s += self.ms // 1000
            self.ms %= 1000
        problem = None
        if gap - FEED_MS > _STALL_MS:
            problem = "the loop was blocked for %d s" % ((gap - FEED_MS) // 1000)
        elif self.meter is not None and self.meter.done():
            problem = "the meter task has ended"
        if problem != self.problem:
            self.problem = problem
            if problem:
                self.log.error("Health: %s; the watchdog is not fed" % problem)
            else:
                self.log.info("Health: good again")
        if not self.armed and self.state.uptime_s * 1000 + self.ms >= self.arm_ms:
            # The start ran long enough: the watchdog takes over, and the boot guard's count is
            # cleared (the next start is a normal one; its code, which also tells the log, is
            # loaded for that).
            self.armed = True
            self.hal.watchdog(_TIMEOUT_MS)
            from app import boot_guard
            boot_guard.healthy(self.log, self.arm_ms, _TIMEOUT_MS)
            unload("app.boot_guard")
        if self.armed and problem is None:
            self.hal.feed()

    def disarm(self):
        """Someone took over the prompt (Ctrl-C): the watchdog must not reset the board now."""
        if self.armed:
            try:
                self.hal.watchdog(_DISARMED_MS)
            except Exception:  # noqa: BLE001 - best effort, nothing else to do
                pass

    async def run(self):
        state = self.state
        last = time.ticks_ms()
        fed = time.ticks_add(last, -FEED_MS)  # the first round at once: the Wi-Fi is looked at
        while True:                             # before the services that wait for it
            now = time.ticks_ms()
            stall = time.ticks_diff(now, last) - TICK_MS
            if stall > state.loop_stall_ms:
                state.loop_stall_ms = stall
            last = now
            self.show(now)
            if time.ticks_diff(now, fed) >= FEED_MS:
                fed = now
                self.tick(now)
                if self.wifi is not None:
                    try:
                        self.wifi.tick(now)
                    except Exception as e:  # a radio error must not end this task
                        self.log.error("Wi-Fi: %r" % e)
            await asyncio.sleep_ms(TICK_MS)
