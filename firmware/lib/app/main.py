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
        asyncio.create_task(self.clear_count_after(300, cause))  # let the last log lines go out

    async def clear_count_after(self, ms, reboot=None):
        """Clear the boot guard's count once `ms` have passed: the start has run healthily and the
        next one is a normal start; or, with `reboot` (its cause), reset the board then: a
        deliberate reboot is no crash. (One coroutine for both: each function stays in the heap.)"""
        await asyncio.sleep_ms(ms)
        if self.counted:
            self.counted = False
            from app import boot_guard  # loaded for that only (see app/start.py)
            boot_guard.make().clear()
            boot_guard = None  # a finished coroutine keeps its locals while its task is referenced
            unload("app.boot_guard")
        if reboot:
            self.hal.reset(reboot)
        else:
            self.log.info("Ran %g s: crash counter cleared" % (ms / 1000))


def run():
    app = App()
    try:
        asyncio.run(_main(app))
    except KeyboardInterrupt:  # mpremote or a person at the REPL: no watchdog reset under them
        if app.health:
            app.health.disarm()
        raise


def _crashed(loop, context):
    """An error no task caught ends the firmware, whichever task it ended (the board resets and
    counts a crash, firmware/main.py): a service is not left down until someone reboots."""
    raise context["exception"]


async def _main(app):
    asyncio.get_event_loop().set_exception_handler(_crashed)
    # app/start.py's start(app): the module is forgotten at once, so its code goes when the start
    # is done (in safe mode, when the task that ends safe mode is).
    from app.start import start
    unload("app.start")
    await start(app)
    del start
    # Then this task is the health task: an error of its own ends the firmware, as another task's
    # does (_crashed); the meter task is watched by it too (ended, the watchdog is no longer fed).
    # (No gather of the tasks: its coroutine, callback and list stayed in the heap, 600 B here.)
    await app.health.run()
