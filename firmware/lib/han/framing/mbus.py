"""M-Bus long frames carrying DLMS (EN 13757-2 link, DLMS/COSEM M-Bus wrapper).

    68 L L 68 | C A CI STSAP DTSAP | APDU part | CS 16

L counts C through the end of the data; CS is their sum mod 256. CI 000F SSSS: F = last
segment (FIN), SSSS = segment number, so one APDU arrives as CI 0x10, or 0x00, 0x01, ... 0x1n.
"""
from han.errors import Fault, UNKNOWN
from han.framing.status import NEED_MORE, NOT_A_FRAME

NAME = "mbus"
KIND = "dlms"
START_BYTES = b"\x68"
CHECKED = True  # has a checksum of its own
FILL_BYTE = -1
MAX_FRAME = 259 + 6
HEADER_DETAIL = ""  # the M-Bus header has no checksum of its own


def _length_field(buf, pos):
    length = buf[pos + 1]
    # Some Austrian meters put only the low byte of 256+ into L (seen at L = 1 for 257):
    # a real L is never below 3 (C, A, CI), so the missing 256 is unambiguous.
    return length + 256 if length < 4 else length


def measure(buf, pos, end):
    if end - pos < 4:
        return NEED_MORE
    if buf[pos + 3] != 0x68 or buf[pos + 1] != buf[pos + 2]:
        return NOT_A_FRAME
    return _length_field(buf, pos) + 6


def check(buf, pos, total):
    last = pos + total - 2
    if buf[last + 1] != 0x16:
        return "M-Bus frame has no stop byte (0x16)"
    if sum(memoryview(buf)[pos + 4:last]) & 0xFF != buf[last]:
        return "M-Bus footer checksum mismatch"
    return None


def payload(buf, pos, total):
    """(start, end, more, sequence) of the APDU part after STSAP/DTSAP."""
    ci = buf[pos + 6]
    if ci & 0xE0 or total < 11:
        raise Fault(UNKNOWN, "M-Bus frame with CI 0x%02X is not a DLMS transport segment" % ci)
    return pos + 9, pos + total - 2, not ci & 0x10, ci & 0x0F
