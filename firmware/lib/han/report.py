"""Readings and errors as JSON text, identical on MicroPython and CPython.

Written by hand rather than with `json.dumps`: numbers must come out as exact decimals from
integer + scaler (no float on the way), and key order must be the meter's order on both
interpreters.
"""
from han.values import DateTime, Decimal, Quantity, decimal_text, obis_text

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def string(text):
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def text_of(raw):
    """Bytes as text when every byte is printable ASCII, else lowercase hex."""
    if all(0x20 <= b < 0x7F for b in raw):
        return raw.decode()
    return raw.hex()


def _printable(text):
    for ch in text:
        if ch < " " or ch == "\x7f":
            return False
    return True


def value(v):
    if isinstance(v, Quantity):
        return "[%s, %s]" % (v.text(), string(v.symbol()))
    if isinstance(v, DateTime):
        iso = v.iso()
        return string(iso) if iso else string(v.raw.hex())
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return decimal_text(v.raw, v.scaler)
    if isinstance(v, str):
        return string(v) if _printable(v) else string(v.encode().hex())
    if isinstance(v, (bytes, bytearray)):
        return string(text_of(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if v is None:
        return "null"
    return string(repr(v))


def reading(r):
    time = r.time.iso() if r.time is not None else None
    parts = ['"time": ' + (string(time) if time else "null")]
    parts.append('"obis": {' + ", ".join(string(obis_text(code)) + ": " + value(v) for code, v in r.items) + "}")
    meter = []
    for key, v in (("manufacturer", r.manufacturer), ("model", r.model), ("id", r.meter_id),
                   ("list", r.list_id)):
        if v:
            meter.append(string(key) + ": " + string(v))
    if r.system_title:
        meter.append('"system_title": ' + string(bytes(r.system_title).hex()))
    if meter:
        parts.append('"meter": {' + ", ".join(meter) + "}")
    parts.append('"layers": [' + ", ".join(string(x) for x in r.layers) + "]")
    return "{" + ", ".join(parts) + "}"


def error(e):
    parts = ['"error": ' + string(e.code), '"detail": ' + string(e.detail)]
    if e.data:
        parts.append('"hex": ' + string(bytes(e.data).hex()))
    return "{" + ", ".join(parts) + "}"
