"""The dashboard's live JSON: /api/data, the latest reading (the last hour of power, /api/history,
is history.py's: it needs none of the values' text). Loaded for it and unloaded as its connection
closes (see server.py): a dashboard polling every 2 s loads it for each poll.

Written into the connection's buffer as it is made (http.Out): constant pieces are bytes, numbers
are digits put straight in the buffer; a reading never becomes one long string, and a value
costs a couple of short strings (its name, its unit). Numbers are the exact decimal text
han.text makes from the meter's integer and scaler: no float on the way, so "0.89" A stays
0.89 and 85823280 Wh stays whole.
"""
import time
from json import dumps

from app.web.http import FLUSH_AT, OK_JSON
from han.text import decimal_text, iso, symbol
from han.text import name as friendly_name
from han.values import DateTime, Decimal, Quantity

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# Single characters are put as ints (http.Out.put): a bytes constant is an object made at every load
# of this module.
_QUOTE = const(0x22)
_COMMA = const(0x2C)
_MINUS = const(0x2D)
_DOT = const(0x2E)
_SPACE = const(0x20)
_CLOSE = const(0x7D)  # }


def parts(value):
    """(JSON value, display text, unit symbol or None) of a reading's value."""
    unit = None
    if isinstance(value, Quantity):
        text = decimal_text(value.raw, value.scaler)
        unit = symbol(value.unit)
    elif isinstance(value, Decimal):
        text = decimal_text(value.raw, value.scaler)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif value is None:
        return "null", "", None
    elif isinstance(value, (list, tuple)):
        numbers = []
        texts = []
        for item in value:
            inner = parts(item)
            numbers.append(inner[0])
            texts.append(inner[1])
        return "[" + ", ".join(numbers) + "]", ", ".join(texts), None
    else:  # text: a date-time's, printable ASCII as it is, other bytes in hex
        if isinstance(value, DateTime):
            text = iso(value) or value.raw.hex()
        elif isinstance(value, (str, bytes, bytearray)):
            raw = value.encode() if isinstance(value, str) else bytes(value)
            for c in raw:
                if not 0x20 <= c < 0x7F:
                    text = raw.hex()
                    break
            else:
                text = raw.decode()
        else:
            text = repr(value)
        return dumps(text), text, None
    return text, text, unit


def _decimal(out, raw, scaler):
    """raw × 10^scaler, the exact digits han.text.decimal_text makes, put straight into the
    answer for the usual reading (a string is made only for unusual sizes)."""
    if not -6 <= scaler <= 0 or not -0x3FFFFFFF <= raw <= 0x3FFFFFFF:
        out.put(decimal_text(raw, scaler))
        return
    if raw < 0:
        out.put(_MINUS)
        raw = -raw
    if not scaler:
        out.number(raw)
        return
    one = 10 ** -scaler
    out.number(raw // one)
    out.number(raw % one + one)  # a 1 and then the fraction's digits, leading zeros included
    out.buf[out.n + scaler - 1] = _DOT  # that 1 becomes the decimal point


async def data(app, out, now_ms=None):
    """The latest reading: every value with its OBIS code, friendly name, unit and exact text.
    (The head is written by _head, each value by _value: small pieces of code, see http.py.)"""
    state = app.state
    reading = state.reading
    out.put(OK_JSON)
    out.put(b'{"readings": ')
    out.number(state.readings)
    _head(out, state, time.ticks_ms() if now_ms is None else now_ms)
    if reading is not None:
        codes = reading.codes
        values = reading.values
        for i in range(len(values)):
            if i:
                out.put(_COMMA)
                out.put(_SPACE)
            _value(out, codes, 6 * i, values[i])
            if out.n > FLUSH_AT:
                await out.flush()
    out.put(b"]}")


def _head(out, state, now_ms):
    """The latest reading's age, time and meter (nulls and none before the first reading), up to
    its values' list."""
    # What comes once an answer is formatted: a few short-lived strings, where constant pieces
    # would be objects made at every load of this module (once a poll).
    reading = state.reading
    out.put(', "age_s": %s, "time": %s, "meter": {' % (
        "null" if reading is None else ((now_ms - state.reading_ms) & 0x3FFFFFFF) // 1000,
        dumps(iso(reading.time) if reading is not None and reading.time is not None else None)))
    if reading is not None:
        lead = ""
        for key, value in (("manufacturer", reading.manufacturer), ("model", reading.model),
                           ("id", reading.meter_id), ("list", reading.list_id)):
            if value:
                out.put('%s"%s": %s' % (lead, key, dumps(parts(value)[1])))
                lead = ", "
    out.put(b'}, "values": [')


def _value(out, codes, at, value):
    """One value: OBIS code (codes[at:at + 6]), name, value, text and unit."""
    out.put(b'{"obis": "')
    for i in range(at, at + 6):  # A.B.C.D.E.F, digit by digit: no string made
        if i > at:
            out.put(_DOT)
        out.number(codes[i])
    out.put(b'", "name": ')
    name = friendly_name(codes, at)  # a lowercase identifier (han.text): nothing to escape
    if name is None:
        out.put("null")
    else:
        out.put(_QUOTE)
        out.put(name)
        out.put(_QUOTE)
    out.put(b', "value": ')
    quantity = isinstance(value, Quantity)
    if quantity:  # the usual value: its digits twice, no string made
        _decimal(out, value.raw, value.scaler)
        unit = symbol(value.unit)
    else:
        number, text, unit = parts(value)
        out.put(number)
    out.put(b', "text": ')
    if quantity:
        out.put(_QUOTE)
        _decimal(out, value.raw, value.scaler)
        out.put(_QUOTE)
    else:
        out.put(dumps(text))
    if unit:
        out.put(b', "unit": ')
        out.put(dumps(unit))
    out.put(_CLOSE)
