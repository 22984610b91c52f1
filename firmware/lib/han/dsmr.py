"""P1 / DSMR ASCII telegrams (DSMR 2.2 to 5, e-MUCS, and the Nordic, Austrian, Luxembourg variants).

    /XXX5<identification>\r\n
    \r\n
    A-B:C.D.E(value*unit)\r\n       one object per line, F = 255 unless written "*F"
    A-B:C.D.E(v1)(v2)...\r\n        several values: a list
    (value)\r\n                     DSMR 2.2/3: continues the previous object
    !CRC\r\n                        CRC-16/ARC over "/" .. "!", 0 to 4 hex digits

Pure: `parse` works on one telegram at a time (framed and CRC-checked by han.framing) and
allocates per line, never per byte. Numbers stay exact (integer + scaler); kWh, kW, kvarh, kvar, kVAh and kVA become
Wh, W, varh, var, VAh and VA by shifting the scaler.
"""
from han.errors import Error
from han.framing import find_marked  # the scanner's byte search (viper or pure)
from han.units import AMPERE, HERTZ, VAR, VAR_HOUR, VOLT, VOLT_AMPERE, VOLT_AMPERE_HOUR, WATT, WATT_HOUR
from han.values import DateTime, Quantity, Reading

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_LF = bytearray(32)  # "\n" as find_marked's bit set
_LF[10 >> 3] = 1 << (10 & 7)

# unit as sent -> (DLMS unit code, scaler shift); units not listed keep their text as unit.
_UNITS = {
    b"Wh": (WATT_HOUR, 0), b"kWh": (WATT_HOUR, 3),
    b"W": (WATT, 0), b"kW": (WATT, 3),
    b"varh": (VAR_HOUR, 0), b"kvarh": (VAR_HOUR, 3),
    b"var": (VAR, 0), b"kvar": (VAR, 3),
    b"VAh": (VOLT_AMPERE_HOUR, 0), b"kVAh": (VOLT_AMPERE_HOUR, 3),
    b"VA": (VOLT_AMPERE, 0), b"kVA": (VOLT_AMPERE, 3),
    b"V": (VOLT, 0), b"A": (AMPERE, 0), b"Hz": (HERTZ, 0),
    b"s": (7, 0), b"m3": (13, 0), b"m3/h": (15, 0),
}

# FLAG manufacturer ids (upper-cased) seen in identification lines.
MANUFACTURERS = {
    "ISK": "Iskraemeco", "KFM": "Kaifa", "KAM": "Kamstrup", "KMP": "Kamstrup",
    "LGF": "Landis+Gyr", "XMX": "Xemex", "XMC": "Xemex", "SAG": "Sagemcom",
    "ENE": "Sagemcom", "EST": "Sagemcom", "LUX": "Sagemcom",  # T210-D (NL, AT Styria, LU Smarty)
    "FLU": "Fluvius", "ESY": "EasyMeter", "EGM": "Elgama",
}

CLOCK = b"\x00\x00\x01\x00\x00\xff"  # 0-0:1.0.0
METER_IDS = (b"\x00\x00\x60\x01\x01\xff", b"\x00\x00\x60\x01\x00\xff",  # 0-0:96.1.1, 0-0:96.1.0
             b"\x00\x00\x60\x01\xff\xff")                                 # 0-0:96.1.255 (EasyMeter)
_SEPARATORS = const(b"-:..*")
_NO_CODE = const(b"\x00\x00\x00\x00\x00\xff")
_SMALL = const(100000000)
_DAYS = const(b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f")
def _text(raw):
    """Bytes as sent -> str, or the bytes themselves when they are not UTF-8."""
    try:
        return raw.decode()
    except UnicodeError:
        return bytes(raw)


def _raw(line, a, b, dot):
    """line[a:b], a decimal number with its "." at `dot` (or none: dot < 0) and an optional sign,
    as the integer of its digits ("-001.50" -> -150), or None if it is not a number."""
    negative = False
    if a < b and (line[a] == 0x2D or line[a] == 0x2B):
        negative = line[a] == 0x2D
        a += 1
    n = 0
    digits = 0
    for i in range(a, b):
        c = line[i] - 48
        if 0 <= c <= 9:
            if n < _SMALL:  # stays a small int on a 32-bit port; longer numbers below
                n = n * 10 + c
            else:
                n = -1
            digits += 1
        elif i != dot:
            return None
    if not digits:
        return None
    if n < 0:
        n = int(line[a:b]) if dot < 0 else int(line[a:dot] + line[dot + 1:b])
    return -n if negative else n


def _two(line, i):
    return (line[i] - 48) * 10 + line[i + 1] - 48


def _timestamp(line, a):
    """line[a:a+13] "YYMMDDhhmmssX" (X = S summer, W winter) -> DateTime, or None if it is not
    a valid one. Two-digit years 00-68 are 20YY, 69-99 are 19YY."""
    season = line[a + 12]
    if season != 0x53 and season != 0x57:
        return None
    for i in range(a, a + 12):
        if not 48 <= line[i] <= 57:
            return None
    year = _two(line, a)
    year += 2000 if year < 69 else 1900
    month = _two(line, a + 2)
    day = _two(line, a + 4)
    hour = _two(line, a + 6)
    minute = _two(line, a + 8)
    second = _two(line, a + 10)
    if not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 59:
        return None
    days = _DAYS[month - 1]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days = 29
    if not 1 <= day <= days:
        return None
    return DateTime(bytes((year >> 8, year & 0xFF, month, day, 0xFF, hour, minute, second, 0xFF,
                           0x80, 0x00, 0x80 if season == 0x53 else 0x00)))


def value(line, a=0, b=-1):
    """One value, line[a:b] without its parentheses -> Quantity, DateTime or text as sent."""
    if b < 0:
        b = len(line)
    star = line.find(b"*", a, b)
    if star >= 0:
        dot = line.find(b".", a, star)
        raw = _raw(line, a, star, dot) if star + 1 < b else None
        if raw is not None:
            scaler = 0 if dot < 0 else dot + 1 - star
            unit = line[star + 1:b]
            known = _UNITS.get(unit)
            if known is not None:
                return Quantity(raw, scaler + known[1], known[0])
            unit = _text(unit)
            if isinstance(unit, str):
                return Quantity(raw, scaler, unit)
    elif b - a == 13:
        stamp = _timestamp(line, a)
        if stamp is not None:
            return stamp
    return _text(line[a:b])


def obis(line, end):
    """line[:end] "A-B:C.D.E" or "A-B:C.D.E*F" -> 6 bytes (F = 255 when not written), or None."""
    code = bytearray(_NO_CODE)
    k = 0
    n = 0
    digits = 0
    for i in range(end):
        c = line[i]
        if 48 <= c <= 57:
            n = n * 10 + c - 48
            digits += 1
            if digits > 3:
                return None
        elif k < 5 and c == _SEPARATORS[k] and digits and n <= 255:
            code[k] = n
            k += 1
            n = 0
            digits = 0
        else:
            return None
    if k < 4 or not digits or n > 255:
        return None
    code[k] = n
    return bytes(code)


def _values(line, pos, values, number):
    """Append the "(...)" values of line from pos on; nothing else may follow them."""
    end = len(line)
    while end > pos and (line[end - 1] == 0x20 or line[end - 1] == 0x09):
        end -= 1
    while pos < end:
        if line[pos] != 0x28:
            raise Error("malformed", (50, number))  # han.details: text outside parentheses
        close = line.find(b")", pos + 1, end)
        if close < 0:
            raise Error("malformed", (51, number))  # "(" without ")"
        values.append(value(line, pos + 1, close))
        pos = close + 1


def _identification(reading, header):
    """Header line "/XXXZ<ident>" -> manufacturer and model."""
    if len(header) < 5 or not header[1:4].isalpha() or not 0x20 <= header[4] <= 0x7E:
        raise Error("malformed", 48)  # not "/" + 3 letters
    flag = header[1:4].decode()
    reading.manufacturer = MANUFACTURERS.get(flag.upper(), flag)
    rest = header[5:]
    if rest and rest[0] == 0x5C:  # "\2": IEC 62056-21 enhanced identification ("\T210-D": not)
        rest = rest[2:] if len(rest) > 1 and 48 <= rest[1] <= 57 else rest[1:]
    while rest and rest[0] < 0x20:
        rest = rest[1:]
    model = _text(rest.strip())
    reading.model = model if isinstance(model, str) and model else None


def meter_id(text):
    """DSMR 4/5 send the equipment id as hex of ASCII: decode it when it is exactly that."""
    if not isinstance(text, str) or not text:
        return None
    if " " in text:  # bytes.fromhex skips spaces, differently per interpreter
        return text
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return text
    for b in raw:
        if not 0x20 <= b < 0x7F:
            return text
    return raw.decode() if raw else text


def parse(view):
    """One telegram (memoryview or bytes, CRC already checked) -> Reading; Error("malformed") if not."""
    size = len(view)
    if size < 6 or view[0] != 0x2F:
        raise Error("malformed", 46)  # han.details: not a DSMR telegram
    eol = find_marked(view, 0, size, _LF)
    if eol < 0:
        raise Error("malformed", 47)  # no line end after the identification
    reading = Reading()
    reading.layers = ["dsmr"]
    _identification(reading, bytes(view[0:eol - 1 if eol and view[eol - 1] == 0x0D else eol]))
    codes = bytearray()  # the objects' codes, 6 bytes each
    found = []  # their values
    values = []  # scratch: the values of one line
    number = 1
    pos = eol + 1
    while True:
        if pos >= size:
            raise Error("malformed", 49)  # han.details: no "!" end line
        eol = find_marked(view, pos, size, _LF)
        if eol < 0:
            eol = size
        stop = eol - 1 if eol > pos and view[eol - 1] == 0x0D else eol
        number += 1
        start = pos
        pos = eol + 1
        if stop == start:
            continue  # empty line (the one after the identification)
        first = view[start]
        if first == 0x21:  # "!"
            break
        line = bytes(view[start:stop])
        if first == 0x28:  # "(": continues the previous object (DSMR 2.2/3 gas value)
            if not found:
                raise Error("malformed", (52, number))  # a value without OBIS code
            previous = found[-1]
            if not isinstance(previous, list):
                previous = found[-1] = [previous]
            _values(line, 0, previous, number)
            continue
        paren = line.find(b"(")
        code = obis(line, paren) if paren > 0 else None
        if code is None:
            raise Error("malformed", (53, number))  # not "A-B:C.D.E(value)"
        _values(line, paren, values, number)
        codes += code
        if len(values) == 1:
            found.append(values[0])
            values.clear()
        else:
            found.append(values)
            values = []
    codes = reading.codes = bytes(codes)
    ids = [None] * len(METER_IDS)
    for i in range(len(found)):
        code = codes[6 * i:6 * i + 6]
        v = found[i]
        if code == CLOCK:
            if isinstance(v, DateTime):
                reading.time = v
        elif code in METER_IDS:
            ids[METER_IDS.index(code)] = v
    for v in ids:
        v = meter_id(v)
        if v:
            reading.meter_id = v
            break
    reading.values = found[:]  # an exact copy: appending left room for up to twice the values
    return reading
