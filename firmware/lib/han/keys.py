"""The meter's keys, as grid operators hand them out and as users paste them, and what they
open: general-glo-ciphering (0xDB) and general-ded-ciphering (0xDF), AES-128-GCM per DLMS.

    DB | system title length | system title | BER length | SC | frame counter (4) | data [| tag (12)]

IV = system title || frame counter. SC bit 4: authenticated (12-byte tag, AAD = SC || AK),
bit 5: encrypted, low nibble: security suite (any accepted), bit 7: compression (not supported).

One module: a meter that encrypts needs both (cipher() for its keys, decipher() for its frames),
one that does not needs neither. Keys as users paste them are read by han.key_text.
"""

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_TAG_LENGTH = const(12)  # DLMS truncates the GCM tag to 12 bytes


def cipher(key=None, auth_key=None):  # (named as the config names them)
    """What decipher() opens a meter's frames with (the pipeline's `keys`): a han.crypto.gcm.Gcm
    for the encryption key (GUEK, "GPK60" in Denmark), its tables made now, at boot, that also
    carries `aad`: the security control byte || the authentication key (GAK, "GPK61"), or None
    without one. None without an encryption key: an encrypted frame is then refused (no_key),
    and an authentication-only one needs no key (its tag is not checked). (A function: a class
    of its own would cost the board's heap a class and an instance more.)"""
    if not key:
        return None
    from han.crypto.gcm import Gcm  # only meters that encrypt pay for it
    gcm = Gcm(key)
    gcm.aad = bytearray(1) + auth_key if auth_key else None
    return gcm


def decipher(view, gcm):
    """Decrypt a general-glo/ded-ciphering APDU in place: (plaintext view, system title,
    verified: the authentication tag was checked).

    `gcm` is what cipher() made for the meter's keys (None: no key). With an authentication key
    the tag is verified before any plaintext is released. Without
    one (encryption-only meters, or a grid operator that withholds the key) the plaintext is
    returned unverified and the caller validates it by parsing it. An APDU that cannot be
    deciphered raises the Error that says why (han.cipher_errors, loaded then).
    """
    from han.cosem import Reader  # (here, not at the top: the config's key check needs neither)
    reader = Reader(view, 1)
    title = reader.take(reader.byte())
    size = reader.length()
    if reader.pos + size != len(view):
        from han.cipher_errors import refuse
        refuse(size, len(view) - reader.pos)
    security = reader.byte()
    reader.unsigned(4)  # the invocation (frame) counter: part of the IV
    authenticated = security & 0x10
    end = len(view) - (_TAG_LENGTH if authenticated else 0)
    # Compressed, too short for its tag, neither encrypted nor authenticated, or encrypted
    # without a key or with a title that makes no IV:
    if security & 0x80 or end < reader.pos or not security & 0x30 or \
            security & 0x20 and (gcm is None or len(title) != 8):
        from han.cipher_errors import refuse
        refuse(0, 0, security, end < reader.pos, title, gcm)
    data = view[reader.pos:end]
    if not security & 0x20:  # not encrypted
        return data, title, False  # authentication-only: plaintext in clear (tag not checked)
    iv = title + view[reader.pos - 4:reader.pos]  # (bytes + a view: bytes, no copy between)
    aad = gcm.aad
    if authenticated and aad is not None:
        aad[0] = security
        if not gcm.open(iv, data, aad, view[end:]):
            from han.cipher_errors import refuse
            refuse(0, 0, security, False, title, gcm, iv, data)
        return data, title, True
    gcm.open(iv, data)
    return data, title, False
