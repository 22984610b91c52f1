"""A-XDR types rare in meter pushes, loaded only when one appears (han.cosem): date, time,
floats, bit-string and the compact-array (tag 0x13: a type description, then elements without
tag bytes); an unknown type is reported here too. And the rare values that hold 6-byte
octet-strings the codes buffer keeps (settled).
"""
from han.errors import Error
from han.values import DateTime

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_BIT_STRING = const(0x04)
_FLOAT32 = const(0x17)
_FLOAT64 = const(0x18)
_DATE = const(0x1A)
_TIME = const(0x1B)
_TYPE = const(4)  # han.details line

ARRAY = 0x01
STRUCTURE = 0x02
COMPACT_ARRAY = 0x13
MAX_DEPTH = 8


def rare_type(reader, tag, depth):
    """The value of a `tag`-typed element whose tag byte `reader` has read (han.cosem.Reader.data)."""
    if tag == _DATE:
        return DateTime(reader.take(5) + b"\xff\xff\xff\xff\x80\x00\xff")
    if tag == _TIME:
        return DateTime(b"\xff\xff\xff\xff\xff" + reader.take(4) + b"\x80\x00\xff")
    if tag == _FLOAT32 or tag == _FLOAT64:
        from han.floats import decimal_from_float_bits
        n = 4 if tag == _FLOAT32 else 8
        return decimal_from_float_bits(reader.unsigned(n), n)
    if tag == _BIT_STRING:
        bits = reader.length()
        raw = reader.take((bits + 7) // 8)
        return "".join("1" if raw[i >> 3] & (0x80 >> (i & 7)) else "0" for i in range(bits))
    if tag == COMPACT_ARRAY:
        return compact_array(reader, depth)
    raise Error("malformed", (_TYPE, tag, reader.pos - 1))


def _type_description(reader, depth):
    """A compact-array's element type: a tag, or nested tuples for arrays and structures."""
    if depth >= MAX_DEPTH:
        raise Error("malformed", "type description nested too deep")
    tag = reader.byte()
    if tag == ARRAY:
        return (ARRAY, reader.unsigned(2), _type_description(reader, depth + 1))
    if tag == STRUCTURE:
        return (STRUCTURE,) + tuple(_type_description(reader, depth + 1) for _ in range(reader.length(True)))
    return tag


def compact_array(reader, depth):
    description = _type_description(reader, depth)
    size = reader.length()
    reader.need(size)
    end = reader.pos + size
    items = []
    while reader.pos < end:
        before = reader.pos
        items.append(_untagged(reader, description, depth + 1))
        if reader.pos == before:  # zero-size elements would never reach the end
            raise Error("malformed", "compact-array of empty elements")
    if reader.pos != end:
        raise Error("malformed", "compact-array contents overrun their length")
    return items


def _untagged(reader, description, depth):
    """A compact-array element: laid out as `description` says, without tag bytes."""
    if depth >= MAX_DEPTH:
        raise Error("malformed", "compact-array nested too deep")
    if isinstance(description, tuple):
        if description[0] == ARRAY:
            return [_untagged(reader, description[2], depth + 1) for _ in range(description[1])]
        return tuple(_untagged(reader, d, depth + 1) for d in description[1:])
    if description in (ARRAY, STRUCTURE, COMPACT_ARRAY):
        raise Error("malformed", "compact-array element type 0x%02X without description" % description)
    return reader.data(depth, description)


def settled(value, codes, k):
    """(value, k after it): a decoded value with each `...` in it (a 6-byte octet-string that
    han.cosem.Reader wrote to `codes`, starting with the k-th code there) as its bytes. A value
    without one is itself; one with them is a copy (the body's lists are the next push's too)."""
    if value is ...:
        return bytes(codes[6 * k:6 * k + 6]), k + 1
    if isinstance(value, (list, tuple)):
        copy = None
        for i in range(len(value)):
            item, k = settled(value[i], codes, k)
            if item is not value[i]:
                if copy is None:
                    copy = list(value)
                copy[i] = item
        if copy is not None:
            value = tuple(copy) if isinstance(value, tuple) else copy
    return value, k
