"""What the unix port's Hal (app/hal/unix.py) does now and then, loaded for it and unloaded after:
read its settings from the environment (listed there) and the reset cause when it is made, and
connect to the meter simulator."""
import os

from app.hal.unix import RESET_FILE


def read(hal):
    hal.data = _env("DATA", "sim-data")
    try:
        os.mkdir(hal.data)
    except OSError:
        pass
    hal.serial_address = _env("SERIAL", "127.0.0.1:2300")
    hal.http_port = int(_env("HTTP_PORT", 8080))
    hal.telnet_port = int(_env("TELNET_PORT", 2323))
    hal.dns_port = int(_env("DNS_PORT", 0))  # 0: no captive DNS responder
    hal.mqtt_broker = _env("MQTT_BROKER", "")
    hal.wifi_down = _env("WIFI", "up") == "down"
    path = hal.data + "/" + RESET_FILE
    try:  # what reset() wrote before the process ended: read once, as a board's cause is
        with open(path) as f:
            hal.cause = f.read().strip()
        os.remove(path)
    except OSError:
        hal.cause = "power-on"


def connect(hal):
    """Start connecting the meter line to the simulator (without waiting: Hal.read goes on with it)."""
    import socket
    from errno import EINPROGRESS
    host, port = hal.serial_address.rsplit(":", 1)
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


def _env(name, default):
    return os.getenv("HANREADER_" + name) or default
