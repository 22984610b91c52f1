"""What the board's Hal (app/hal/esp32.py) needs once, at the start: made, and why the board
started. Loaded for that by app/start.py and unloaded after."""
import esp32
import machine
import network

from app.hal.esp32 import Hal


def make():
    """The Hal, and the reset cause in words."""
    hal = Hal()
    hal.station = network.WLAN(network.WLAN.IF_STA)
    hal.ap = network.WLAN(network.WLAN.IF_AP)
    return hal, _reset_cause()


def _reset_cause():
    # A crash and machine.reset() look the same: a deliberate reset (Hal.reset) leaves a flag in NVS.
    try:
        nvs = esp32.NVS("hanreader")
        deliberate = nvs.get_i32("reboot")
        nvs.erase_key("reboot")
        nvs.commit()
        if deliberate:
            return "reboot requested"
    except OSError:
        pass
    cause = machine.reset_cause()
    return "power-on or brownout" if cause == machine.PWRON_RESET else \
        "crash or reset" if cause == machine.HARD_RESET else \
        "watchdog" if cause == machine.WDT_RESET else \
        "deep sleep" if cause == machine.DEEPSLEEP_RESET else \
        "soft reset" if cause == machine.SOFT_RESET else "unknown"
