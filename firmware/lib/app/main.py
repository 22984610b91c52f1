"""The firmware: the App every service reaches, and run(). Building the services from the config
and starting their tasks is app/start.py, unloaded once that is done."""
import asyncio

import app.log  # noqa: F401 - first of all: its ring is taken before the decoder's modules fragment the heap
from app import unload


class App:
    """What the services share: hal, config, log, state, guard, safe_mode and the services (meter,
    wifi, health, mqtt, telnet, web), all set by app/start.py."""

    health = None

    def reboot(self, cause):
        self.log.warning("Rebooting: " + cause)
        asyncio.create_task(self._reboot_soon(cause))

    async def _reboot_soon(self, cause):
        await asyncio.sleep_ms(300)  # let the last log lines go out
        if self.guard:
            self.guard.clear()  # a deliberate reboot is not a crash
        self.hal.reset(cause)

    def healthy(self):
        """The boot guard's first healthy run is over (its count is 0 now)."""
        self.log.info("Ran %g s: crash counter cleared" % (self.guard.healthy_ms / 1000))
        self.guard = None  # a reboot has nothing to clear
        unload("app.boot_guard")


def run(guard=None):
    app = App()
    app.guard = guard  # app.boot_guard.Guard (counts starts that crash), None: no safe mode
    guard = None  # the app lets go of it once the start has proved healthy
    try:
        asyncio.run(_main(app))
    except KeyboardInterrupt:  # mpremote or a person at the REPL: no watchdog reset under them
        if app.health:
            app.health.disarm()
        raise


async def _main(app):
    tasks = await _start(app)
    await asyncio.gather(*tasks)


def _start(app):
    """app/start.py's start(app), a coroutine; the module is forgotten at once, so its code goes
    when that is done (and the tasks it made that run its code, the first minute)."""
    from app.start import start
    unload("app.start")
    return start(app)
