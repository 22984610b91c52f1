"""P1 telegrams inside the pipeline: plain ones, decrypted ones (their CRC proves the key), and
Elgama's P1 header followed by a ciphered APDU. Imported only when a telegram arrives.
"""
from han.errors import Error, text
from han.framing import DSMR, check, measure


try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_WRONG_KEY = const(34)  # han.details lines
_NO_END = const(35)


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
        size = measure(DSMR, plain, 0, len(plain))
        problem = check(DSMR, plain, 0, size) if size > 0 else _NO_END
        if problem and not verified:
            raise Error("decrypt", (_WRONG_KEY, text(problem)))
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
