# The App the web server reads, for the MicroPython scripts that run the server alone
# (tests/web_heap_app.py, tests/web_pieces_app.py): the real State (a Kamstrup reading, a full
# hour of power) and config defaults, a log that prints, no meter and no hal.
import app.config as config_store
from app.state import HISTORY, State
from han.values import Quantity, Reading

_VALUES = ((b"\x01\x01\x01\x07\x00\xff", 826, 0, 27), (b"\x01\x01\x02\x07\x00\xff", 0, 0, 27),
           (b"\x01\x01\x1f\x07\x00\xff", 237, -2, 33), (b"\x01\x01\x33\x07\x00\xff", 89, -2, 33),
           (b"\x01\x01\x47\x07\x00\xff", 75, -2, 33), (b"\x01\x01\x20\x07\x00\xff", 232, 0, 35),
           (b"\x01\x01\x34\x07\x00\xff", 233, 0, 35), (b"\x01\x01\x48\x07\x00\xff", 236, 0, 35),
           (b"\x01\x01\x01\x08\x00\xff", 85823280, 0, 30))


class Log:
    def error(self, text):
        print("log", text)

    warning = info = error


class Wifi:
    ap = False


class App:
    def __init__(self, ap=False):
        self.state = State()
        self.config = config_store.defaults()
        self.safe_mode = False
        self.meter = None
        self.log = Log()
        self.wifi = Wifi()
        self.wifi.ap = ap  # the access point open (no network set): captive-portal checks on
        self.hal = None


def dashboard_app(ap=False):
    """An App with a reading and an hour of power to show."""
    app = App(ap)
    reading = Reading()
    reading.manufacturer = "Kamstrup"
    reading.meter_id = "5706567326590407"
    reading.list_id = "Kamstrup_V0001"
    reading.codes = b"".join([code for code, _, _, _ in _VALUES])
    reading.values = [Quantity(raw, scaler, unit) for _, raw, scaler, unit in _VALUES]
    app.state.reading = reading
    app.state.reading_ms = 0
    app.state.readings = 1
    for i in range(HISTORY):
        app.state.uptime_s = i * 10
        app.state.add_power(800 + i)
    return app
