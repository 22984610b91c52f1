"""The unix port's settings from the environment (listed in app/hal/unix.py), read when its Hal is
made, then unloaded."""
import os


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


def _env(name, default):
    return os.getenv("HANREADER_" + name) or default
