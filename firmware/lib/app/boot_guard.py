"""Boot safety: starts that end before the firmware has run healthily are counted, and after
LIMIT of them in a row the next start is in safe mode (access point and config page only).

    guard = make()                     # the platform's store: NVS on the board, a file on unix
    guard.start()                      # first thing at boot: True (and guard.safe_mode) = safe mode
    healthy(log, ran_ms, watchdog_ms)  # after healthy_ms of running (app/health.py, as it arms the
                                       # watchdog): the count cleared, the next start a normal one
    await reboot(app, cause)           # a deliberate reboot, which is no crash (app/main.py)

The module is loaded for these calls only (app/start.py, app/health.py, app/main.py), not kept.

A crash, a watchdog reset, a power cut or a killed process all look alike here: the start did
not last healthy_ms. The count lives in a store with get() -> int and put(int). A store that
fails counts as 0: the guard never keeps the firmware from starting.
"""
try:
    from micropython import const
except ImportError:
    const = lambda value: value  # CPython: the value itself

_LIMIT = const(3)             # starts in a row that died early -> the next one is in safe mode
_HEALTHY_MS = const(60000)    # covers joining Wi-Fi, the first MQTT connect and several meter pushes
MOST = 99                     # the count stops here
_FILE = const("crashes")      # unix: the count's file in HANREADER_DATA
_NVS_KEY = const("crashes")   # board: the count's key in the "hanreader" NVS namespace


class FileStore:
    def __init__(self, path):
        self.path = path

    def get(self):
        with open(self.path) as f:
            return int(f.read())

    def put(self, count):
        with open(self.path, "w") as f:
            f.write(str(count))


class NvsStore:
    def __init__(self, nvs):
        self.nvs = nvs

    def get(self):
        return self.nvs.get_i32(_NVS_KEY)

    def put(self, count):
        self.nvs.set_i32(_NVS_KEY, count)
        self.nvs.commit()


class Guard:
    def __init__(self, store, limit=_LIMIT, healthy_ms=_HEALTHY_MS):
        self.store = store
        self.limit = limit
        self.healthy_ms = healthy_ms
        self.crashes = 0        # starts in a row before this one that ended early
        self.safe_mode = False

    def start(self):
        """Count this start as not (yet) healthy; True when it must be in safe mode."""
        try:
            crashes = max(0, int(self.store.get()))
        except Exception:  # noqa: BLE001 - nothing stored yet, or a store that fails
            crashes = 0
        self.crashes = crashes
        self.safe_mode = crashes >= self.limit
        self._put(min(crashes + 1, MOST))
        return self.safe_mode

    def clear(self):
        """This run was healthy, or ends on purpose: the next start is a normal one."""
        self._put(0)

    def reason(self):
        """Why this start is in safe mode, or what the count is (for the log)."""
        if self.safe_mode:
            return "Safe mode: the last %d starts ended within %g s (crash, reset or power cut); " \
                   "only the access point and the config page run. Fix the settings, then reboot." \
                   % (self.crashes, self.healthy_ms / 1000)
        if self.crashes:
            return "Starts in a row that ended within %g s: %d (crash, reset or power cut); " \
                   "safe mode after %d" % (self.healthy_ms / 1000, self.crashes, self.limit)
        return None

    def _put(self, count):
        try:
            self.store.put(count)
        except Exception:  # noqa: BLE001 - a full or failing store must not stop the firmware
            pass


def make():
    """The guard for this platform: NVS on the ESP32; on unix a file in HANREADER_DATA, with
    HANREADER_HEALTHY_MS (tests) overriding how long a healthy run takes."""
    import sys
    if sys.platform == "esp32":
        import esp32
        return Guard(NvsStore(esp32.NVS("hanreader")))
    import os
    folder = os.getenv("HANREADER_DATA") or "sim-data"
    try:
        os.mkdir(folder)
    except OSError:
        pass
    try:
        healthy_ms = int(os.getenv("HANREADER_HEALTHY_MS") or _HEALTHY_MS)
    except ValueError:
        healthy_ms = _HEALTHY_MS
    return Guard(FileStore(folder + "/" + _FILE), healthy_ms=healthy_ms)


def healthy(log, ran_ms, watchdog_ms):
    """The start ran healthily for `ran_ms` (app/health.py, which has armed the watchdog with
    `watchdog_ms`): the count is cleared, so the next start is a normal one, and the log told."""
    make().clear()
    log.info("Ran %g s: crash counter cleared; watchdog on: the board resets after %d s "
             "without a healthy loop" % (ran_ms / 1000, watchdog_ms // 1000))


async def reboot(app, cause):
    """Reset the board on purpose (telnet, the web page, the end of safe mode) once the last log
    lines went out, the count cleared first: a deliberate reboot is no crash."""
    import asyncio
    app.log.warning("Rebooting: " + cause)
    await asyncio.sleep_ms(300)
    make().clear()
    app.hal.reset(cause)
