"""The thin hardware layer. Only its two implementations import `machine` or `network`:

    esp32.py   the board: machine.UART, Pin, WDT, network.WLAN, NVS
    unix.py    the MicroPython unix port: the meter is a simulator on a TCP socket

Both offer the same small interface (see unix.py, the reference).
"""
import sys


def make():
    if sys.platform == "esp32":
        from app.hal.esp32 import Hal
    else:
        from app.hal.unix import Hal
    return Hal()
