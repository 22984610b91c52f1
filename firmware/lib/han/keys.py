"""The meter's keys, as grid operators hand them out and as users paste them, and what they
open: general-glo-ciphering (0xDB) and general-ded-ciphering (0xDF), AES-128-GCM per DLMS.

    DB | system title length | system title | BER length | SC | frame counter (4) | data [| tag (12)]

IV = system title || frame counter. SC bit 4: authenticated (12-byte tag, AAD = SC || AK),
bit 5: encrypted, low nibble: security suite (any accepted), bit 7: compression (not supported).

One module: a meter that encrypts needs both, one that does not needs neither. Keys as users
paste them are read by han.key_text.
"""

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_TAG_LENGTH = const(12)  # DLMS truncates the GCM tag to 12 bytes
# han.details lines
_SAYS = const(5)
_COMPRESSED = const(6)
_SHORT = const(7)
_SECURITY = const(8)
_NO_KEY = const(9)
_TITLE = const(10)
_AUTH = const(11)
_WRONG_KEY = const(12)

class Keys:
    """Encryption key (GUEK, "GPK60" in Denmark) and optional authentication key (GAK, "GPK61")."""

    def __init__(self, key=None, auth_key=None):  # (named as the config names them)
        self.gcm = None  # the cipher for the encryption key: its tables are made now, at boot
        if key:
            from han.crypto.gcm import Gcm  # only meters that encrypt pay for it
            self.gcm = Gcm(key)
        self.aad = None  # with an authentication key: security control byte || that key
        if auth_key:
            self.aad = bytearray(1) + auth_key


def decipher(view, keys):
    """Decrypt a general-glo/ded-ciphering APDU in place: (plaintext view, system title,
    verified: the authentication tag was checked).

    With an authentication key the tag is verified before any plaintext is released. Without
    one (encryption-only meters, or a grid operator that withholds the key) the plaintext is
    returned unverified and the caller validates it by parsing it.
    """
    from han.cosem import Reader  # (here, not at the top: the config's key check needs neither)
    from han.errors import Error
    reader = Reader(view, 1)
    title_length = reader.byte()
    title = reader.take(title_length)
    size = reader.length()
    if reader.pos + size != len(view):
        raise Error("malformed", (_SAYS, size, len(view) - reader.pos))
    security = reader.byte()
    reader.unsigned(4)  # the invocation (frame) counter: part of the IV
    if security & 0x80:
        raise Error("unknown", (_COMPRESSED, security))
    authenticated = security & 0x10
    end = len(view) - (_TAG_LENGTH if authenticated else 0)
    if end < reader.pos:
        raise Error("malformed", _SHORT)
    data = view[reader.pos:end]
    if not security & 0x20:  # not encrypted
        if not authenticated:
            raise Error("unknown", (_SECURITY, security))
        return data, title, False  # authentication-only: plaintext in clear (tag not checked)
    if not keys or keys.gcm is None:
        text = ""
        for b in title[:3]:
            text += chr(b) if 0x20 <= b < 0x7F else "."
        raise Error("no_key", (_NO_KEY, title.hex().upper(), text))
    if title_length != 8:
        raise Error("unknown", (_TITLE, title_length))
    iv = title + bytes(view[reader.pos - 4:reader.pos])
    gcm = keys.gcm
    aad = keys.aad
    if authenticated and aad is not None:
        aad[0] = security
        if not gcm.open(iv, data, aad, view[end:]):
            gcm.open(iv, data)  # to tell which key is wrong; this plaintext is never used
            if len(data) and data[0] in (0x0F, 0xE0, 0x2F):  # notification, GBT, P1 telegram
                raise Error("auth", _AUTH)
            raise Error("decrypt", _WRONG_KEY)
        return data, title, True
    gcm.open(iv, data)
    return data, title, False
