"""What the board's Hal (app/hal/esp32.py) does rarely, loaded for it and unloaded after: made at
the start (app/start.py), with the reset cause read; a deliberate reset; the station's status in
words (after a failed attempt to join)."""
import esp32
import machine
import network

from app.hal.esp32 import Hal

try:
    from micropython import const
except ImportError:
    def const(value):  # CPython (the tests' fake board): the value itself
        return value

# network.STAT_* names and what they mean for someone joining a network.
_STATUS = const("STAT_GOT_IP connected,STAT_CONNECTING connecting,STAT_IDLE idle,STAT_WRONG_PASSWORD wrong password,"
                "STAT_HANDSHAKE_TIMEOUT wrong password,STAT_NO_AP_FOUND network not found")


def make():
    """The Hal, and the reset cause in words."""
    hal = Hal()
    hal.station = network.WLAN(network.WLAN.IF_STA)
    hal.ap = network.WLAN(network.WLAN.IF_AP)
    return hal, _reset_cause()


def _reset_cause():
    # A crash and machine.reset() look the same: a deliberate reset (reset()) leaves a flag in NVS.
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


def reset():
    """Reset the board, leaving the flag that tells the next start it was deliberate."""
    import time
    nvs = esp32.NVS("hanreader")
    nvs.set_i32("reboot", 1)
    nvs.commit()
    time.sleep_ms(100)
    machine.reset()


def status(code):
    """The station's status `code` in words ("connecting", "wrong password" ...)."""
    for entry in _STATUS.split(","):
        name, text = entry.split(" ", 1)
        if code == getattr(network, name, None):
            return text
    return "failed (%s)" % code
