"""Lists whose values are known by their position (han.cosem.entries, layouts 1 and 2).

Capture objects: the L&G and Iskra Swiss/Austrian customer interface pushes a structure whose
item 0 is the push object list (array of {class, OBIS, attribute, data index}) and item i the
value of capture object i. Attribute 2 is a value; attribute 3 of a register is its scaler-unit.

Bare values: a table per meter family (Kaifa in Norway, Iskraemeco in Slovenia, Wiener Netze);
the first value may be the list's own code.

Loaded only when such a list arrives, so meters that send OBIS codes do not pay for this.
"""
from han.cosem import _octets, _same, _text
from han.values import Quantity

SKIP = bytes(6)  # in a layout: a position whose value is not reported

# Positional layouts: the OBIS code (6 bytes) of each position, SKIP where nothing is reported.
_KAIFA_HEAD = (b"\x01\x01\x00\x02\x81\xff"  # 1-1:0.2.129 list version id
               b"\x00\x00\x60\x01\x00\xff"  # 0-0:96.1.0 meter id
               b"\x00\x00\x60\x01\x07\xff"  # 0-0:96.1.7 meter type
               b"\x01\x00\x01\x07\x00\xff"  # 1-0:1.7.0 active power +
               b"\x01\x00\x02\x07\x00\xff"  # 1-0:2.7.0 active power -
               b"\x01\x00\x03\x07\x00\xff"  # 1-0:3.7.0 reactive power +
               b"\x01\x00\x04\x07\x00\xff"  # 1-0:4.7.0 reactive power -
               b"\x01\x00\x1f\x07\x00\xff")  # 1-0:31.7.0 current L1
_KAIFA_1P = b"\x01\x00\x20\x07\x00\xff"  # 1-0:32.7.0 voltage L1
_KAIFA_3P = (b"\x01\x00\x33\x07\x00\xff"  # 1-0:51.7.0 current L2
             b"\x01\x00\x47\x07\x00\xff"  # 1-0:71.7.0 current L3
             b"\x01\x00\x20\x07\x00\xff"  # 1-0:32.7.0 voltage L1
             b"\x01\x00\x34\x07\x00\xff"  # 1-0:52.7.0 voltage L2
             b"\x01\x00\x48\x07\x00\xff")  # 1-0:72.7.0 voltage L3
_HOURLY = (b"\x00\x00\x01\x00\x00\xff"  # 0-0:1.0.0 clock
           b"\x01\x00\x01\x08\x00\xff"  # 1-0:1.8.0 active energy +
           b"\x01\x00\x02\x08\x00\xff"  # 1-0:2.8.0 active energy -
           b"\x01\x00\x03\x08\x00\xff"  # 1-0:3.8.0 reactive energy +
           b"\x01\x00\x04\x08\x00\xff")  # 1-0:4.8.0 reactive energy -
_WIENER_NETZE = (SKIP                            # 0-6:25.9.0, the list's own code
                 + b"\x00\x00\x60\x01\x00\xff"  # 0-0:96.1.0 meter number
                 + SKIP + SKIP                   # time, date (the header has both)
                 + _HOURLY[6:]                   # energies +A, -A, +R, -R
                 + b"\x01\x00\x01\x07\x00\xff"  # 1-0:1.7.0 active power +
                 b"\x01\x00\x02\x07\x00\xff")   # 1-0:2.7.0 active power -
_WIENER_NETZE_LIST = b"\x00\x06\x19\x09\x00\xff"
_ISKRA_SI_POWER = (b"\x00\x00\x2a\x00\x00\xff"  # 0-0:42.0.0 logical device name
                   b"\x00\x00\x60\x01\x00\xff"  # 0-0:96.1.0 meter id
                   b"\x01\x00\x01\x07\x00\xff"  # 1-0:1.7.0 active power +
                   b"\x01\x00\x02\x07\x00\xff"  # 1-0:2.7.0 active power -
                   b"\x01\x00\x03\x07\x00\xff"  # 1-0:3.7.0 reactive power +
                   b"\x01\x00\x04\x07\x00\xff"  # 1-0:4.7.0 reactive power -
                   b"\x01\x00\x20\x07\x00\xff"  # 1-0:32.7.0 voltage L1
                   b"\x01\x00\x34\x07\x00\xff"  # 1-0:52.7.0 voltage L2
                   b"\x01\x00\x48\x07\x00\xff"  # 1-0:72.7.0 voltage L3
                   b"\x01\x00\x1f\x07\x00\xff"  # 1-0:31.7.0 current L1
                   b"\x01\x00\x33\x07\x00\xff"  # 1-0:51.7.0 current L2
                   b"\x01\x00\x47\x07\x00\xff"  # 1-0:71.7.0 current L3
                   b"\x01\x00\x15\x07\x00\xff"  # 1-0:21.7.0 active power + L1
                   b"\x01\x00\x29\x07\x00\xff"  # 1-0:41.7.0 active power + L2
                   b"\x01\x00\x3d\x07\x00\xff"  # 1-0:61.7.0 active power + L3
                   b"\x01\x00\x16\x07\x00\xff"  # 1-0:22.7.0 active power - L1
                   b"\x01\x00\x2a\x07\x00\xff"  # 1-0:42.7.0 active power - L2
                   b"\x01\x00\x3e\x07\x00\xff")  # 1-0:62.7.0 active power - L3
_ISKRA_SI_ENERGY = (b"\x00\x00\x2a\x00\x00\xff"  # 0-0:42.0.0 logical device name
                    b"\x00\x00\x60\x01\x00\xff"  # 0-0:96.1.0 meter id
                    b"\x00\x00\x60\x03\x0a\xff"  # 0-0:96.3.10 disconnect control
                    b"\x00\x00\x60\x0e\x00\xff"  # 0-0:96.14.0 current tariff
                    b"\x01\x00\x01\x08\x00\xff"  # 1-0:1.8.0 active energy +
                    b"\x01\x00\x01\x08\x01\xff"  # 1-0:1.8.1 active energy + tariff 1
                    b"\x01\x00\x01\x08\x02\xff"  # 1-0:1.8.2 active energy + tariff 2
                    b"\x01\x00\x02\x08\x00\xff"  # 1-0:2.8.0 active energy -
                    b"\x01\x00\x02\x08\x01\xff"  # 1-0:2.8.1 active energy - tariff 1
                    b"\x01\x00\x02\x08\x02\xff"  # 1-0:2.8.2 active energy - tariff 2
                    b"\x01\x00\x03\x08\x00\xff"  # 1-0:3.8.0 reactive energy +
                    b"\x01\x00\x04\x08\x00\xff")  # 1-0:4.8.0 reactive energy -

# (first item, item count, layout). The first item identifies the list: a list version prefix,
# a 6-byte OBIS code, or None when the list starts with a value.
POSITIONAL_LISTS = (
    # Kaifa KFM_001 (Norway): list 1 is active power import alone, without a list id.
    (None, 1, _KAIFA_HEAD[18:24]),
    ("KFM_", 9, _KAIFA_HEAD + _KAIFA_1P),
    ("KFM_", 13, _KAIFA_HEAD + _KAIFA_3P),
    ("KFM_", 14, _KAIFA_HEAD + _KAIFA_1P + _HOURLY),
    ("KFM_", 18, _KAIFA_HEAD + _KAIFA_3P + _HOURLY),
    # Iskraemeco AM550 in Slovenia: lists without OBIS codes, starting with the logical device
    # name: 18 instantaneous values, or 12 with the energy registers (every 15 minutes).
    ("ISK", 18, _ISKRA_SI_POWER),
    ("ISK", 12, _ISKRA_SI_ENERGY),
    # Wiener Netze (Iskraemeco AM550, Siemens IM350) start with their push list's code
    # 0-6:25.9.0; the 12-item variant ends with two empty octet-strings.
    (_WIENER_NETZE_LIST, 10, _WIENER_NETZE),
    (_WIENER_NETZE_LIST, 12, _WIENER_NETZE + SKIP + SKIP),
)


def layout(first, count):
    """OBIS codes (6 bytes per position) for a list of bare values, or None.

    `first` is the list's first item: its text for a string, its 6 bytes for an OBIS code,
    None for a value.
    """
    for key, size, codes in POSITIONAL_LISTS:
        if size != count:
            continue
        if key is None and first is None or isinstance(key, bytes) and key == first \
                or isinstance(key, str) and isinstance(first, str) and first.startswith(key):
            return codes
    return None


def captured(body, codes, earlier):
    """[obis, value, scaler_unit, ...] of a list described by its capture objects, or None.
    An obis is where the code is in `codes`, the codes buffer of the body's `...`
    (han.cosem.Reader.data); `earlier`: the last reading."""
    objects = body[0]
    n = len(body)
    for item in objects:  # {class id, code, attribute, data index}: code k is object k's
        if not (isinstance(item, tuple) and len(item) == 4 and item[1] is ... and
                isinstance(item[0], int) and isinstance(item[2], int) and isinstance(item[3], int)):
            return None
    out = []
    k = n  # the values' codes come after the objects'
    for i in range(n):
        value = body[i]
        class_id, attribute = objects[i][0], objects[i][2]
        reported = class_id != 40 and attribute == 2  # 40: the push setup object (the list itself)
        if value is ...:  # (a code as a value: the push setup's, often)
            if reported:
                value = _octets(codes, 6 * k, earlier)
            k += 1
        elif (reported or i) and (isinstance(value, list) or isinstance(value, tuple)):
            from han.compact import settled
            if i:
                value, k = settled(value, codes, k)
            else:  # the objects themselves
                value = settled(value, codes, 0)[0]
        if not reported:
            continue
        scaler_unit = None
        for j in range(n):
            if objects[j][2] == 3 and isinstance(body[j], Quantity) and _same(codes, 6 * i, codes, 6 * j):
                scaler_unit = body[j]
        out.append(6 * i)
        out.append(value)
        out.append(scaler_unit)
    return out


def bare(body, codes):
    """[obis, value, None, ...] of a list of bare values the table knows, or None. The table's
    codes go to `codes`, the codes buffer (han.cosem.Reader.data), where each obis says."""
    n = len(body)
    head = first = body[0]
    if first is ...:  # the list's own code (the only `...`: han.cosem.entries sends no list with more)
        head = first = bytes(codes[0:6])
    else:
        first = (_text(first) or False) if isinstance(first, (str, bytes)) else None
    table = layout(first, n) if first is not False else None  # unprintable text names no list
    if table is None:
        return None
    codes[:] = table  # (the buffer keeps its room: the next push's codes go there too)
    out = []
    for i in range(n):
        if table[6 * i + 5]:  # (a code ends in 0xFF, SKIP in 0)
            out.append(6 * i)
            out.append(body[i] if i else head)
            out.append(None)
    return out
