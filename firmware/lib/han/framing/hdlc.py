"""HDLC frame format type 3 (IEC 62056-46), as meters push it on the HAN port.

    7E | A<S>LL LL | dst (1-4) | src (1-4) | ctrl | HCS (2) | information | FCS (2) | 7E

No byte stuffing: the frame ends where its 11-bit length says, never at the next 0x7E, and
one flag may close one frame and open the next. Both checksums are CRC-16/X.25, low byte first.
"""
from han.crc import crc16_x25
from han.framing.status import NEED_MORE, NOT_A_FRAME, FILL, BAD_HEADER

NAME = "hdlc"
START_BYTES = b"\x7e"
CHECKED = True  # has a checksum of its own
FILL_BYTE = 0x7E  # flags may repeat between frames and close the last one
MAX_FRAME = 2048  # opening flag + the 11-bit length field's maximum
MIN_LENGTH = 7    # format (2) + dst + src + ctrl + FCS (2)


def _header_end(buf, pos, end):
    """Offset after the control byte, NEED_MORE, or NOT_A_FRAME for an over-long address."""
    i = pos + 3
    for _ in range(2):  # destination, then source address: the last byte has its LSB set
        for n in range(4):
            if i >= end:
                return NEED_MORE
            i += 1
            if buf[i - 1] & 1:
                break
        else:
            return NOT_A_FRAME
    return i + 1 if i < end else NEED_MORE


def measure(buf, pos, end):
    """Length of the frame starting at `pos` (closing flag excluded) or a status code."""
    if end - pos < 3:
        return NEED_MORE
    kind = buf[pos + 1]
    if kind & 0xF0 != 0xA0:
        return FILL if kind == 0x7E else NOT_A_FRAME
    total = (((kind & 0x07) << 8) | buf[pos + 2]) + 1
    if total <= MIN_LENGTH:
        return NOT_A_FRAME
    frame_end = pos + total
    header = _header_end(buf, pos, min(end, frame_end))
    if header == NEED_MORE:
        return NEED_MORE if end < frame_end else NOT_A_FRAME
    if header == NOT_A_FRAME or header + 2 > frame_end:
        return NOT_A_FRAME
    if header + 2 == frame_end:  # no information field: the two bytes left are the FCS
        return total
    if header + 2 > end:
        return NEED_MORE
    if crc16_x25(buf, pos + 1, header) != buf[header] | (buf[header + 1] << 8):
        return BAD_HEADER
    return total


def check(buf, pos, total):
    """None if the FCS matches, else what went wrong."""
    fcs = pos + total - 2
    if crc16_x25(buf, pos + 1, fcs) != buf[fcs] | (buf[fcs + 1] << 8):
        return "HDLC footer checksum (FCS) mismatch"
    return None


def payload(buf, pos, total):
    """(start, end, more, sequence) of the information field; `more` = segmentation bit."""
    header = _header_end(buf, pos, pos + total)
    start = header + 2 if header + 2 < pos + total else header
    return start, pos + total - 2, buf[pos + 1] & 0x08, None


HEADER_DETAIL = "HDLC header checksum (HCS) mismatch"
KIND = "dlms"
