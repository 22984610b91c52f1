"""Hardware layer for the MicroPython unix port: the firmware runs here against a simulated meter.

The "UART" is a TCP connection to tools/meter_sim.py. On opening it tells the simulator the
serial settings it listens with, so the simulator can deliver what a UART set that way would
receive (wrong baud, parity, inversion). Everything is configured by environment variables:

    HANREADER_SERIAL       host:port of the meter simulator        (127.0.0.1:2300)
    HANREADER_DATA         folder for config.json and the like     (sim-data)
    HANREADER_HTTP_PORT    web server port                         (8080)
    HANREADER_TELNET_PORT  telnet port, overriding the config      (2323)
    HANREADER_BOOT_BUTTON  1 = the BOOT button is held at power-up (read by main.py)
    HANREADER_WIFI         up (the host's network) or down (never joins: access point fallback)
    HANREADER_DNS_PORT     port of the access point's DNS responder on 127.0.0.1 (0 = none)
    HANREADER_MQTT_BROKER  host:port of the broker `make sim` started, used while mqtt.host is empty

The machine's own network stands in for the Wi-Fi station: joined from the start, or, with
HANREADER_WIFI=down, never (to see the access point fallback). The access point is pretend; the
LED and the watchdog do nothing (nothing resets the process). What is done at the start (the Hal
made from the environment, the reset cause read), on connecting to the simulator and on a reset
is app/hal/unix_env.py, loaded for that and unloaded after.
"""
import time

from app import unload

try:
    from micropython import const
except ImportError:
    const = lambda value: value  # CPython: the value itself

_RETRY_MS = const(500)  # between attempts to reach the simulator


class Hal:
    """The Hal is also the meter line uart() opens (one object fewer in the heap): a TCP connection
    to the simulator, made by the first read(). Made by app/hal/unix_env.py's make(), which sets
    data, http_port, telnet_port, dns_port, mqtt_broker and wifi_down from the environment."""

    name = "unix"
    dns_host = "127.0.0.1"
    # What a run may never set is the class's: the object holds only what has been set.
    tried = False    # connect() was called
    ap_name = None   # the access point's name while it is "open"
    line = None      # the meter line: a non-blocking socket to the simulator
    hello = None     # what tells the simulator the setting, until it is sent
    retry_ms = 0     # ticks_ms from when to connect (again)

    def uart(self, rx_pin, setting):
        """The meter line, read with `setting`: text like "2400 8E1" or "115200 8N1 inverted"."""
        self.close()
        self.setting = setting  # told to the simulator
        return self

    def read(self, n):
        """What the line brought, up to `n` bytes, without waiting: None when nothing came (or
        while the connection to the simulator is being made, again after it went away)."""
        line = self.line
        if line is None:
            if time.ticks_diff(time.ticks_ms(), self.retry_ms) >= 0:
                # Connecting (at the first read, again after the simulator went away): its code
                # is loaded for that only.
                from app.hal.unix_env import connect
                connect(self)
                unload("app.hal.unix_env")
            return None
        try:
            if self.hello is not None and not self._greet():
                return None  # not connected yet
            data = line.read(n)
        except OSError:  # refused, reset: like a cable pulled out
            data = b""
        if data == b"":  # the simulator went away
            self._retry_later()
            return None
        return data

    def _greet(self):
        """Tell the simulator the serial setting; False while the connection is being made."""
        if self.line.write(self.hello) is None:
            return False
        self.hello = None
        return True

    def _retry_later(self):
        self.close()
        self.retry_ms = time.ticks_add(time.ticks_ms(), _RETRY_MS)

    def close(self):
        if self.line is not None:
            try:
                self.line.close()
            except OSError:
                pass
        self.line = None

    def _nothing(self, *args):
        pass

    # No LED, and no watchdog: nothing resets the process (one function object for the four).
    led = light = watchdog = feed = _nothing

    def reset(self, cause="reboot requested"):
        from app.hal.unix_env import reset  # (the process ends: nothing to unload)
        reset(self, cause)

    def unique_id(self):
        return b"\x53\x49\x4d\x00\x00\x01"  # "SIM..." : stable, like a MAC

    # The Wi-Fi radio.

    def connect(self, ssid, password, hostname):
        self.tried = True

    disconnect = rssi = _nothing  # the host's network has no signal strength: rssi() is None

    def connected(self):
        return not self.wifi_down

    def status(self):
        return "connected" if not self.wifi_down else "network not found" if self.tried else "idle"

    def address(self, ap=False):
        """The station's address (None when not joined), or with `ap` the access point's (None
        when it is closed)."""
        if ap:
            return "192.168.4.1" if self.ap_name else None
        return None if self.wifi_down else "127.0.0.1"

    def clients(self):
        return 0

    def access_point(self, ssid, password=""):
        self.ap_name = ssid
