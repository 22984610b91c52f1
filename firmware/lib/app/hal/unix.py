"""Hardware layer for the MicroPython unix port: the firmware runs here against a simulated meter.

The "UART" is a TCP connection to tools/meter_sim.py. On opening it tells the simulator the
serial settings it listens with, so the simulator can deliver what a UART set that way would
receive (wrong baud, parity, inversion). Everything is configured by environment variables:

    HANREADER_SERIAL       host:port of the meter simulator        (127.0.0.1:2300)
    HANREADER_DATA         folder for config.json and the like     (sim-data)
    HANREADER_HTTP_PORT    web server port                         (8080)
    HANREADER_TELNET_PORT  telnet port, overriding the config      (2323)
    HANREADER_BOOT_BUTTON  1 = the BOOT button is held at power-up
    HANREADER_WIFI         up (the host's network) or down (never joins: access point fallback)
    HANREADER_DNS_PORT     port of the access point's DNS responder on 127.0.0.1 (0 = none)
    HANREADER_MQTT_BROKER  host:port of the broker `make sim` started, used while mqtt.host is empty
"""
import asyncio
import os
import sys
import time

RESET_FILE = "reset-cause"
EXIT_REBOOT = 3  # the process exits with this to be restarted (a board resets)


def _env(name, default):
    value = os.getenv(name)
    return value if value else default


class Uart:
    def __init__(self, address, setting):
        host, port = address.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.setting = setting
        self.reader = None
        self.writer = None

    async def _connect(self):
        try:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(("SERIAL %s\n" % self.setting).encode())
            await self.writer.drain()
        except OSError:
            self.reader = self.writer = None

    async def read(self, n):
        """Up to `n` bytes as they arrive; b"" when the line is dead (waits a little first)."""
        if self.reader is None:
            await self._connect()
            if self.reader is None:
                await asyncio.sleep_ms(500)
                return b""
        data = await self.reader.read(n)
        if not data:  # the simulator went away: like a cable pulled out
            self.close()
            await asyncio.sleep_ms(200)
        return data

    def close(self):
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError:
                pass
        self.reader = self.writer = None


class Led:
    def __init__(self, pin, inverted):
        self.pin = pin
        self.lit = False
        self.changes = 0

    def set(self, lit):
        if lit != self.lit:
            self.lit = lit
            self.changes += 1


class Wifi:
    """The machine's own network stands in for the station: joined from the start, or, with
    HANREADER_WIFI=down, never (to see the access point fallback). The access point is pretend."""

    def __init__(self, mode):
        self.down = mode == "down"
        self.tried = False
        self.access_point = None

    def connect(self, ssid, password, hostname):
        self.tried = True

    def disconnect(self):
        pass

    def connected(self):
        return not self.down

    def status(self):
        return "connected" if not self.down else "network not found" if self.tried else "idle"

    def address(self):
        return None if self.down else "127.0.0.1"

    def ap_address(self):
        return "192.168.4.1" if self.access_point else None

    def rssi(self):
        return None

    def clients(self):
        return 0

    def start_access_point(self, ssid, password):
        self.access_point = ssid

    def stop_access_point(self):
        self.access_point = None


class Watchdog:
    """Only records the feeding (nothing resets the process)."""

    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self.fed = time.ticks_ms()

    def feed(self):
        self.fed = time.ticks_ms()

    def disarm(self):
        self.timeout_ms = 86400000


class Hal:
    name = "unix"

    def __init__(self):
        self.data = _env("HANREADER_DATA", "sim-data")
        try:
            os.mkdir(self.data)
        except OSError:
            pass
        self.serial_address = _env("HANREADER_SERIAL", "127.0.0.1:2300")
        self.http_port = int(_env("HANREADER_HTTP_PORT", "8080"))
        self.telnet_port = int(_env("HANREADER_TELNET_PORT", "2323"))
        self.wifi = Wifi(_env("HANREADER_WIFI", "up"))
        self.dns_port = int(_env("HANREADER_DNS_PORT", "0"))  # 0: no captive DNS responder
        self.dns_host = "127.0.0.1"
        self.mqtt_broker = _env("HANREADER_MQTT_BROKER", "")

    def uart(self, rx_pin, setting):
        """A reader of the meter line; `setting` is text like "2400 8E1" or "115200 8N1 inverted"."""
        return Uart(self.serial_address, setting)

    def led(self, pin, inverted):
        return Led(pin, inverted)

    def watchdog(self, timeout_ms):
        return Watchdog(timeout_ms)

    def boot_button(self):
        return _env("HANREADER_BOOT_BUTTON", "") == "1"

    def reset_cause(self):
        path = self.data + "/" + RESET_FILE
        try:
            with open(path) as f:
                cause = f.read().strip()
            os.remove(path)
            return cause
        except OSError:
            return "power-on"

    def reset(self, cause="reboot requested"):
        with open(self.data + "/" + RESET_FILE, "w") as f:
            f.write(cause)
        sys.exit(EXIT_REBOOT)

    def unique_id(self):
        return b"\x53\x49\x4d\x00\x00\x01"  # "SIM..." : stable, like a MAC

    def heap_free(self):
        import gc
        return gc.mem_free()
