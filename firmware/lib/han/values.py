"""Exact values: numbers as integer + power-of-ten scaler, COSEM date-times, DLMS units; and
the Reading that carries them, the one shape every consumer reads.

Loaded with the decoder, for good; their text (decimals, unit symbols, ISO 8601, OBIS codes) is
han.text's, loaded only by what renders. The ESP32's MicroPython floats are 32-bit (85823280 Wh
is not representable), so nothing here uses float arithmetic: numbers stay integer + scaler.
"""

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# DLMS unit codes this module needs (all of them by name: han.units). Tables live in the
# functions that read them: a module-level name costs the board's heap a name and a slot.
_AMPERE = const(33)
_HERTZ = const(44)
_NO_UNIT = const(255)


def default_unit(code, at=0):
    """The DLMS unit the electricity OBIS code at code[at:at + 6] implies, or 255 (no unit).

    By C (quantity) for C < 80, where it repeats every 20 for L1, L2, L3: for rates (D 4-7,
    14-16, 24-27: power, current, voltage ...) and for their time integrals (D 8-10, 29: energy
    registers)."""
    c = code[at + 2]
    if code[at] != 1 or c >= 100:
        return _NO_UNIT
    d = code[at + 3]
    if d in b"\x04\x05\x06\x07\x0e\x0f\x10\x18\x19\x1a\x1b":  # demand, instantaneous, maxima
        if c >= 80:
            return 8 if c == 81 else _AMPERE if c == 91 else _NO_UNIT  # phase angles (°), neutral current
        return _HERTZ if c == 14 else \
            b"\xff\x1b\x1b\x1d\x1d\x1d\x1d\x1d\x1d\x1c\x1c\x21\x23\xff\xff\x1b\x1b\xff\xff\xff"[c % 20]
    if d in b"\x08\x09\x0a\x1d" and c < 80:  # registers (time integrals)
        return b"\xff\x1e\x1e\x20\x20\x20\x20\x20\x20\x1f\x1f\xff\xff\xff\xff\x1e\x1e\xff\xff\xff"[c % 20]
    return _NO_UNIT


# A decoded telegram.
class Reading:
    def __init__(self):
        self.time = None     # DateTime from the notification header or the clock object, or None
        self.codes = b""     # the values' OBIS codes, 6 bytes each: values[i]'s at codes[6 * i]
        self.values = []     # Quantity, str, bytes, DateTime, bool, list
        self.manufacturer = None
        self.model = None
        self.meter_id = None
        self.list_id = None
        self.system_title = None  # bytes, for encrypted frames
        self.convention = None    # name of the meter convention applied
        self.layers = []          # e.g. ["hdlc", "llc", "glo-ciphering", "data-notification"]


class Quantity:
    """A measured number: exact integer, power-of-ten scaler and DLMS unit code (or, for a unit
    without one, its symbol as a str).

    han.cosem decodes a COSEM scal_unit_type (scaler, unit: how to read the value beside it) as a
    Quantity of raw value 0 too: a class of its own would cost the board's heap ~300 B, and no
    decoded data holds a Quantity otherwise (readings are made of the data)."""

    # The usual raw value and scaler (nothing exported, a whole number) are the class's: an
    # instance keeps only what differs, in 64 B of the unix port's heap rather than 96 B for
    # three attributes (a reading keeps a dozen quantities).
    raw = 0
    scaler = 0

    def __init__(self, raw, scaler, unit):
        if raw:
            self.raw = raw
        if scaler:
            self.scaler = scaler
        self.unit = unit

    def __eq__(self, other):
        return isinstance(other, Quantity) and self.raw * 10 ** max(0, self.scaler - other.scaler) == \
            other.raw * 10 ** max(0, other.scaler - self.scaler) and self.unit == other.unit


class Decimal:
    """A number from an A-XDR float, rounded to the float's precision and kept exact."""

    def __init__(self, raw, scaler):
        self.raw = raw
        self.scaler = scaler


class DateTime:
    """A COSEM date-time (12 bytes: year, month, day, weekday, h, m, s, hundredths,
    deviation, clock status). Deviation is minutes of local time *to* UTC: −120 = UTC+02:00."""

    def __init__(self, raw):
        self.raw = bytes(raw)

    def plausible(self):
        """Could these 12 bytes be a date-time (used for octet-strings in clock positions)?"""
        r = self.raw
        year = (r[0] << 8) | r[1]
        deviation = (r[9] << 8) | r[10]  # 0x8000: not specified, else within ±15 h (two's complement)
        return (year == 0xFFFF or 1970 <= year <= 2200) and (1 <= r[2] <= 12 or r[2] >= 0xFD) \
            and (1 <= r[3] <= 31 or r[3] >= 0xFD) \
            and (r[5] <= 23 or r[5] == 0xFF) and (r[6] <= 59 or r[6] == 0xFF) \
            and (r[7] <= 59 or r[7] == 0xFF) and (r[8] <= 99 or r[8] == 0xFF) \
            and (deviation <= 900 or deviation >= 0x10000 - 900 or deviation == 0x8000)
