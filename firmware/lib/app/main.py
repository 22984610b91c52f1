"""The firmware: the App every service reaches, and run(). Building the services from the config
and starting their tasks is app/start.py, unloaded once that is done."""
import asyncio

import app.log  # noqa: F401 - first of all: its ring is taken before the decoder's modules fragment the heap
from app import unload


class App:
    """What the services share: hal, config, log, state, safe_mode and the services (meter, wifi,
    health, mqtt, telnet, web), all set by app/start.py."""

    health = None

    def reboot(self, cause):
        """Reset the board on purpose (app/boot_guard.py: no crash; loaded for it, and the board
        resets before its code would go)."""
        from app.boot_guard import reboot
        asyncio.create_task(reboot(self, cause))


def run():
    app = App()
    asyncio.get_event_loop().set_exception_handler(_crashed)
    try:
        # The start, app/start.py: the module is forgotten at once, and the name is let go when
        # the start is done, so its code goes then (in safe mode, when the task that ends safe
        # mode is).
        from app.start import start
        unload("app.start")
        asyncio.run(start(app))
        del start
        # Then the health task runs the loop for good, the services' tasks beside it (MicroPython's
        # asyncio.run goes on with the tasks there are): an error of its own ends the firmware, as
        # another task's does (_crashed); the meter task is watched by it (ended, the watchdog is
        # no longer fed). (No coroutine that awaits it after the start, whose frame stayed in the
        # heap, nor a gather of the tasks, whose coroutine, callback and list did: 600 B.)
        asyncio.run(app.health.run())
    except KeyboardInterrupt:  # mpremote or a person at the REPL: no watchdog reset under them
        if app.health:
            app.health.disarm()
        raise


def _crashed(loop, context):
    """An error no task caught ends the firmware, whichever task it ended (the board resets and
    counts a crash, firmware/main.py): a service is not left down until someone reboots."""
    raise context["exception"]
