"""Hardware layer for the ESP32-WROOM board (MicroPython ESP32_GENERIC firmware); the same
interface as unix.py (see __init__.py)."""
import machine
import network

from app import unload

try:
    from micropython import const
except ImportError:
    def const(value):  # CPython (the tests' fake board): the value itself
        return value

_UART_ID = const(2)  # UART0 is the USB serial port (REPL); UART2's default pins are free on WROOM
_RX_BUFFER = const(4096)  # 1.8 s at 2400 baud, 0.35 s at 115200: covers the longest loop stall


class Hal:
    """The Hal is also the meter line uart() opens (one object fewer in the heap). Made by
    app/hal/esp32_rare.py's make(), which sets `station` and `ap`, the radio's two network.WLAN.
    What it does rarely (the reset, the status in words) is there too, loaded for that."""

    name = "esp32"
    data = ""  # config.json and friends live at the root of the flash file system
    http_port = 80
    dns_port = 53  # the captive portal's DNS responder, while the access point is open
    dns_host = "0.0.0.0"
    telnet_port = None  # from the config
    mqtt_broker = ""  # the unix port's stand-in broker (make sim): the board has only mqtt.host
    # What a run may never set is the class's: the object holds only what has been set.
    ap_name = None    # the access point's name while it is open
    pin = None        # the LED's machine.Pin
    inverted = False
    wdt = None
    line = None       # the meter's machine.UART

    def uart(self, rx_pin, setting):
        """The meter line, read with `setting`: text like "2400 8E1" or "115200 8N1 inverted"."""
        baud, frame = setting.split()[:2]
        self.line = machine.UART(_UART_ID, int(baud), bits=int(frame[0]),
                                 parity={"N": None, "E": 0, "O": 1}[frame[1]], stop=int(frame[2]),
                                 rx=rx_pin, tx=17, rxbuf=_RX_BUFFER, timeout=0,
                                 invert=machine.UART.INV_RX if "inverted" in setting else 0)
        return self

    def read(self, n):
        """What the line brought, up to `n` bytes, without waiting (timeout=0): None when nothing
        came."""
        return self.line.read(n)

    def close(self):
        self.line.deinit()

    def led(self, pin, inverted):
        self.pin = machine.Pin(pin, machine.Pin.OUT)
        self.inverted = inverted
        self.light(False)

    def light(self, on):
        if self.pin is not None:  # (no LED set: nothing to switch)
            self.pin.value(1 if on != self.inverted else 0)

    def watchdog(self, timeout_ms):
        # machine.WDT cannot be stopped; created again, it only takes the new timeout.
        self.wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self.wdt.feed()

    def reset(self, cause="reboot requested"):
        from app.hal.esp32_rare import reset  # (the board resets: nothing to unload)
        reset()

    def unique_id(self):
        return machine.unique_id()

    # The Wi-Fi radio: station and access point.

    def connect(self, ssid, password, hostname):
        """Start joining `ssid`; returns at once."""
        if hostname:
            network.hostname(hostname)
        self.station.active(True)
        self.station.config(reconnects=2)  # then it gives up: the Wi-Fi task does the backoff
        self.station.connect(ssid, password)

    def disconnect(self):
        try:
            self.station.disconnect()
        except OSError:
            pass

    def connected(self):
        return self.station.isconnected()

    def status(self):
        """Why the station is not joined, in words ("connecting", "wrong password" ...)."""
        from app.hal.esp32_rare import status
        try:
            return status(self.station.status())
        finally:
            unload("app.hal.esp32_rare")

    def address(self, ap=False):
        """The station's IP address (None when not joined), or with `ap` the access point's
        (None when it is closed)."""
        if ap:
            return self.ap.ifconfig()[0] if self.ap_name else None
        return self.station.ifconfig()[0] if self.station.isconnected() else None

    def rssi(self):
        try:
            return self.station.status("rssi") if self.station.isconnected() else None
        except (OSError, ValueError):
            return None

    def clients(self):
        """How many phones or computers are on the access point."""
        try:
            return len(self.ap.status("stations")) if self.ap_name else 0
        except (OSError, ValueError):
            return 0

    def access_point(self, ssid, password=""):
        """Open the access point `ssid` (WPA2 with a password, else open); None closes it."""
        self.ap_name = ssid
        if ssid is None:
            self.ap.active(False)
            return
        self.ap.active(True)
        if password:
            self.ap.config(essid=ssid, password=password, security=network.WLAN.SEC_WPA2)
        else:
            self.ap.config(essid=ssid, security=network.WLAN.SEC_OPEN)
