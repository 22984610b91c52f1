"""The firmware: load the config, start the meter task and the services, keep the loop healthy."""
import asyncio
import gc
import time

from app import unload
from app.hal import make as make_hal
from app.health import Indicator, Supervisor
from app.log import Log
from app.meter import Meter
from app.state import State
from app.wifi import Wifi

TICK_MS = 50  # the stall monitor wakes this often; any extra delay is time the loop was blocked
SAFE_MODE_MINUTES = 15  # then try a normal start again: the cause (a weak supply) may be gone


class App:
    def __init__(self, hal, guard=None):
        self.hal = hal
        self.started_ms = time.ticks_ms()
        from app import config as config_store  # the rules are needed at boot, then only to save
        self.config, problem = config_store.load(hal.data)
        del config_store
        unload("app.config")
        self.log = Log(self.config["telnet"]["level"])
        if hal.name == "unix":
            self.log.sinks.append(print)  # the simulator's terminal is its serial console
        self.state = State()
        self.state.reset_cause = hal.reset_cause()
        self.guard = guard  # app.boot_guard.Guard (counts starts that crash), None: no safe mode
        self.safe_mode = self.state.safe_mode = bool(guard and guard.safe_mode)
        self.config_problem = problem
        if problem:
            self.log.error(problem)
        if guard and guard.reason():
            (self.log.error if self.safe_mode else self.log.warning)(guard.reason())
        self.meter = None if self.safe_mode else Meter(hal, self.config, self.state, self.log)
        self.wifi = Wifi(hal, self.config, self.state, self.log, force_ap=bool(problem))
        self.supervisor = Supervisor(hal, self.state, self.log, self.started_ms)  # the watchdog
        led = self.config["led"]
        self.indicator = Indicator(hal.led(led["pin"], led["inverted"]) if led["pin"] >= 0 else None,
                                   self.state, self.wifi, self.started_ms)
        if self.meter:
            self.meter.led = self.indicator  # one flash per reading
        self.mqtt = None  # app.mqtt.Mqtt, its code loaded only when there is a broker
        host, port = self.config["mqtt"]["host"], self.config["mqtt"]["port"]
        if not host and hal.mqtt_broker:  # the broker `make sim` started
            host, port = hal.mqtt_broker.rsplit(":", 1)
        if host and not self.safe_mode:
            from app.mqtt import Mqtt
            self.mqtt = Mqtt(self, host, int(port))

    def reboot(self, cause):
        self.log.warning("Rebooting: " + cause)
        asyncio.create_task(self._reboot_soon(cause))

    async def _reboot_soon(self, cause):
        await asyncio.sleep_ms(300)  # let the last log lines go out
        if self.guard:
            self.guard.clear()  # a deliberate reboot is not a crash
        self.hal.reset(cause)

    async def _leave_safe_mode(self):
        await asyncio.sleep(SAFE_MODE_MINUTES * 60)
        self.reboot("safe mode ends after %d minutes: trying a normal start" % SAFE_MODE_MINUTES)

    async def _confirm_healthy(self):
        await self.guard.confirm(asyncio.sleep_ms)
        self.log.info("Ran %g s: crash counter cleared" % (self.guard.healthy_ms / 1000))
        self.guard = None  # the counter is 0 now: a reboot has nothing to clear
        unload("app.boot_guard")

    async def watch_loop(self):
        """Measure the longest time the event loop was blocked."""
        last = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(TICK_MS)
            now = time.ticks_ms()
            stall = time.ticks_diff(now, last) - TICK_MS
            if stall > self.state.loop_stall_ms:
                self.state.loop_stall_ms = stall
            last = now

    async def main(self):
        from app.telnet import Telnet
        log = self.log
        log.info("hanreader starting on %s (reset cause: %s)" % (self.hal.name, self.state.reset_cause))
        tasks = [asyncio.create_task(self.watch_loop())]
        if self.guard:
            tasks.append(asyncio.create_task(self._confirm_healthy()))
        if not self.safe_mode:  # safe mode: no meter, no telnet (access point, config page)
            tasks.append(asyncio.create_task(self.meter.run()))
            self.supervisor.watch("meter", tasks[-1])
        else:
            tasks.append(asyncio.create_task(self._leave_safe_mode()))
        tasks.append(asyncio.create_task(self.wifi.run()))
        if self.mqtt:
            tasks.append(asyncio.create_task(self.mqtt.run()))
        tasks.append(asyncio.create_task(self.supervisor.run()))
        if self.indicator.led is not None:
            tasks.append(asyncio.create_task(self.indicator.run()))
        if self.config["telnet"]["enabled"] and not self.safe_mode:
            port = self.hal.telnet_port or self.config["telnet"]["port"]
            self.telnet = Telnet(self)
            await self.telnet.start(port)
            log.info("Telnet console on port %d" % port)
        from app.web.server import Web  # also in safe mode: the config page is the way out
        self.web = Web(self)
        await self.web.start(self.hal.http_port)
        log.info("Web server on port %d" % self.hal.http_port)
        gc.collect()
        log.info("Heap free after start: %d B" % gc.mem_free())
        await asyncio.gather(*tasks)


def run(guard=None):
    app = App(make_hal(), guard)
    guard = None  # the app lets go of it once the start has proved healthy
    try:
        asyncio.run(app.main())
    except KeyboardInterrupt:  # mpremote or a person at the REPL: no watchdog reset under them
        app.supervisor.disarm()
        raise
