"""General-glo-ciphering APDUs sent bare on the serial line (Luxembourg "Smarty", Styria P1).

    DB 08 <system title> <BER length> SC FC ... : the length delimits the frame.

There is no checksum: decryption validates the frame (its tag, or the telegram's own CRC). To
keep noise from being taken for such a frame, the system title must start with a three-letter
manufacturer id and the security byte must be a known one.
"""
from han.framing.status import NEED_MORE, NOT_A_FRAME

NAME = "ciphered"
KIND = "dlms"
START_BYTES = b"\xdb"
CHECKED = False  # no checksum: never started inside a rejected frame
FILL_BYTE = -1
MAX_FRAME = 2048
HEADER_DETAIL = ""


def _is_upper(b):
    return 0x41 <= b <= 0x5A


def measure(buf, pos, end):
    if end - pos < 14:
        return NEED_MORE
    if buf[pos + 1] != 8 or not (_is_upper(buf[pos + 2]) and _is_upper(buf[pos + 3]) and _is_upper(buf[pos + 4])):
        return NOT_A_FRAME
    first = buf[pos + 10]
    if first < 0x80:
        size, header = first, 11
    elif first == 0x81:
        size, header = buf[pos + 11], 12
    elif first == 0x82:
        size, header = (buf[pos + 11] << 8) | buf[pos + 12], 13
    else:
        return NOT_A_FRAME
    security = buf[pos + header]
    if security & 0x8F > 2 or not security & 0x30:  # suites 0-2, no compression; auth and/or enc
        return NOT_A_FRAME
    return header + size


def check(buf, pos, total):
    return None


def payload(buf, pos, total):
    return pos, pos + total, False, None
