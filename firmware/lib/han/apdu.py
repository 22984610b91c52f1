"""From a link-layer message to a plain APDU: LLC header, block transfer, ciphering.

Layers are peeled in a loop (GBT may carry a ciphered APDU and a ciphered APDU may be a GBT
block), each in place in the buffer that holds the message, so nothing is copied twice.
"""
from han.axdr import Reader
from han.errors import Error, Fault, AUTH, DECRYPT, MALFORMED, NO_KEY, SEQUENCE, TOO_LONG, UNKNOWN

GENERAL_BLOCK_TRANSFER = 0xE0
GENERAL_GLO_CIPHERING = 0xDB
GENERAL_DED_CIPHERING = 0xDF
LLC_PREFIXES = (b"\xe6\xe7\x00", b"\xe6\xe6\x00")
TAG_LENGTH = 12  # DLMS truncates the GCM tag to 12 bytes


def strip_llc(view):
    if len(view) >= 3 and view[0] == 0xE6 and view[2] == 0x00 and view[1] in (0xE6, 0xE7):
        return view[3:]
    return view


class BlockTransfer:
    """General-block-transfer reassembly: blocks 1, 2, ... until the last-block bit."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = None  # allocated once, at the first block (most meters never send GBT)
        self.length = 0
        self.next_block = 1
        self.lost = None  # an Error to report: a partial message given up for a new one

    def abandon(self):
        """Drop a partial message; returns a description if one was pending."""
        pending = self.next_block > 1
        self.length = 0
        self.next_block = 1
        return pending

    def add(self, view):
        """One GBT APDU; returns the reassembled APDU after the last block, else None."""
        reader = Reader(view, 1)
        control = reader.byte()
        block = reader.unsigned(2)
        reader.unsigned(2)  # block number acknowledged: meaningful only for two-way links
        size = reader.length()
        if reader.pos + size != len(view):
            raise Fault(MALFORMED, "GBT block %d says %d bytes, carries %d" % (block, size, len(view) - reader.pos))
        if block == 1:  # block 1 always starts over (a meter restarting its push)
            if self.next_block > 1:
                self.lost = Error(SEQUENCE, "GBT message abandoned after block %d: block 1 started "
                                            "a new one" % (self.next_block - 1))
            self.length = 0
        elif block != self.next_block:
            expected = self.next_block
            self.abandon()
            if expected == 1:
                raise Fault(SEQUENCE, "GBT block %d arrived without block 1" % block)
            raise Fault(SEQUENCE, "GBT block %d arrived, expected %d: a block is missing" % (block, expected))
        if self.buf is None:
            self.buf = bytearray(self.capacity)
        if self.length + size > self.capacity:
            self.abandon()
            raise Fault(TOO_LONG, "GBT message longer than %d bytes" % self.capacity)
        self.buf[self.length:self.length + size] = view[reader.pos:]
        self.length += size
        self.next_block = block + 1
        if not control & 0x80:
            return None
        n = self.length
        self.abandon()
        return memoryview(self.buf)[:n]


class Ciphered:
    """What a ciphering layer found, for readings and diagnosis."""

    def __init__(self):
        self.system_title = None
        self.security = 0
        self.counter = 0
        self.verified = False  # the authentication tag was checked


def decipher(view, keys, found):
    """Decrypt a general-glo/ded-ciphering APDU in place; returns the plaintext view.

    With an authentication key the tag is verified before any plaintext is released. Without
    one (encryption-only meters, or a grid operator that withholds the key) the plaintext is
    returned unverified and the caller validates it by parsing it.
    """
    reader = Reader(view, 1)
    title_length = reader.byte()
    found.system_title = reader.take(title_length)
    size = reader.length()
    if reader.pos + size != len(view):
        raise Fault(MALFORMED, "ciphered APDU says %d bytes, carries %d" % (size, len(view) - reader.pos))
    security = found.security = reader.byte()
    found.counter = reader.unsigned(4)
    if security & 0x80:
        raise Fault(UNKNOWN, "compressed ciphered APDU (security control 0x%02X)" % security)
    authenticated = security & 0x10
    encrypted = security & 0x20
    end = len(view) - (TAG_LENGTH if authenticated else 0)
    if end < reader.pos:
        raise Fault(MALFORMED, "ciphered APDU too short for its tag")
    if not encrypted:
        if not authenticated:
            raise Fault(UNKNOWN, "ciphered APDU with security control 0x%02X" % security)
        return view[reader.pos:end]  # authentication-only: plaintext in clear (tag not checked)
    if not keys or not keys.encryption:
        raise Fault(NO_KEY, "encrypted frame, no key configured (system title %s)" % _title(found.system_title))
    if title_length != 8:
        raise Fault(UNKNOWN, "system title of %d bytes: cannot form the GCM IV" % title_length)
    iv = bytes(found.system_title) + bytes(view[reader.pos - 4:reader.pos])
    data = view[reader.pos:end]
    gcm = keys.gcm()
    if authenticated and keys.authentication:
        aad = keys.aad
        aad[0] = security
        if not gcm.open(iv, data, aad, view[end:]):
            gcm.open(iv, data)  # to tell which key is wrong; this plaintext is never used
            if _plausible(data):
                raise Fault(AUTH, "authentication failed: the frame decrypts but its tag does not "
                                  "verify: check the authentication key (GAK, GPK61)")
            raise Fault(DECRYPT, "wrong encryption key (GUEK, GPK60): the authentication tag "
                                 "fails and the plaintext is not DLMS")
        found.verified = True
        return data
    gcm.open(iv, data)
    return data


def _plausible(view):
    return len(view) > 0 and view[0] in (0x0F, GENERAL_BLOCK_TRANSFER, 0x2F)


def _title(title):
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in title[:3])
    return "%s (%s)" % (bytes(title).hex().upper(), text)
