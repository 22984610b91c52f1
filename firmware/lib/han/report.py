"""Values as JSON text, identical on MicroPython and CPython (MQTT's messages; a whole reading
or error as the decoder CLI writes it is tools/decode.py's, so it takes no room on the board).

Written by hand rather than with `json.dumps`: numbers must come out as exact decimals from
integer + scaler (no float on the way), and key order must be the meter's order on both
interpreters.
"""
from han.text import decimal_text, iso, symbol
from han.values import DateTime, Decimal, Quantity


def _bytes(text):
    """A str's UTF-8 bytes, to look at: on MicroPython the str itself (it has the buffer protocol),
    as going through its characters would intern each one met as a name for good."""
    try:
        return memoryview(text)
    except TypeError:  # CPython
        return text.encode()


def string(text):
    for b in _bytes(text):
        if b < 0x20 or b == 0x22 or b == 0x5C:  # a control character, '"' or '\\'
            break
    else:
        return '"' + text + '"'  # nothing to escape: the usual case, one allocation
    out = '"'
    for ch in text:
        if ch == '"' or ch == "\\":
            out += "\\" + ch
        elif ch < " ":
            at = "\n\r\t".find(ch)
            out += "\\" + "nrt"[at] if at >= 0 else "\\u%04x" % ord(ch)
        else:
            out += ch
    return out + '"'


def text_of(raw):
    """Bytes as text when every byte is printable ASCII, else lowercase hex."""
    for b in raw:
        if not 0x20 <= b < 0x7F:
            return raw.hex()
    return raw.decode()


def value(v):
    if isinstance(v, Quantity):
        return "[%s, %s]" % (decimal_text(v.raw, v.scaler), string(symbol(v.unit)))
    if isinstance(v, DateTime):
        text = iso(v)
        return string(text) if text else string(v.raw.hex())
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return decimal_text(v.raw, v.scaler)
    if isinstance(v, str):
        for b in _bytes(v):
            if b < 0x20 or b == 0x7F:  # unprintable: its UTF-8 bytes in hex
                return string(v.encode().hex())
        return string(v)
    if isinstance(v, (bytes, bytearray)):
        return string(text_of(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if v is None:
        return "null"
    return string(repr(v))
