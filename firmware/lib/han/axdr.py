"""A-XDR decoding of DLMS/COSEM Data (Blue Book table 2).

Decoded values are plain Python values: structure -> tuple, array -> list, integers -> int,
octet-string -> bytes, visible/utf8-string -> str, and small classes for the rest (scaler-unit,
date-time, floats kept exact). Every length and count is checked against the bytes present, so a
damaged or hostile message raises Fault(MALFORMED) instead of allocating without bound.
"""
from han.errors import Fault, MALFORMED
from han.values import ScalerUnit, DateTime, decimal_from_float_bits

NULL = 0x00
ARRAY = 0x01
STRUCTURE = 0x02
BOOLEAN = 0x03
BIT_STRING = 0x04
DOUBLE_LONG = 0x05
DOUBLE_LONG_UNSIGNED = 0x06
OCTET_STRING = 0x09
VISIBLE_STRING = 0x0A
UTF8_STRING = 0x0C
BCD = 0x0D
INTEGER = 0x0F
LONG = 0x10
UNSIGNED = 0x11
LONG_UNSIGNED = 0x12
COMPACT_ARRAY = 0x13
LONG64 = 0x14
LONG64_UNSIGNED = 0x15
ENUM = 0x16
FLOAT32 = 0x17
FLOAT64 = 0x18
DATE_TIME = 0x19
DATE = 0x1A
TIME = 0x1B
DONT_CARE = 0xFF

MAX_DEPTH = 8

# Fixed-size unsigned types: tag -> byte count. Signed ones are listed in SIGNED.
FIXED = {
    BOOLEAN: 1, DOUBLE_LONG: 4, DOUBLE_LONG_UNSIGNED: 4, BCD: 1, INTEGER: 1, LONG: 2,
    UNSIGNED: 1, LONG_UNSIGNED: 2, LONG64: 8, LONG64_UNSIGNED: 8, ENUM: 1,
}
SIGNED = (DOUBLE_LONG, INTEGER, LONG, LONG64)
TYPE_NAMES = {
    NULL: "null", ARRAY: "array", STRUCTURE: "structure", BOOLEAN: "boolean",
    BIT_STRING: "bit-string", DOUBLE_LONG: "double-long", DOUBLE_LONG_UNSIGNED: "double-long-unsigned",
    OCTET_STRING: "octet-string", VISIBLE_STRING: "visible-string", UTF8_STRING: "utf8-string",
    BCD: "bcd", INTEGER: "integer", LONG: "long", UNSIGNED: "unsigned", LONG_UNSIGNED: "long-unsigned",
    COMPACT_ARRAY: "compact-array", LONG64: "long64", LONG64_UNSIGNED: "long64-unsigned", ENUM: "enum",
    FLOAT32: "float32", FLOAT64: "float64", DATE_TIME: "date-time", DATE: "date", TIME: "time",
    DONT_CARE: "dont-care",
}


class Reader:
    """Reads A-XDR from `buf[pos:end]`, advancing `pos`."""

    def __init__(self, buf, pos=0, end=-1):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end < 0 else end

    def _need(self, n):
        if n < 0 or self.pos + n > self.end:
            raise Fault(MALFORMED, "A-XDR data ends early at byte %d (needs %d more)" % (self.pos, n))

    def byte(self):
        self._need(1)
        self.pos += 1
        return self.buf[self.pos - 1]

    def length(self):
        """A BER length: one byte below 0x80, else 0x8n followed by n bytes."""
        first = self.byte()
        if first < 0x80:
            return first
        n = first & 0x7F
        if n == 0 or n > 3:
            raise Fault(MALFORMED, "unsupported length form 0x%02X at byte %d" % (first, self.pos - 1))
        return self.unsigned(n)

    def unsigned(self, n):
        self._need(n)
        buf = self.buf
        value = 0
        for i in range(self.pos, self.pos + n):
            value = (value << 8) | buf[i]
        self.pos += n
        return value

    def take(self, n):
        """The next `n` bytes as a copy (the message buffer is reused for the next frame)."""
        self._need(n)
        self.pos += n
        return bytes(self.buf[self.pos - n:self.pos])

    def count(self):
        n = self.length()
        if n > self.end - self.pos:  # every element takes at least one byte
            raise Fault(MALFORMED, "count %d exceeds the %d bytes left" % (n, self.end - self.pos))
        return n

    def data(self, depth=0):
        """One Data element."""
        return self.value(self.byte(), depth)

    def value(self, tag, depth):
        """The value of a `tag`-typed element whose tag byte has been read."""
        size = FIXED.get(tag)
        if size:
            value = self.unsigned(size)
            if tag in SIGNED and value >> (size * 8 - 1):
                value -= 1 << (size * 8)
            elif tag == BOOLEAN:
                value = value != 0
            elif tag == BCD:
                value = (value >> 4) * 10 + (value & 0x0F)
            return value
        if tag == STRUCTURE or tag == ARRAY:
            if depth >= MAX_DEPTH:
                raise Fault(MALFORMED, "data nested deeper than %d levels" % MAX_DEPTH)
            n = self.count()
            buf = self.buf
            pos = self.pos
            if tag == STRUCTURE and n == 2 and pos + 4 <= self.end and buf[pos] == INTEGER \
                    and buf[pos + 2] == ENUM:
                scaler = buf[pos + 1]
                self.pos = pos + 4
                return ScalerUnit(scaler - 256 if scaler > 127 else scaler, buf[pos + 3])
            items = [self.data(depth + 1) for _ in range(n)]
            return tuple(items) if tag == STRUCTURE else items
        if tag == OCTET_STRING:
            return self.take(self.length())
        if tag == VISIBLE_STRING or tag == UTF8_STRING:
            raw = self.take(self.length())
            try:
                return raw.decode()
            except UnicodeError:
                return raw
        if tag == NULL or tag == DONT_CARE:
            return None
        if tag == DATE_TIME:
            return DateTime(self.take(12))
        if tag == DATE:
            return DateTime(self.take(5) + b"\xff\xff\xff\xff\x80\x00\xff")
        if tag == TIME:
            return DateTime(b"\xff\xff\xff\xff\xff" + self.take(4) + b"\x80\x00\xff")
        if tag == FLOAT32 or tag == FLOAT64:
            n = 4 if tag == FLOAT32 else 8
            return decimal_from_float_bits(self.unsigned(n), n)
        if tag == BIT_STRING:
            bits = self.length()
            raw = self.take((bits + 7) // 8)
            return "".join("1" if raw[i >> 3] & (0x80 >> (i & 7)) else "0" for i in range(bits))
        if tag == COMPACT_ARRAY:
            return self._compact_array(depth)
        raise Fault(MALFORMED, "unknown A-XDR type 0x%02X at byte %d" % (tag, self.pos - 1))

    def _type_description(self, depth):
        """A compact-array's element type: a tag, or nested tuples for arrays and structures."""
        if depth >= MAX_DEPTH:
            raise Fault(MALFORMED, "type description nested too deep")
        tag = self.byte()
        if tag == ARRAY:
            n = self.unsigned(2)
            return (ARRAY, n, self._type_description(depth + 1))
        if tag == STRUCTURE:
            n = self.count()
            return (STRUCTURE,) + tuple(self._type_description(depth + 1) for _ in range(n))
        return tag

    def _compact_array(self, depth):
        description = self._type_description(depth)
        size = self.length()
        self._need(size)
        end = self.pos + size
        items = []
        while self.pos < end:
            before = self.pos
            items.append(self._untagged(description, depth + 1))
            if self.pos == before:  # zero-size elements would never reach the end
                raise Fault(MALFORMED, "compact-array of empty elements")
        if self.pos != end:
            raise Fault(MALFORMED, "compact-array contents overrun their length")
        return items

    def _untagged(self, description, depth):
        """A compact-array element: laid out as `description` says, without tag bytes."""
        if depth >= MAX_DEPTH:
            raise Fault(MALFORMED, "compact-array nested too deep")
        if isinstance(description, tuple):
            if description[0] == ARRAY:
                return [self._untagged(description[2], depth + 1) for _ in range(description[1])]
            return tuple(self._untagged(d, depth + 1) for d in description[1:])
        if description == ARRAY or description == STRUCTURE or description == COMPACT_ARRAY:
            raise Fault(MALFORMED, "compact-array element type 0x%02X without description" % description)
        return self.value(description, depth)


def describe(value, depth=0):
    """A short shape of decoded data for 'unknown layout' errors, e.g. 'structure(13: ...)'."""
    if isinstance(value, tuple):
        inner = ", ".join(describe(v, depth + 1) for v in value[:20]) if depth < 2 else "..."
        return "structure(%d: %s%s)" % (len(value), inner, ", ..." if len(value) > 20 else "")
    if isinstance(value, list):
        inner = describe(value[0], depth + 1) if value and depth < 2 else ""
        return "array(%d%s)" % (len(value), (" of " + inner) if inner else "")
    if isinstance(value, bytes):
        return "octet-string(%d)" % len(value)
    if isinstance(value, str):
        return "string(%d)" % len(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return type(value).__name__
