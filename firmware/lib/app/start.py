"""The start: load the config, build the services, start the meter task and the servers. Run
once by app/main.py, then unloaded: its code is not needed again (in safe mode it stays until
safe mode ends: the wait for that is here)."""
import asyncio
import gc
import sys
import time

from app import unload

try:
    from micropython import const
except ImportError:
    const = int  # CPython: the value itself (every const() here wraps an int)

_SAFE_MODE_MINUTES = const(15)  # then try a normal start again: the cause (a weak supply) may be gone


async def start(app):
    """Fill `app` (app.main.App) and start the tasks and servers (app.main runs the health task)."""
    started_ms = time.ticks_ms()
    # The boot guard counts this start first of all; its module is forgotten at once (app.health
    # loads it again to clear the count after a healthy run, app.main before a deliberate reboot).
    from app import boot_guard
    guard = boot_guard.make()
    safe_mode = app.safe_mode = guard.start()
    guard_reason, healthy_ms = guard.reason(), guard.healthy_ms
    del guard, boot_guard  # no name left holding it: the unload frees its code
    unload("app.boot_guard")
    # The platform's Hal and why it started, made by code loaded for that only.
    if sys.platform == "esp32":
        from app.hal.esp32_rare import make
    else:
        from app.hal.unix_env import make
    hal, reset_cause = make()
    app.hal = hal
    del make
    unload("app.hal.esp32_rare" if sys.platform == "esp32" else "app.hal.unix_env")
    from app import config as config_store  # the rules are needed at boot, then only to save
    config, problem = config_store.load(hal.data)
    del config_store
    unload("app.config")
    gc.collect()
    # The code that comes and goes (the console's for a telnet client or command, MQTT's for each
    # connection and each turn of publishing) brings names, interned for good. Past 624 names
    # MicroPython adds a name pool of 640 entries, one piece of the heap (7 KB here, 3.8 KB on
    # the board), which a heap scattered by the decoding no longer has even with 40 KB free: a
    # plain meter with MQTT in 128K never connected. So those names are interned now, while the
    # heap is whole, by loading that code once. MQTT's take the count past 624: the web's (the
    # dashboard's and the status page's) then cost only their text, and are interned too (with
    # everything on in 144K, 4 runs of 4 lost nothing; 2 of 4 when a first page load interned
    # them). Without MQTT they would bring that pool into a plain meter's start, which 112K has no
    # room for.
    host, port = config["mqtt"]["host"], config["mqtt"]["port"]
    if not host and hal.mqtt_broker:  # the broker `make sim` started
        host, port = hal.mqtt_broker.rsplit(":", 1)
    mqtt = host and not safe_mode
    telnet = config["telnet"]["enabled"] and not safe_mode  # safe mode: no meter, no telnet
    _intern_names((("app.console",) if telnet else ()) +
                  (("app.mqtt_connect_packet", "app.mqtt_down", "umqtt.simple", "app.mqtt_discovery",
                    "app.web.routes", "app.web.pages", "app.web.api", "app.web.history", "app.web.status")
                   if mqtt else ()))
    # The services' code is loaded once the config rules are gone (their peak would not fit), the
    # servers' too before any task runs (the decoding and MQTT would leave the heap fragmented).
    from app.health import Health
    from app.log import Log
    from app.meter import Meter
    from app.state import State
    from app.web.server import Web  # also in safe mode: the config page is the way out
    from app.wifi import Wifi
    if telnet:
        from app.telnet import Telnet
    app.config = config
    log = app.log = Log(config["telnet"]["level"])
    if not telnet:  # the ring is telnet's (a new client's recent lines, the clients' queue): 4 KB back
        log.ring = bytearray(0)
    if hal.name == "unix":
        log.sinks.append(print)  # the simulator's terminal is its serial console
    state = app.state = State()
    State.reset_cause = reset_cause  # (on the class: the object holds one attribute less)
    if safe_mode:  # (else the class's False: the object holds one attribute less)
        state.safe_mode = True
    if problem:
        log.error(problem)
    if guard_reason:
        (log.error if safe_mode else log.warning)(guard_reason)
    meter = app.meter = None if safe_mode else Meter(hal, config, state, log)
    app.wifi = Wifi(hal, config, state, log, force_ap=bool(problem))
    led = config["led"]
    if led["pin"] >= 0:
        hal.led(led["pin"], led["inverted"])
    # The boot guard's count is cleared as the watchdog arms (both after 60 s; HANREADER_HEALTHY_MS
    # shortens that in tests): set on the class, the object's table of attributes does not grow.
    Health.arm_ms = healthy_ms
    health = app.health = Health(hal, state, log, app.wifi, started_ms)
    if meter:
        meter.led = health  # one flash per reading
    app.mqtt = None  # app.mqtt.Mqtt, its code loaded only when there is a broker
    if mqtt:
        from app.mqtt import Mqtt
        app.mqtt = Mqtt(app, host, int(port))

    log.info("hanreader starting on %s (reset cause: %s)" % (hal.name, state.reset_cause))
    # The health task (the watchdog, the LED, stalls, the Wi-Fi) is app.main's, once this is done.
    if not safe_mode:  # safe mode: no meter, no telnet (access point, config page)
        health.meter = asyncio.create_task(meter.run())  # watched: it must keep running
    else:
        asyncio.create_task(_leave_safe_mode(app))
    if app.mqtt:  # (it ends when umqtt.simple is missing, having said so)
        asyncio.create_task(app.mqtt.run())
    app.telnet = None
    if telnet:
        port = hal.telnet_port or config["telnet"]["port"]
        app.telnet = Telnet(app)
        await asyncio.start_server(app.telnet.serve, "0.0.0.0", port)
        log.info("Telnet console on port %d" % port)
    app.web = Web(app)
    await app.web.start(hal.http_port)
    log.info("Web server on port %d" % hal.http_port)
    gc.collect()
    log.info("Heap free after start: %d B" % gc.mem_free())


def _intern_names(modules):
    """Load each module (and what it imports), then forget it all: its names stay interned."""
    for name in modules:
        before = list(sys.modules)
        try:
            __import__(name)
        except ImportError:  # (umqtt.simple not installed: MQTT says so when it connects)
            pass
        for loaded in [n for n in sys.modules if n not in before]:
            unload(loaded)
        gc.collect()  # its room back before the next comes, and the services' code after them


async def _leave_safe_mode(app):
    await asyncio.sleep(_SAFE_MODE_MINUTES * 60)
    app.reboot("safe mode ends after %d minutes: trying a normal start" % _SAFE_MODE_MINUTES)
