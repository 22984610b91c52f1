"""A-XDR decoding of DLMS/COSEM Data (Blue Book table 2).

Decoded values are plain Python values: structure -> tuple, array -> list, integers -> int,
octet-string -> bytes, visible/utf8-string -> str, and small classes for the rest (scaler-unit,
date-time, floats kept exact). Every length and count is checked against the bytes present, so a
damaged or hostile message raises Error("malformed") instead of allocating without bound.
"""
from han.errors import Error
from han.values import ScalerUnit, DateTime

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_ARRAY = const(0x01)
_STRUCTURE = const(0x02)
_BOOLEAN = const(0x03)
_OCTET_STRING = const(0x09)
_VISIBLE_STRING = const(0x0A)
_UTF8_STRING = const(0x0C)
_BCD = const(0x0D)
_INTEGER = const(0x0F)
_ENUM = const(0x16)
_DATE_TIME = const(0x19)
_MAX_DEPTH = const(8)
# han.details lines
_ENDS_EARLY = const(0)
_LENGTH_FORM = const(1)
_COUNT = const(2)
_NESTED = const(3)
# (4: han.compact)

# By tag (0x00-0x1B): byte count of fixed-size integer types (0 = not one), and their signedness.
_SIZE = b"\0\0\0\1\0\4\4\0\0\0\0\0\0\1\0\1\2\1\2\0\x08\x08\1\0\0\0\0\0"
_SIGNED = b"\0\0\0\0\0\1\0\0\0\0\0\0\0\0\0\1\1\0\0\0\1\0\0\0\0\0\0\0"


class Reader:
    """Reads A-XDR from `buf[pos:end]`, advancing `pos`."""

    def __init__(self, buf, pos=0, end=-1):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end < 0 else end

    def need(self, n):
        if n < 0 or self.pos + n > self.end:
            raise Error("malformed", (_ENDS_EARLY, self.pos, n))

    def byte(self):
        pos = self.pos
        if pos >= self.end:
            self.need(1)
        self.pos = pos + 1
        return self.buf[pos]

    def length(self, count=False):
        """A BER length: one byte below 0x80, else 0x8n followed by n bytes. With `count`, the
        number of elements that follow, each at least one byte: checked against those left."""
        n = self.byte()
        if n >= 0x80:
            if not 0 < n & 0x7F < 4:
                raise Error("malformed", (_LENGTH_FORM, n, self.pos - 1))
            n = self.unsigned(n & 0x7F)
        if count and n > self.end - self.pos:
            raise Error("malformed", (_COUNT, n, self.end - self.pos))
        return n

    def unsigned(self, n):
        self.need(n)
        buf = self.buf
        value = 0
        for i in range(self.pos, self.pos + n):
            value = (value << 8) | buf[i]
        self.pos += n
        return value

    def take(self, n):
        """The next `n` bytes as a copy (the message buffer is reused for the next frame)."""
        self.need(n)
        self.pos += n
        return bytes(self.buf[self.pos - n:self.pos])

    def data(self, depth=0, tag=-1):
        """One Data element; with `tag`, the value of a `tag`-typed element without a tag byte."""
        if tag < 0:
            tag = self.byte()
        size = _SIZE[tag] if tag < 0x1C else 0
        if size:
            value = self.unsigned(size)
            if _SIGNED[tag] and value >> (size * 8 - 1):
                return value - (1 << (size * 8))
            if tag == _BOOLEAN:
                return value != 0
            if tag == _BCD:
                return (value >> 4) * 10 + (value & 0x0F)
            return value
        if tag == _STRUCTURE or tag == _ARRAY:
            if depth >= _MAX_DEPTH:
                raise Error("malformed", (_NESTED, _MAX_DEPTH))
            n = self.length(True)
            buf = self.buf
            pos = self.pos
            if tag == _STRUCTURE and n == 2 and pos + 4 <= self.end and buf[pos] == _INTEGER \
                    and buf[pos + 2] == _ENUM:
                self.pos = pos + 4
                scaler = buf[pos + 1]
                return ScalerUnit(scaler - 256 if scaler > 127 else scaler, buf[pos + 3])
            items = [None] * n
            for i in range(n):
                items[i] = self.data(depth + 1)
            return tuple(items) if tag == _STRUCTURE else items
        if tag == _OCTET_STRING:
            return self.take(self.length())
        if tag == _VISIBLE_STRING or tag == _UTF8_STRING:
            raw = self.take(self.length())
            try:
                return raw.decode()
            except UnicodeError:
                return raw
        if tag == 0x00 or tag == 0xFF:  # null-data, dont-care
            return None
        if tag == _DATE_TIME:
            return DateTime(self.take(12))
        # Date, time, floats, bit-string, compact-array (rare in pushes) and unknown types: that
        # code loads when one appears.
        from han.compact import rare_type
        return rare_type(self, tag, depth)
