"""The firmware: the App every service reaches, and run(). Building the services from the config
and starting their tasks is app/start.py, unloaded once that is done."""
import asyncio

import app.log  # noqa: F401 - first of all: its ring is taken before the decoder's modules fragment the heap
from app import unload


class App:
    """What the services share: hal, config, log, state, safe_mode and the services (meter, wifi,
    health, mqtt, telnet, web), all set by app/start.py."""

    health = None
    counted = False  # the boot guard counts this start as one that may crash, until it ran healthily

    def reboot(self, cause):
        self.log.warning("Rebooting: " + cause)
        asyncio.create_task(self._reboot_soon(cause))

    async def _reboot_soon(self, cause):
        await asyncio.sleep_ms(300)  # let the last log lines go out
        self.uncount()  # a deliberate reboot is not a crash
        self.hal.reset(cause)

    async def healthy_after(self, ms):
        """The start has run healthily once `ms` have passed: the next one is a normal start."""
        await asyncio.sleep_ms(ms)
        self.uncount()
        self.log.info("Ran %g s: crash counter cleared" % (ms / 1000))

    def uncount(self):
        """Clear the boot guard's count (its module is loaded for that only: see app/start.py)."""
        if self.counted:
            self.counted = False
            from app import boot_guard
            boot_guard.make().clear()
            unload("app.boot_guard")


def run():
    app = App()
    try:
        asyncio.run(_main(app))
    except KeyboardInterrupt:  # mpremote or a person at the REPL: no watchdog reset under them
        if app.health:
            app.health.disarm()
        raise


async def _main(app):
    # app/start.py's start(app): the module is forgotten at once, so its code goes when the start
    # is done (in safe mode, when the task that ends safe mode is).
    from app.start import start
    unload("app.start")
    tasks = await start(app)
    del start
    await asyncio.gather(*tasks)
