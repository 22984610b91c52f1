"""Hardware layer for the ESP32-WROOM board (MicroPython ESP32_GENERIC firmware)."""
import asyncio
import time

import esp32
import machine
import network

UART_ID = 2  # UART0 is the USB serial port (REPL); UART2's default pins are free on WROOM
DISARMED_MS = 86400000  # the watchdog timeout once a person has the prompt (a day)
RX_BUFFER = 4096  # 1.8 s at 2400 baud, 0.35 s at 115200: covers the longest loop stall
_STATUS = (("STAT_GOT_IP", "connected"), ("STAT_CONNECTING", "connecting"), ("STAT_IDLE", "idle"),
           ("STAT_WRONG_PASSWORD", "wrong password"), ("STAT_HANDSHAKE_TIMEOUT", "wrong password"),
           ("STAT_NO_AP_FOUND", "network not found"))
CAUSES = {machine.PWRON_RESET: "power-on or brownout", machine.HARD_RESET: "crash or reset",
          machine.WDT_RESET: "watchdog", machine.DEEPSLEEP_RESET: "deep sleep",
          machine.SOFT_RESET: "soft reset"}


class Uart:
    def __init__(self, rx_pin, baud, bits, parity, stop, inverted):
        self.uart = machine.UART(UART_ID, baud, bits=bits, parity={"N": None, "E": 0, "O": 1}[parity],
                                 stop=stop, rx=rx_pin, tx=17, rxbuf=RX_BUFFER, timeout=0,
                                 invert=machine.UART.INV_RX if inverted else 0)
        self.stream = asyncio.StreamReader(self.uart)

    async def read(self, n):
        return await self.stream.read(n)

    def close(self):
        self.uart.deinit()


class Led:
    def __init__(self, pin, inverted):
        self.pin = machine.Pin(pin, machine.Pin.OUT)
        self.inverted = inverted
        self.lit = False
        self.set(False)

    def set(self, lit):
        self.lit = lit
        self.pin.value(1 if lit != self.inverted else 0)


class Wifi:
    """Station and access point. Nothing here waits for the radio: app/wifi.py polls it."""

    def __init__(self):
        self.station = network.WLAN(network.WLAN.IF_STA)
        self.ap = network.WLAN(network.WLAN.IF_AP)
        self.access_point = None

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
        code = self.station.status()
        for name, text in _STATUS:
            if code == getattr(network, name, None):
                return text
        return "failed (%s)" % code

    def address(self):
        """The station's IP address, None when not joined."""
        return self.station.ifconfig()[0] if self.station.isconnected() else None

    def ap_address(self):
        return self.ap.ifconfig()[0] if self.access_point else None

    def rssi(self):
        try:
            return self.station.status("rssi") if self.station.isconnected() else None
        except (OSError, ValueError):
            return None

    def clients(self):
        """How many phones or computers are on the access point."""
        try:
            return len(self.ap.status("stations")) if self.access_point else 0
        except (OSError, ValueError):
            return 0

    def start_access_point(self, ssid, password):
        self.ap.active(True)
        if password:
            self.ap.config(essid=ssid, password=password, security=network.WLAN.SEC_WPA2)
        else:
            self.ap.config(essid=ssid, security=network.WLAN.SEC_OPEN)
        self.access_point = ssid

    def stop_access_point(self):
        self.ap.active(False)
        self.access_point = None


class Watchdog:
    """machine.WDT cannot be stopped; created again, it only takes the new timeout."""

    def __init__(self, timeout_ms):
        self.wdt = machine.WDT(timeout=timeout_ms)

    def feed(self):
        self.wdt.feed()

    def disarm(self):
        self.wdt = machine.WDT(timeout=DISARMED_MS)


class Hal:
    name = "esp32"
    data = ""  # config.json and friends live at the root of the flash file system
    http_port = 80
    dns_port = 53  # the captive portal's DNS responder, while the access point is open
    dns_host = "0.0.0.0"
    telnet_port = None  # from the config
    serial_address = None
    mqtt_broker = ""  # the unix port's stand-in broker (make sim): the board has only mqtt.host

    def __init__(self):
        self.wifi = Wifi()
        self.nvs = esp32.NVS("hanreader")

    def uart(self, rx_pin, setting):
        baud, frame = setting.split()[:2]
        return Uart(rx_pin, int(baud), int(frame[0]), frame[1], int(frame[2]), "inverted" in setting)

    def led(self, pin, inverted):
        return Led(pin, inverted)

    def watchdog(self, timeout_ms):
        return Watchdog(timeout_ms)

    def boot_button(self):
        return machine.Pin(0, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0

    def reset_cause(self):
        # A crash and machine.reset() look the same: a deliberate reset leaves a flag in NVS.
        try:
            deliberate = self.nvs.get_i32("reboot")
            self.nvs.erase_key("reboot")
            self.nvs.commit()
            if deliberate:
                return "reboot requested"
        except OSError:
            pass
        return CAUSES.get(machine.reset_cause(), "unknown")

    def reset(self, cause="reboot requested"):
        self.nvs.set_i32("reboot", 1)
        self.nvs.commit()
        time.sleep_ms(100)
        machine.reset()

    def unique_id(self):
        return machine.unique_id()

    def heap_free(self):
        import gc
        return gc.mem_free()
