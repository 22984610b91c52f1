"""What the unix port's Hal (app/hal/unix.py) does now and then, loaded for it and unloaded after:
made at the start, with its settings from the environment (listed there), and the reset cause
read; connecting to the meter simulator; the reset (the process ends)."""
import os

from app.hal.unix import Hal

_RESET_FILE = "reset-cause"  # in the data folder: why the process was last ended (see reset())
_EXIT_REBOOT = 3  # the process exits with this to be restarted (a board resets)


def make():
    """The Hal, and why the process started: what reset() wrote before it ended (read once, as a
    board's cause is), else "power-on"."""
    hal = Hal()
    hal.data = _env("DATA", "sim-data")
    try:
        os.mkdir(hal.data)
    except OSError:
        pass
    hal.http_port = int(_env("HTTP_PORT", 8080))
    hal.telnet_port = int(_env("TELNET_PORT", 2323))
    hal.dns_port = int(_env("DNS_PORT", 0))  # 0: no captive DNS responder
    hal.mqtt_broker = _env("MQTT_BROKER", "")
    hal.wifi_down = _env("WIFI", "up") == "down"
    path = hal.data + "/" + _RESET_FILE
    try:
        with open(path) as f:
            cause = f.read().strip()
        os.remove(path)
    except OSError:
        cause = "power-on"
    return hal, cause


def connect(hal):
    """Start connecting the meter line to the simulator (without waiting: Hal.read goes on with it)."""
    import socket
    from errno import EINPROGRESS
    host, port = _env("SERIAL", "127.0.0.1:2300").rsplit(":", 1)
    line = socket.socket()
    line.setblocking(False)
    try:
        line.connect(socket.getaddrinfo(host, int(port))[0][-1])
    except OSError as e:
        if e.args[0] != EINPROGRESS:
            line.close()
            hal._retry_later()
            return
    hal.line = line
    hal.hello = ("SERIAL %s\n" % hal.setting).encode()
    try:  # at once (a local connection is made at once): what the simulator sends before it
        hal._greet()  # knows the setting is not what a UART set so would read
    except OSError:
        pass  # refused: read() finds out


def reset(hal, cause):
    """End the process to be started again, leaving `cause` for the next start's make()."""
    import sys
    with open(hal.data + "/" + _RESET_FILE, "w") as f:
        f.write(cause)
    sys.exit(_EXIT_REBOOT)


def _env(name, default):
    return os.getenv("HANREADER_" + name) or default
