"""The meter's keys, as grid operators hand them out and as users paste them."""

HEX_DIGITS = "0123456789abcdefABCDEF"


def parse_key(text, name="key"):
    """16 bytes from 32 hex digits; spaces, colons, dashes and a 0x prefix are accepted.

    Raises ValueError with a sentence saying what is wrong.
    """
    cleaned = text.strip()
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    for separator in (" ", ":", "-"):
        cleaned = cleaned.replace(separator, "")
    if len(cleaned) != 32 or any(c not in HEX_DIGITS for c in cleaned):
        raise ValueError("%s must be 32 hex digits (16 bytes), got %d characters: %r"
                         % (name, len(cleaned), text))
    return bytes.fromhex(cleaned)


class Keys:
    """Encryption key (GUEK, "GPK60" in Denmark) and optional authentication key (GAK, "GPK61")."""

    def __init__(self, encryption=None, authentication=None):
        self.encryption = encryption
        self.authentication = authentication
        self._gcm = None
        self.aad = bytearray(1 + 16)  # security control byte || authentication key
        if authentication:
            self.aad[1:] = authentication

    def gcm(self):
        """The cipher for the encryption key, built once (its tables are best made at boot)."""
        if self._gcm is None:
            from han.crypto.gcm import Gcm  # only meters that encrypt pay for it
            self._gcm = Gcm(self.encryption)
        return self._gcm
