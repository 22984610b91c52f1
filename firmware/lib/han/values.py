"""Exact values: numbers as integer + power-of-ten scaler, COSEM date-times, DLMS units; and
the Reading that carries them, the one shape every consumer reads.

The ESP32's MicroPython floats are 32-bit (85823280 Wh is not representable), so nothing here
uses float arithmetic: numbers are rendered to decimal text from the integer and the scaler.
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


def default_unit(obis):
    """The DLMS unit an electricity OBIS code implies, or 255 (no unit).

    By C (quantity) for C < 80, where it repeats every 20 for L1, L2, L3: for rates (D 4-7,
    14-16, 24-27: power, current, voltage ...) and for their time integrals (D 8-10, 29: energy
    registers)."""
    c = obis[2]
    if obis[0] != 1 or c >= 100:
        return _NO_UNIT
    d = obis[3]
    if d in b"\x04\x05\x06\x07\x0e\x0f\x10\x18\x19\x1a\x1b":  # demand, instantaneous, maxima
        if c >= 80:
            return 8 if c == 81 else _AMPERE if c == 91 else _NO_UNIT  # phase angles (°), neutral current
        return _HERTZ if c == 14 else \
            b"\xff\x1b\x1b\x1d\x1d\x1d\x1d\x1d\x1d\x1c\x1c\x21\x23\xff\xff\x1b\x1b\xff\xff\xff"[c % 20]
    if d in b"\x08\x09\x0a\x1d" and c < 80:  # registers (time integrals)
        return b"\xff\x1e\x1e\x20\x20\x20\x20\x20\x20\x1f\x1f\xff\xff\xff\xff\x1e\x1e\xff\xff\xff"[c % 20]
    return _NO_UNIT


def decimal_text(raw, scaler):
    """raw × 10^scaler as exact decimal text with max(0, -scaler) fractional digits."""
    if scaler >= 0:
        return str(raw * 10 ** scaler)
    places = -scaler
    digits = str(-raw if raw < 0 else raw)
    if len(digits) <= places:
        digits = "0" * (places + 1 - len(digits)) + digits
    text = digits[:-places] + "." + digits[-places:]
    return "-" + text if raw < 0 else text


# A decoded telegram.
class Reading:
    def __init__(self):
        self.time = None     # DateTime from the notification header or the clock object, or None
        self.items = []      # [(obis: 6 bytes, value)]: Quantity, str, bytes, DateTime, bool, list
        self.manufacturer = None
        self.model = None
        self.meter_id = None
        self.list_id = None
        self.system_title = None  # bytes, for encrypted frames
        self.convention = None    # name of the meter convention applied
        self.layers = []          # e.g. ["hdlc", "llc", "glo-ciphering", "data-notification"]

    def get(self, obis):
        for code, value in self.items:
            if code == obis:
                return value
        return None

    def quantity(self, raw, scaler, unit, previous=None):
        """A Quantity for this reading: the value of `previous` (the last push's item in this
        place) or one this reading already holds when equal, else a new one. Readings repeat
        values (zeros, equal phases, registers that did not move) and each Quantity takes about
        100 B of the unix port's heap for as long as the reading is shown; values are never
        changed in place (han.multipliers replaces them), so equal ones can be one object."""
        if previous is not None and _same(previous[1], raw, scaler, unit):
            return previous[1]
        for item in self.items:
            if item is None:  # the rest of a list han.cosem fills
                break
            if _same(item[1], raw, scaler, unit):
                return item[1]
        return Quantity(raw, scaler, unit)


def _same(value, raw, scaler, unit):
    """Is `value` a Quantity with exactly this raw value, scaler and unit (the same text, not only
    the same amount: Quantity.__eq__)?"""
    return isinstance(value, Quantity) and value.raw == raw and value.scaler == scaler and value.unit == unit


class ScalerUnit:
    """COSEM scal_unit_type: value × 10^scaler in `unit` (a DLMS unit code)."""

    def __init__(self, scaler, unit):
        self.scaler = scaler
        self.unit = unit


class Quantity:
    """A measured number: exact integer, power-of-ten scaler and DLMS unit code (or, for a unit
    without one, its symbol as a str)."""

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

    def text(self):
        return decimal_text(self.raw, self.scaler)

    def symbol(self):
        code = self.unit
        if isinstance(code, str):  # a unit without DLMS code (DSMR "GJ"), kept as sent
            return code
        if not 0 <= code <= 72:
            return ""
        # DLMS unit enumeration (Blue Book, table "Enumerated values for physical units"), code
        # 0-72, as one string rather than 73 objects: the board's heap is small.
        units = ("|a|mo|wk|d|h|min|s|°|°C|currency|m|m/s|m³|m³|m³/h|m³/h|m³/d|m³/d|l|kg|N|Nm|Pa|bar|J|J/h|W|"
                 "VA|var|Wh|VAh|varh|A|C|V|V/m|F|Ω|Ωm²/m|Wb|T|A/m|H|Hz|1/(Wh)|1/(varh)|1/(VAh)|V²h|A²h|kg/s|"
                 "S|K|1/(V²h)|1/(A²h)|1/m³|%|Ah|||Wh/m³|J/m³|Mol %|g/m³|Pa s|J/kg|g/cm²|atm|||dBm|dBµV|dB")
        at = 0
        for _ in range(code):
            at = units.find("|", at) + 1
        end = units.find("|", at)
        return units[at:end if end >= 0 else len(units)]

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

    def deviation(self):
        """Minutes local time is behind UTC per the meter, or None if not specified."""
        d = (self.raw[9] << 8) | self.raw[10]
        if d == 0x8000:
            return None
        return d - 0x10000 if d & 0x8000 else d

    def plausible(self):
        """Could these 12 bytes be a date-time (used for octet-strings in clock positions)?"""
        r = self.raw
        year = (r[0] << 8) | r[1]
        deviation = self.deviation()
        return (year == 0xFFFF or 1970 <= year <= 2200) and (1 <= r[2] <= 12 or r[2] >= 0xFD) \
            and (1 <= r[3] <= 31 or r[3] >= 0xFD) \
            and (r[5] <= 23 or r[5] == 0xFF) and (r[6] <= 59 or r[6] == 0xFF) \
            and (r[7] <= 59 or r[7] == 0xFF) and (r[8] <= 99 or r[8] == 0xFF) \
            and (deviation is None or -900 <= deviation <= 900)

    def iso(self):
        """ISO 8601 text to the second; date or time alone when the other half is unspecified."""
        r = self.raw
        year = (r[0] << 8) | r[1]
        has_date = year != 0xFFFF and 1 <= r[2] <= 12 and 1 <= r[3] <= 31
        has_time = r[5] <= 23 and r[6] <= 59
        date = "%04d-%02d-%02d" % (year, r[2], r[3]) if has_date else ""
        if not has_time:
            return date or None
        time = "%02d:%02d:%02d" % (r[5], r[6], r[7] if r[7] <= 59 else 0)  # seconds resolution
        deviation = self.deviation()
        if deviation is not None and -900 <= deviation <= 900:
            offset = -deviation
            sign = "+" if offset >= 0 else "-"
            offset = abs(offset)
            time += "%s%02d:%02d" % (sign, offset // 60, offset % 60)
        return date + "T" + time if date else time


def obis_text(code):
    """Six OBIS bytes -> 'A.B.C.D.E.F'."""
    return "%d.%d.%d.%d.%d.%d" % (code[0], code[1], code[2], code[3], code[4], code[5])
