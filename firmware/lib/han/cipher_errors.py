"""Why han.keys.decipher refuses a ciphered APDU: the Error it raises, made here. Loaded only
when an APDU is refused, so the decoder does not keep these paths (a meter whose frames decipher
never takes them). The numbers are lines of han.details.
"""
from han.errors import Error


def refuse(size, left, security=0, short=False, title=None, gcm=None, iv=None, data=None):
    """Raise the Error for the first thing wrong, in the order decipher meets them: the BER
    length `size` against the `left` bytes after it; then the security control byte, the room
    for the tag (`short`), the key (a Gcm or None) and the system title; then, with `iv` and
    `data`, the authentication tag that did not verify."""
    if size != left:
        raise Error("malformed", (5, size, left))  # ciphered APDU says n bytes, carries m
    if security & 0x80:
        raise Error("unknown", (6, security))  # compressed
    if short:
        raise Error("malformed", 7)  # too short for its tag
    if not security & 0x30:
        raise Error("unknown", (8, security))  # neither encrypted nor authenticated
    if gcm is None:
        text = ""
        for b in title[:3]:
            text += chr(b) if 0x20 <= b < 0x7F else "."
        raise Error("no_key", (9, title.hex().upper(), text))  # names the system title
    if iv is None:
        raise Error("unknown", (10, len(title)))  # a system title that makes no GCM IV
    gcm.open(iv, data)  # to tell which key is wrong; this plaintext is never used
    if len(data) and data[0] in (0x0F, 0xE0, 0x2F):  # notification, GBT, P1 telegram
        raise Error("auth", 11)  # the authentication key is wrong
    raise Error("decrypt", 12)  # the encryption key is wrong
