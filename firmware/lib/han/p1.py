"""P1 telegrams inside the pipeline: plain ones, decrypted ones (their CRC proves the key), and
Elgama's P1 header followed by a ciphered APDU. Imported only when a telegram arrives, or what
looks like one's start: the scanner's search for a telegram's end and its CRC check are here
(han.framing formats), so that meters that send no telegram do not keep them.
"""
from han.errors import Error, load
from han.framing import crc16, crc16_x25, measure


try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_DSMR = const(2)  # han.framing's format number for telegrams (its NAMES[2])
_WRONG_KEY = const(34)  # han.details lines
_NO_END = const(35)
_MAX_FRAME = const(2048)  # han.framing's, and what measure() returns when it has no length:
_NEED_MORE = const(0)     # could be a frame: wait for more bytes
_NOT_A_FRAME = const(-1)  # this start byte is noise


def peel(telegram, verified, layers, keys):
    """What a P1 telegram in the pipeline comes to: its Reading; or, for Elgama's P1 header
    followed by a ciphered APDU without its tag byte, the deciphered APDU as
    (plaintext, system title, verified) for the pipeline's next layer."""
    body = binary_body(telegram)
    if body < 0:
        return reading(telegram, verified, layers)
    layers.append("dsmr-header")
    layers.append("glo-ciphering")
    from han.keys import decipher
    return decipher(telegram[body - 1:closing_mark(telegram)], keys)


def reading(plain, verified, layers):
    """A Reading from a P1 telegram. `verified` is None for a telegram sent in clear, else
    whether the decryption's authentication tag was checked: when it was not, the telegram's
    own CRC proves the key right."""
    if verified is not None:
        plain = bytes(plain)  # a decrypted telegram, checked as the framing checks a plain one
        size = measure(_DSMR, plain, 0, len(plain))
        problem = check_telegram(plain, 0, size) if size > 0 else _NO_END
        if problem and not verified:
            raise Error("decrypt", (_WRONG_KEY, load("details").text(problem)))
        if problem:
            raise Error("checksum", problem)
        plain = plain[:size]
    from han import dsmr
    result = dsmr.parse(plain)
    layers.append("dsmr")
    result.layers = layers
    return result


def binary_body(telegram):
    """Where the data of a P1 telegram starts if it is binary (ciphered), else -1."""
    n = len(telegram)
    for i in range(5, min(n, 128) - 3):
        if telegram[i] == 0x0D and telegram[i + 1] == 0x0A and telegram[i + 2] == 0x0D and telegram[i + 3] == 0x0A:
            body = i + 4
            return body if body < n and (telegram[body] < 0x20 or telegram[body] > 0x7E) else -1
    return -1


def closing_mark(telegram):
    """Position of the "!" that closes a telegram."""
    i = len(telegram) - 3
    while i > 0 and telegram[i] != 0x21:
        i -= 1
    return i


def measure_telegram(buf, pos, end):
    """han.framing.measure() of a telegram whose first five bytes ("/XXX5") are right: its length,
    or _NEED_MORE, or _NOT_A_FRAME."""
    limit = min(end, pos + _MAX_FRAME)
    search = pos + 5
    while True:
        bang = buf.find(b"!", search, limit)
        if bang < 0:
            return _NEED_MORE if limit == end and end < pos + _MAX_FRAME else _NOT_A_FRAME
        i = bang + 1
        while i < end and i - bang <= 4 and _hex(buf[i]) >= 0:
            i += 1
        if i + 2 > end:
            return _NEED_MORE if end < pos + _MAX_FRAME else _NOT_A_FRAME
        if i - bang <= 5 and buf[i] == 0x0D and buf[i + 1] == 0x0A:
            return i + 2 - pos
        search = bang + 1


def check_telegram(buf, pos, size):
    """han.framing.check() of a telegram: None if its CRC holds, else an Error's detail. The CRC
    is the closing "!"'s hex digits; some meters (Iskra in Slovenia) send none."""
    last = pos + size - 2
    sent = 0
    shift = 0
    while buf[last - 1] != 0x21:  # '!'
        last -= 1
        sent |= _hex(buf[last]) << shift
        shift += 4
    if shift:
        computed = crc16_arc(buf, pos, last)
        if computed != sent:
            x25 = crc16_x25(buf, pos, last)
            if ((x25 & 0xFF) << 8) | (x25 >> 8) != sent:
                return 22, sent, computed  # DSMR telegram checksum mismatch
    return None


def crc16_arc(buf, start, end):
    """DSMR P1's: sent as 4 hex digits."""
    return crc16(buf, start, end, 0xA001, 0, 0)


def _hex(b):
    """The value of a hex digit's byte, or -1."""
    if 0x30 <= b <= 0x39:
        return b - 0x30
    b |= 0x20
    return b - 0x57 if 0x61 <= b <= 0x66 else -1
