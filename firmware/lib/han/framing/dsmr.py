"""P1/DSMR ASCII telegrams: "/XXXZ ident" ... "!CRC" CR LF (IEC 62056-21 mode D, DSMR 2.2-5).

The telegram ends at the first "!" followed by up to four hex digits and CR LF. Its CRC is
CRC-16/ARC over "/" through "!" (DSMR 5); meters without a CRC send "!" CR LF. Elgama sends a
CRC-16/X.25 with its bytes swapped in the hex text, over the same span.
"""
from han.crc import crc16_arc, crc16_x25
from han.framing.status import NEED_MORE, NOT_A_FRAME

NAME = "dsmr"
KIND = "dsmr"
START_BYTES = b"/"
CHECKED = True  # has a checksum of its own
FILL_BYTE = -1
MAX_FRAME = 2048  # the longest real telegram seen is 1.4 KB (Hungary); Fluvius ~1.1 KB
HEADER_DETAIL = ""


def _is_letter(b):
    return 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def _hex_value(b):
    if 0x30 <= b <= 0x39:
        return b - 0x30
    b |= 0x20
    return b - 0x57 if 0x61 <= b <= 0x66 else -1


def measure(buf, pos, end):
    if end - pos < 5:
        return NEED_MORE
    if not (_is_letter(buf[pos + 1]) and _is_letter(buf[pos + 2]) and _is_letter(buf[pos + 3])
            and 0x20 < buf[pos + 4] < 0x7F):
        return NOT_A_FRAME
    limit = min(end, pos + MAX_FRAME)
    search = pos + 5
    while True:
        bang = buf.find(b"!", search, limit)
        if bang < 0:
            return NEED_MORE if limit == end and end < pos + MAX_FRAME else NOT_A_FRAME
        i = bang + 1
        while i < end and i - bang <= 4 and _hex_value(buf[i]) >= 0:
            i += 1
        if i + 2 > end:
            return NEED_MORE if end < pos + MAX_FRAME else NOT_A_FRAME
        if i - bang <= 5 and buf[i] == 0x0D and buf[i + 1] == 0x0A:
            return i + 2 - pos
        search = bang + 1


def _end_mark(buf, pos, total):
    """Position of the closing "!" and the CRC its hex digits give (None if there are none)."""
    i = pos + total - 2
    value = 0
    shift = 0
    while buf[i - 1] != 0x21:  # '!'
        i -= 1
        value |= _hex_value(buf[i]) << shift
        shift += 4
    return i - 1, (value if shift else None)


def check(buf, pos, total):
    bang, sent = _end_mark(buf, pos, total)
    if sent is None:
        return None  # some meters (Iskra in Slovenia) send no CRC
    computed = crc16_arc(buf, pos, bang + 1)
    if computed == sent:
        return None
    x25 = crc16_x25(buf, pos, bang + 1)
    if ((x25 & 0xFF) << 8) | (x25 >> 8) == sent:
        return None
    return "DSMR telegram checksum mismatch (sent %04X, computed %04X)" % (sent, computed)


def payload(buf, pos, total):
    return pos, pos + total, False, None
