"""Keys as grid operators hand them out and users paste them: 32 hex digits, perhaps with
spaces, colons, dashes or a 0x prefix.

A module of its own: the config's checks and the meter's start read keys, then unload it (a
meter that encrypts keeps han.keys loaded, and this would stay with it for nothing).
"""

HEX_DIGITS = "0123456789abcdefABCDEF"


def key_digits(text):
    """`text` without its 0x prefix, spaces, colons and dashes: what should be 32 hex digits."""
    digits = text.strip()
    if digits[:2] in ("0x", "0X"):
        digits = digits[2:]
    for separator in " :-":
        digits = digits.replace(separator, "")
    return digits


def parse_key(text, name="key"):
    """16 bytes from a pasted key; raises ValueError with a sentence saying what is wrong."""
    digits = key_digits(text)
    # str.strip, not a loop over the characters: MicroPython interns each character taken out
    # of a str as a name, for good
    if len(digits) != 32 or digits.strip(HEX_DIGITS):
        raise ValueError("%s must be 32 hex digits (16 bytes), got %d characters: %r"
                         % (name, len(digits), text))
    return bytes.fromhex(digits)
