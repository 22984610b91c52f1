"""A-XDR float32/float64 as exact decimals (rare in pushes; imported when one appears).

The ESP32's floats are 32-bit, so the IEEE-754 bits are converted with integer arithmetic only.
"""
from han.values import Decimal


def decimal_from_float_bits(bits, size):
    """IEEE-754 bits (size 4 or 8 bytes) -> Decimal with 7 or 15 significant digits, or None."""
    exponent_bits, mantissa_bits, digits = (8, 23, 7) if size == 4 else (11, 52, 15)
    negative = bits >> (exponent_bits + mantissa_bits)
    exponent = (bits >> mantissa_bits) & ((1 << exponent_bits) - 1)
    mantissa = bits & ((1 << mantissa_bits) - 1)
    if exponent == (1 << exponent_bits) - 1:
        return None  # infinity or not-a-number: no reading
    if exponent:
        mantissa |= 1 << mantissa_bits
    else:
        exponent = 1
    exponent -= (1 << (exponent_bits - 1)) - 1 + mantissa_bits  # value = mantissa × 2^exponent
    if mantissa == 0:
        return Decimal(0, 0)
    if exponent >= 0:
        number, places = mantissa << exponent, 0
    else:
        number, places = mantissa * 5 ** -exponent, -exponent  # m / 2^k = m × 5^k / 10^k
    drop = len(str(number)) - digits
    if drop > 0:
        number, rest = divmod(number, 10 ** drop)
        half = 5 * 10 ** (drop - 1)
        if rest > half or (rest == half and number & 1):
            number += 1
        places -= drop
    while number % 10 == 0 and places > 0:
        number //= 10
        places -= 1
    return Decimal(-number if negative else number, -places)
