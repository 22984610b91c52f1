# Health (app/health.py): LED patterns as a function of state, the flash per reading, and the
# watchdog supervision with a fake clock, a fake hal and fake tasks. Runs under CPython and
# MicroPython alike.
import sys

from app import health
from app.health import FEED_MS, Health, lit, pattern
# app/health.py's figures (private consts there, which MicroPython keeps no attributes for)
TIMEOUT_MS, DISARMED_MS, STALL_MS, FLASH_MS, CYCLE_MS, NO_DATA_MS = 60000, 86400000, 20000, 80, 3000, 30000
OK, NO_DATA, WIFI_DOWN, MQTT_DOWN, SETUP = 0, 1, 2, 3, 4  # the LED patterns
from app.log import Log
from app.state import State


def blinks(code):
    """(number of blinks, total lit ms, longest blink ms) over one cycle, sampled every 10 ms."""
    count = on_ms = longest = run = 0
    before = False
    for phase in range(0, CYCLE_MS, 10):
        now = lit(code, phase)
        if now and not before:
            count += 1
            run = 0
        if now:
            on_ms += 10
            run += 10
            longest = max(longest, run)
        before = now
    return count, on_ms, longest


def test_patterns_are_distinct():
    assert blinks(NO_DATA) == (1, 1000, 1000)      # one long blink
    assert blinks(WIFI_DOWN) == (2, 300, 150)      # two short blinks
    assert blinks(MQTT_DOWN) == (3, 450, 150)      # three short blinks
    count, on_ms, longest = blinks(SETUP)          # fast flicker
    assert count == 15 and longest == 100
    assert not lit(WIFI_DOWN, CYCLE_MS - 10) and not lit(MQTT_DOWN, CYCLE_MS - 10)  # a pause ends each


def test_the_most_basic_problem_wins():
    fresh = 1000
    assert pattern(fresh, 0, True, False, "off") == OK
    assert pattern(fresh, 0, True, False, "connected to 10.0.0.2") == OK
    assert pattern(fresh, 0, True, False, "connecting") == MQTT_DOWN
    assert pattern(fresh, 0, False, False, "down") == WIFI_DOWN
    assert pattern(fresh, 0, False, True, "down") == SETUP
    assert pattern(fresh, 0, True, True, "off") == SETUP
    assert pattern(NO_DATA_MS, 0, False, True, "down") == NO_DATA
    assert pattern(NO_DATA_MS - 1, 0, True, False, "off") == OK
    # across the wrap of ticks_ms
    start = (1 << 30) - 100
    assert pattern(5000, start, True, False, "off") == OK
    assert pattern((start + NO_DATA_MS) & 0x3FFFFFFF, start, True, False, "off") == NO_DATA


class Watchdog:
    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self.feeds = 0


class Hal:
    """The hal's LED and watchdog, recorded."""

    def __init__(self):
        self.lit = False
        self.changes = 0
        self.dogs = []  # a Watchdog for every time it was armed

    def light(self, on):  # called every round: what it records is each change
        if on != self.lit:
            self.lit = on
            self.changes += 1

    def watchdog(self, timeout_ms):
        self.dogs.append(Watchdog(timeout_ms))

    def feed(self):
        self.dogs[-1].feeds += 1


def Indicator(led, state, wifi, started_ms):
    """Health driving the LED of `led` (a Hal), or a hal of its own when `led` is None."""
    return Health(led or Hal(), state, Log("D"), wifi, started_ms)


Led = Hal


class WifiStub:
    up = True
    ap = False


def test_one_flash_per_reading_when_all_is_well():
    state = State()
    led = Led()
    wifi = WifiStub()
    ind = Indicator(led, state, wifi, 0)
    for now in range(0, 5000, 50):
        ind.show(now)
    assert led.changes == 0 and not led.lit
    state.reading_ms = 5000
    ind.flash = True
    on = [ind.show(now) for now in range(5000, 5500, 50)]
    assert on[0] and sum(on) == FLASH_MS // 50 + (FLASH_MS % 50 > 0)
    assert not led.lit and led.changes == 2
    ind.flash = True  # the next reading
    assert ind.show(5500) and led.lit


def test_no_data_after_the_bound_and_back_with_a_reading():
    state = State()
    led = Led()
    ind = Indicator(led, state, None, 1000)
    assert not ind.show(1000 + NO_DATA_MS - 50)
    assert ind.show(1000 + NO_DATA_MS) and ind.code == NO_DATA  # the long blink starts at once
    assert not ind.show(1000 + NO_DATA_MS + 1500)
    state.reading_ms = 1000 + NO_DATA_MS + 1600
    ind.flash = True
    assert ind.show(1000 + NO_DATA_MS + 1650) and ind.code == OK  # the reading's flash


def test_wifi_and_mqtt_states_drive_the_led():
    state = State()
    wifi = WifiStub()
    ind = Indicator(Led(), state, wifi, 0)
    state.reading_ms = 0
    wifi.up = False
    ind.show(100)
    assert ind.code == WIFI_DOWN
    wifi.ap = True
    ind.show(200)
    assert ind.code == SETUP
    wifi.up, wifi.ap = True, False
    state.mqtt = "cannot connect to 10.0.0.2:1883"
    ind.show(300)
    assert ind.code == MQTT_DOWN
    ind.flash = True  # a reading does not flash over a problem pattern: still three blinks
    shown = [ind.show(t) for t in range(300, 300 + CYCLE_MS, 10)]
    assert sum(1 for a, b in zip([False] + shown, shown) if b and not a) == 3
    state.mqtt = "connected"
    ind.show(400)
    assert ind.code == OK


def test_no_led_configured():
    state = State()

    class NoLed(Hal):  # the hal was not told of an LED (hal.led): light() switches nothing
        def light(self, on):
            pass

    ind = Health(NoLed(), state, Log("D"), None, 0)
    ind.flash = True
    assert ind.show(10)  # still computed (tests/upy/test_hal.py: the board's hal with no LED)


class Task:
    def __init__(self):
        self.finished = False

    def done(self):
        return self.finished


class BootGuard:
    """Stands in for app.boot_guard, which Health loads to clear the count of starts that ended
    early once the watchdog arms (its healthy(), tested in test_boot_guard.py), counting the
    clears. Its code (`size` bytes) must go with it."""

    def __init__(self, size=0):
        self.code = bytearray(size)
        self.clears = []  # (ran_ms, watchdog_ms) of each

    def healthy(self, log, ran_ms, watchdog_ms):
        self.clears.append((ran_ms, watchdog_ms))


def fake_boot_guard(size=0):
    import app
    guard = sys.modules["app.boot_guard"] = app.boot_guard = BootGuard(size)
    return guard


def make(arm_ms=5000, start=0):
    hal = Hal()
    state = State()
    log = Log("D")
    lines = []
    log.sinks.append(lines.append)
    health = Health(hal, state, log, None, start)
    health.arm_ms = arm_ms
    health.guard = fake_boot_guard()  # (the tests' own attribute: which stand-in it clears)
    return health, hal, state, lines


def test_armed_only_after_the_delay_then_fed_while_healthy():
    sup, hal, state, lines = make(arm_ms=5000)
    meter = Task()
    sup.meter = meter
    for second in range(1, 5):
        sup.tick(second * FEED_MS)
    assert hal.dogs == [] and state.uptime_s == 4
    sup.tick(5 * FEED_MS)
    assert len(hal.dogs) == 1 and hal.dogs[0].timeout_ms == TIMEOUT_MS
    for second in range(6, 20):
        sup.tick(second * FEED_MS)
    assert hal.dogs[0].feeds == 15 and len(hal.dogs) == 1
    assert TIMEOUT_MS >= 2 * STALL_MS  # well above the longest stall it tolerates
    assert sup.guard.clears == [(5000, TIMEOUT_MS)] and "app.boot_guard" not in sys.modules


def test_the_count_is_cleared_once_as_the_watchdog_arms_and_its_code_goes():
    import gc
    sup, hal, state, lines = make(arm_ms=2000)
    guard = sup.guard
    sup.tick(1000)
    assert not guard.clears and "app.boot_guard" in sys.modules and not hal.dogs
    sup.guard = guard = None
    guard = fake_boot_guard(16384)  # a module with 16 KB of code
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        before = gc.mem_alloc()
    sup.tick(2000)
    assert len(guard.clears) == 1 and len(hal.dogs) == 1 and "app.boot_guard" not in sys.modules
    import app
    assert not hasattr(app, "boot_guard")
    guard = None
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        assert gc.mem_alloc() < before - 16000  # nothing keeps its code
    for second in range(3, 10):
        sup.tick(second * 1000)
    assert not hasattr(app, "boot_guard") and len(hal.dogs) == 1  # once


def test_an_ended_task_stops_the_feeding_for_good():
    sup, hal, state, lines = make(arm_ms=0)
    meter = Task()
    sup.meter = meter
    sup.tick(1000)
    meter.finished = True
    for second in range(2, 10):
        sup.tick(second * 1000)
    assert hal.dogs[0].feeds == 1
    assert sup.problem == "the meter task has ended"
    assert sum("the meter task has ended; the watchdog is not fed" in line for line in lines) == 1


def test_a_long_stall_skips_the_feed_then_it_resumes():
    sup, hal, state, lines = make(arm_ms=0)
    sup.tick(1000)
    sup.tick(2000 + STALL_MS)  # a 20 s stall: tolerated
    assert hal.dogs[0].feeds == 2
    sup.tick(3000 + 2 * STALL_MS + 1000)  # 21 s late
    assert hal.dogs[0].feeds == 2 and "blocked for 21 s" in sup.problem
    sup.tick(4000 + 2 * STALL_MS + 1000)
    assert hal.dogs[0].feeds == 3 and sup.problem is None
    assert any("Health: good again" in line for line in lines)


def test_uptime_counts_across_the_ticks_wrap():
    start = (1 << 30) - 2500
    sup, hal, state, _ = make(start=start)
    now = start
    for _ in range(3600):
        now = (now + 1000) & 0x3FFFFFFF
        sup.tick(now)
    assert state.uptime_s == 3600
    for _ in range(7):
        now = (now + 1070) & 0x3FFFFFFF
        sup.tick(now)
    assert state.uptime_s == 3607 and sup.ms == 490


def test_disarm():
    sup, hal, _, _ = make(arm_ms=0)
    sup.disarm()  # nothing armed yet: nothing to do
    assert hal.dogs == []
    sup.tick(1000)
    sup.disarm()  # the board's watchdog cannot be stopped: its timeout becomes a day
    assert len(hal.dogs) == 2 and hal.dogs[-1].timeout_ms == DISARMED_MS >= 86400000


def test_tasks_run_on_the_event_loop():
    if sys.implementation.name != "micropython":
        return  # needs asyncio.sleep_ms and time.ticks_ms
    import asyncio
    import time
    saved = health.FEED_MS, health.TICK_MS
    health.FEED_MS, health.TICK_MS = 20, 10
    now = time.ticks_ms()
    sup, hal, state, _ = make(arm_ms=50, start=now)
    state.reading_ms = now

    async def main():
        async def reader():
            await asyncio.sleep_ms(10000)

        meter = asyncio.create_task(reader())
        sup.meter = meter
        tasks = [asyncio.create_task(sup.run())]
        await asyncio.sleep_ms(30)
        sup.flash = True
        await asyncio.sleep_ms(250)
        for task in tasks + [meter]:
            task.cancel()

    try:
        asyncio.run(main())
    finally:
        health.FEED_MS, health.TICK_MS = saved
    assert hal.changes == 2 and not hal.lit  # one flash
    assert hal.dogs and hal.dogs[0].feeds >= 5
    assert 0 <= state.loop_stall_ms < 250  # the stall monitor ran


def test_wifi_errors_do_not_end_the_task():
    if sys.implementation.name != "micropython":
        return  # needs asyncio.sleep_ms and time.ticks_ms
    import asyncio

    class BrokenWifi(WifiStub):
        def tick(self, now):
            raise OSError(5)  # the radio failing

    saved = health.FEED_MS, health.TICK_MS
    health.FEED_MS, health.TICK_MS = 10, 5
    state = State()
    log = Log("D")
    lines = []
    log.sinks.append(lines.append)
    fake_boot_guard()  # (from ticks 0 the uptime is long: the count is cleared at once)
    sup = Health(Hal(), state, log, BrokenWifi(), 0)

    async def main():
        task = asyncio.create_task(sup.run())
        await asyncio.sleep_ms(100)
        alive = not task.done()
        task.cancel()
        return alive

    try:
        assert asyncio.run(main())
    finally:
        health.FEED_MS, health.TICK_MS = saved
    assert sum("Wi-Fi: OSError" in line for line in lines) >= 3
