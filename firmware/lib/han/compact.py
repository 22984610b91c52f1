"""A-XDR compact-array (tag 0x13): a type description, then elements without tag bytes.

Rare in meter pushes, so loaded only when one appears.
"""
from han.errors import Error

ARRAY = 0x01
STRUCTURE = 0x02
COMPACT_ARRAY = 0x13
MAX_DEPTH = 8


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
