"""The boot guard: starts that end early are counted; three in a row give safe mode; a healthy
run or a deliberate reboot clears the count (both interpreters)."""
import os

from app import boot_guard
from app.boot_guard import Guard
from support import tick_clock

tick_clock()


class Memory:
    """A store in memory; `fail` makes every call raise, as a broken flash would."""

    def __init__(self, count=None, fail=False):
        self.count = count
        self.fail = fail
        self.writes = 0

    def get(self):
        if self.fail:
            raise OSError(5)
        if self.count is None:
            raise OSError(2)  # nothing stored yet
        return self.count

    def put(self, count):
        if self.fail:
            raise OSError(28)
        self.count = count
        self.writes += 1


def _boot(store, **kw):
    guard = Guard(store, **kw)
    guard.start()
    return guard


def test_first_start_is_normal_and_counted():
    store = Memory()
    guard = _boot(store)
    assert guard.safe_mode is False and guard.crashes == 0 and guard.reason() is None
    assert store.count == 1 and store.writes == 1


def test_three_starts_that_ended_early_give_safe_mode():
    store = Memory()
    for crashes in range(3):
        guard = _boot(store)
        assert not guard.safe_mode and guard.crashes == crashes
    assert "safe mode after 3" in guard.reason() and ": 2 (" in guard.reason()
    guard = _boot(store)
    assert guard.safe_mode and guard.crashes == 3
    assert guard.reason().startswith("Safe mode: the last 3 starts ended within 60 s")
    assert "access point and the config page" in guard.reason()
    assert _boot(store).safe_mode  # a crash in safe mode stays in safe mode


def test_start_returns_the_decision():
    assert Guard(Memory(2)).start() is False
    assert Guard(Memory(3)).start() is True


def test_a_healthy_run_clears_the_count():
    store = Memory()
    _boot(store)
    _boot(store)
    guard = _boot(store)
    assert guard.healthy_ms == 60000  # app.main clears the count after that long
    guard.clear()
    assert store.count == 0
    assert not _boot(store).safe_mode


def test_healthy_run_in_safe_mode_means_a_normal_next_start():
    store = Memory(5)
    guard = _boot(store, healthy_ms=250)
    assert guard.safe_mode and guard.healthy_ms == 250
    guard.clear()
    assert not _boot(store).safe_mode


def test_a_deliberate_reboot_is_not_a_crash():
    store = Memory()
    for _ in range(5):
        guard = _boot(store)
        assert not guard.safe_mode
        guard.clear()
    assert store.count == 0


def test_limit_can_be_changed():
    store = Memory(1)
    assert _boot(store, limit=1).safe_mode


def test_a_failing_store_never_stops_the_start():
    guard = _boot(Memory(fail=True))
    assert not guard.safe_mode and guard.crashes == 0
    guard.clear()


def test_nonsense_in_the_store_counts_as_nothing():
    assert _boot(Memory(-4)).crashes == 0

    class Text(Memory):
        def get(self):
            return "garbage"

    assert _boot(Text()).crashes == 0


def test_the_count_stops_growing():
    store = Memory(boot_guard.MOST)
    assert _boot(store).crashes == boot_guard.MOST and store.count == boot_guard.MOST


def test_file_store_round_trip():
    path = "/tmp/hanreader-test-guard-%s" % os.urandom(4).hex()
    try:
        store = boot_guard.FileStore(path)
        assert not _boot(store).safe_mode  # no file yet
        _boot(store)
        _boot(store)
        assert store.get() == 3
        assert _boot(store).safe_mode
        with open(path, "w") as f:
            f.write("")  # a power cut in the middle of a write
        assert not _boot(store).safe_mode
    finally:
        os.remove(path)


def test_nvs_store_commits_every_change():
    class Nvs:
        def __init__(self):
            self.values = {}
            self.committed = {}

        def get_i32(self, key):
            if key not in self.committed:
                raise OSError(-4354)  # ESP_ERR_NVS_NOT_FOUND
            return self.committed[key]

        def set_i32(self, key, value):
            self.values[key] = value

        def commit(self):
            self.committed.update(self.values)

    nvs = Nvs()
    store = boot_guard.NvsStore(nvs)
    for _ in range(3):
        _boot(store)
    assert nvs.committed == {"crashes": 3}
    guard = _boot(store)
    assert guard.safe_mode
    guard.clear()
    assert nvs.committed == {"crashes": 0}


class Log(list):
    """The lines logged, in order."""

    def info(self, line):
        self.append(line)

    warning = info


def with_store(store, call):
    """call(), the platform's store (boot_guard.make's) being `store` meanwhile."""
    made = boot_guard.make
    boot_guard.make = lambda: Guard(store)
    try:
        call()
    finally:
        boot_guard.make = made


def test_a_deliberate_reboot_clears_the_count_then_resets():
    # app.main's App.reboot runs this (telnet's `reboot`, the web page's, the end of safe mode).
    import asyncio
    import time
    store = Memory(2)
    events = Log()

    class Hal:
        def reset(self, cause):
            events.append((cause, store.count))

    class App:
        log = events
        hal = Hal()

    shim = not hasattr(asyncio, "sleep_ms")  # CPython
    if shim:
        asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)
    started = time.ticks_ms()
    try:
        with_store(store, lambda: asyncio.run(boot_guard.reboot(App(), "reboot from telnet")))
    finally:
        if shim:
            del asyncio.sleep_ms
    assert events == ["Rebooting: reboot from telnet", ("reboot from telnet", 0)]
    assert time.ticks_diff(time.ticks_ms(), started) >= 290  # the last log lines had time to go out


def test_a_healthy_run_clears_the_count_and_says_so():
    # app/health.py calls this once it has armed the watchdog, after healthy_ms of running.
    store = Memory(2)
    lines = Log()
    with_store(store, lambda: boot_guard.healthy(lines, 5000, 60000))
    assert store.count == 0
    assert lines == ["Ran 5 s: crash counter cleared; watchdog on: the board resets after 60 s without a healthy loop"]
