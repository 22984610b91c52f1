# The two hardware layers (app/hal): one interface, and the board's layer driven against fake
# machine, network and esp32 modules (no board here: this is what keeps it in step with the unix
# one, which the end-to-end tests run). CPython and MicroPython alike.
import sys

from app import unload


class Namespace:
    pass


class Uart:
    INV_RX = 4

    def __init__(self, uart_id, baud, **options):
        self.uart_id, self.baud, self.options = uart_id, baud, options
        self.closed = False
        self.received = b""

    def read(self, n):  # as machine.UART with timeout=0: None when nothing came
        data, self.received = self.received[:n], self.received[n:]
        return data or None

    def deinit(self):
        self.closed = True


class Pin:
    IN, OUT, PULL_UP = 1, 3, 2

    def __init__(self, number, mode, pull=None):
        self.number, self.mode = number, mode
        self.values = []

    def value(self, v=None):
        self.values.append(v)


class Wdt:
    made = []

    def __init__(self, timeout):
        self.timeout = timeout
        self.feeds = 0
        Wdt.made.append(self)

    def feed(self):
        self.feeds += 1


class Wlan:
    IF_STA, IF_AP = 0, 1
    SEC_OPEN, SEC_WPA2 = 0, 3

    def __init__(self, interface):
        self.interface = interface
        self.on = False
        self.settings = {}
        self.joining = None
        self.joined = False
        self.code = 1000
        self.stations = []

    def active(self, on=None):
        self.on = on

    def config(self, **settings):
        self.settings.update(settings)

    def connect(self, ssid, password):
        self.joining = (ssid, password)

    def disconnect(self):
        self.joining = None

    def isconnected(self):
        return self.joined

    def status(self, what=None):
        if what == "rssi":
            return -58
        if what == "stations":
            return self.stations
        return self.code

    def ifconfig(self):
        return ("192.168.4.1" if self.interface == Wlan.IF_AP else "10.0.0.9", "255.255.255.0", "", "")


class Nvs:
    stores = {}  # namespace: its keys, kept across opens as the flash keeps them

    def __init__(self, namespace):
        self.values = Nvs.stores.setdefault(namespace, {})
        self.commits = 0

    def get_i32(self, key):
        if key not in self.values:
            raise OSError(-4354)  # ESP_ERR_NVS_NOT_FOUND
        return self.values[key]

    def set_i32(self, key, value):
        self.values[key] = value

    def erase_key(self, key):
        del self.values[key]

    def commit(self):
        self.commits += 1


def fake_board():
    """The board's layer against the fakes: board.Hal (app.hal.esp32), board.make (its
    app.hal.esp32_rare's, which it also imports for what it does rarely) and board.run(call),
    which calls with the fakes in sys.modules, forgetting both modules after."""
    machine = Namespace()
    machine.UART, machine.Pin, machine.WDT = Uart, Pin, Wdt
    machine.PWRON_RESET, machine.HARD_RESET, machine.WDT_RESET, machine.DEEPSLEEP_RESET, machine.SOFT_RESET = 1, 2, 3, 4, 5
    machine.cause = 1
    machine.reset_cause = lambda: machine.cause
    machine.unique_id = lambda: b"\x24\x0a\xc4\x12\xab\xcd"
    machine.resets = []
    machine.reset = lambda: machine.resets.append(True)
    network = Namespace()
    network.WLAN = Wlan
    network.STAT_IDLE, network.STAT_CONNECTING, network.STAT_WRONG_PASSWORD = 1000, 1001, 202
    network.STAT_NO_AP_FOUND, network.STAT_GOT_IP, network.STAT_HANDSHAKE_TIMEOUT = 201, 1010, 204
    network.names = []
    network.hostname = network.names.append
    esp32 = Namespace()
    esp32.NVS = Nvs
    clock = Namespace()
    clock.sleep_ms = lambda ms: None  # (a reset lets the log's last lines go out first)
    fakes = (("machine", machine), ("network", network), ("esp32", esp32), ("time", clock))

    def run(call):
        saved = {}
        for name, module in fakes:
            saved[name] = sys.modules.get(name)
            sys.modules[name] = module
        unload("app.hal.esp32")  # a fresh import: the modules take the fakes of this call
        unload("app.hal.esp32_rare")
        try:
            return call()
        finally:
            for name in saved:
                if saved[name] is None:
                    del sys.modules[name]
                else:
                    sys.modules[name] = saved[name]
            unload("app.hal.esp32")
            unload("app.hal.esp32_rare")

    def layer():
        from app.hal import esp32 as board
        return board

    def make():
        from app.hal.esp32_rare import make
        return make()

    board = Namespace()
    board.run = run
    board.Hal = run(layer).Hal
    board.make = lambda: run(make)
    return board, machine, network


def board_hal():
    board, _, _ = fake_board()
    return board.make()[0]


def methods(cls):
    return sorted(name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name)))


def test_both_layers_offer_the_same_interface():
    import os

    from app.hal import unix
    board, _, _ = fake_board()
    assert methods(board.Hal) == methods(unix.Hal)
    assert "close" in methods(unix.Hal) and "read" in methods(unix.Hal)  # the meter line is the Hal
    environ = getattr(os, "environ", None)  # CPython's os.getenv reads os.environ only

    def setenv(name, value):
        if environ is None:
            os.putenv(name, value)
        else:
            environ[name] = value

    def unsetenv(name):
        if environ is None:
            os.unsetenv(name)
        else:
            del environ[name]

    setenv("HANREADER_DATA", "build")  # the unix layer makes its data folder: not in the tree
    try:
        from app.hal.unix_env import make
        layers = (board.make()[0],) + make()[:1]
        cause = make()[1]
    finally:
        unsetenv("HANREADER_DATA")
        unload("app.hal.unix_env")
    assert layers[1].data == "build"
    assert cause == "power-on"  # (build/ has no reset-cause file)
    simulated = layers[1]
    if sys.implementation.name == "micropython":  # (reading the line needs its ticks)
        setenv("HANREADER_SERIAL", "127.0.0.1:9")  # nothing listens: refused, at once or at the read
        try:
            line = simulated.uart(16, "2400 8E1")
            assert line.read(256) is None and line.read(256) is None  # connecting, refused: no data
            line.close()
        finally:
            unsetenv("HANREADER_SERIAL")
        assert "app.hal.unix_env" not in sys.modules  # its connecting code is not kept
    for hal in layers:
        for name in ("name", "data", "http_port", "telnet_port", "dns_port", "dns_host", "mqtt_broker"):
            assert hasattr(hal, name), name


def test_the_meter_uart():
    hal = board_hal()
    uart = hal.uart(16, "2400 8E1")
    assert (uart.line.uart_id, uart.line.baud) == (2, 2400)  # UART2: UART0 is the REPL's
    options = uart.line.options
    assert (options["bits"], options["parity"], options["stop"], options["rx"], options["invert"]) == (8, 0, 1, 16, 0)
    assert options["rxbuf"] == 4096 and options["timeout"] == 0  # 1.8 s at 2400 baud
    assert uart.read(256) is None  # nothing came: no wait
    uart.line.received = bytes(300)
    assert len(uart.read(256)) == 256 and len(uart.read(256)) == 44 and uart.read(256) is None
    uart.close()
    assert uart.line.closed
    options = hal.uart(34, "115200 7O2 inverted").line.options
    assert (options["bits"], options["parity"], options["stop"], options["invert"]) == (7, 1, 2, Uart.INV_RX)
    assert hal.uart(16, "9600 8N1").line.options["parity"] is None


def test_led_and_watchdog():
    hal = board_hal()
    hal.light(True)  # no LED set (led.pin -1): nothing to switch
    assert hal.pin is None
    hal.led(2, False)
    assert hal.pin.number == 2 and hal.pin.mode == Pin.OUT and hal.pin.values == [0]  # off at once
    hal.light(True)
    hal.light(False)
    assert hal.pin.values == [0, 1, 0]
    hal.led(4, True)  # wired to 3.3 V: lit when low
    hal.light(True)
    assert hal.pin.values == [1, 0]
    del Wdt.made[:]
    hal.watchdog(60000)
    hal.feed()
    hal.feed()
    hal.watchdog(86400000)  # it cannot be stopped: a new timeout instead
    assert [(w.timeout, w.feeds) for w in Wdt.made] == [(60000, 2), (86400000, 0)]


def test_reset_cause_and_deliberate_resets():
    board, machine, _ = fake_board()
    for cause, text in ((1, "power-on or brownout"), (2, "crash or reset"), (3, "watchdog"), (4, "deep sleep"),
                        (5, "soft reset"), (99, "unknown")):
        machine.cause = cause
        assert board.make()[1] == text
    hal = board.make()[0]
    board.run(lambda: hal.reset("settings saved"))
    assert machine.resets == [True] and Nvs.stores["hanreader"]["reboot"] == 1  # the flag the next start reads
    assert board.make()[1] == "reboot requested" and "reboot" not in Nvs.stores["hanreader"]
    assert board.make()[1] == "unknown"  # read once: the start after is the machine's cause again
    assert hal.unique_id() == b"\x24\x0a\xc4\x12\xab\xcd"


def test_the_radio():
    board, _, network = fake_board()
    hal = board.make()[0]
    assert not hal.connected() and hal.address() is None and hal.rssi() is None
    hal.connect("Home", "secret123", "hanreader")
    assert network.names == ["hanreader"] and hal.station.on and hal.station.joining == ("Home", "secret123")
    assert hal.station.settings["reconnects"] == 2  # then the Wi-Fi task's backoff takes over
    for code, text in ((network.STAT_CONNECTING, "connecting"), (network.STAT_WRONG_PASSWORD, "wrong password"),
                       (network.STAT_HANDSHAKE_TIMEOUT, "wrong password"), (network.STAT_NO_AP_FOUND, "network not found"),
                       (network.STAT_IDLE, "idle"), (7, "failed (7)")):
        hal.station.code = code
        assert board.run(hal.status) == text
    hal.station.joined = True
    assert hal.connected() and hal.address() == "10.0.0.9" and hal.rssi() == -58
    hal.disconnect()
    assert hal.station.joining is None
    assert hal.address(True) is None and hal.clients() == 0
    hal.access_point("hanreader-ABCD", "letmein123")
    assert hal.ap.on and hal.ap.settings == {"essid": "hanreader-ABCD", "password": "letmein123",
                                             "security": Wlan.SEC_WPA2}
    hal.ap.stations = [b"phone"]
    assert hal.address(True) == "192.168.4.1" and hal.clients() == 1
    hal.access_point(None)
    assert not hal.ap.on and hal.address(True) is None and hal.clients() == 0
    hal.access_point("hanreader-ABCD")
    assert hal.ap.settings["security"] == Wlan.SEC_OPEN
