"""What went wrong, for people: the detail of an Error, by number (text(), below).

Imported when an error is made and forgotten right after: these sentences take no heap while
frames decode. A layer passes the number (or a tuple of the number and the values to fill in)
where it would pass the sentence; the number is a named const in the layer's module.
"""
LINES = (
    # 0-4 han.cosem's A-XDR Reader (4: han.compact)
    "A-XDR data ends early at byte %d (needs %d more)",
    "unsupported length form 0x%02X at byte %d",
    "count %d exceeds the %d bytes left",
    "data nested deeper than %d levels",
    "unknown A-XDR type 0x%02X at byte %d",
    # 5-12 han.cipher_errors (why han.keys.decipher refuses an APDU)
    "ciphered APDU says %d bytes, carries %d",
    "compressed ciphered APDU (security control 0x%02X)",
    "ciphered APDU too short for its tag",
    "ciphered APDU with security control 0x%02X",
    "encrypted frame, no key configured (system title %s (%s))",
    "system title of %d bytes: cannot form the GCM IV",
    "authentication failed: the frame decrypts but its tag does not verify: check the "
    "authentication key (GAK, GPK61)",
    "wrong encryption key (GUEK, GPK60): the authentication tag fails and the plaintext is not DLMS",
    # 13-17 han.cosem
    "notification date-time of %d bytes",
    "notification date-time starts with 0x%02X",
    "%d bytes after the notification body",
    "%d bytes after the data",
    "valid frame, unknown list layout: %s",
    # 18-23 han.framing (20, 21, 23: han.framing.mbus; 22: han.p1)
    "HDLC header checksum (HCS) mismatch",
    "HDLC footer checksum (FCS) mismatch",
    "M-Bus frame has no stop byte (0x16)",
    "M-Bus footer checksum mismatch",
    "DSMR telegram checksum mismatch (sent %04X, computed %04X)",
    "M-Bus frame with CI 0x%02X is not a DLMS transport segment",
    # 24-28 han.framing (the scanner and the segment reassembly)
    "input ended inside a %s frame (%d of %d bytes)",
    "a %s frame arrived in the middle of a segmented %s message",
    "a new message started before the last segment arrived",
    "segment %d arrived, expected %d",
    "segmented message longer than %d bytes",
    # 29-33 han.gbt
    "GBT block %d says %d bytes, carries %d",
    "GBT message abandoned after block %d: block 1 started a new one",
    "GBT block %d arrived without block 1",
    "GBT block %d arrived, expected %d: a block is missing",
    "GBT message longer than %d bytes",
    # 34-35 han.p1
    "wrong encryption key (GUEK, GPK60): the decrypted telegram fails its check (%s)",
    "no telegram end",
    # 36-45 han.pipeline (38-39: han.framing.segments, for the pipeline)
    "input ended before the last segment of a message",
    "input ended before the last GBT block",
    "a segment was lost to a damaged frame",
    "a new message began before the last segment",
    "empty APDU",
    "a ciphered frame sent without checksum cannot be trusted unless its tag is verified: "
    "configure the authentication key (GAK, GPK61)",
    "wrong encryption key (GUEK, GPK60): the decrypted data does not parse (%s)",
    "wrong encryption key (GUEK, GPK60): the decrypted data is not DLMS (starts 0x%02X)",
    "APDU tag 0x%02X is not a data-notification",
    "more than %d nested layers",
    # 46-53 han.dsmr
    "not a DSMR telegram: does not start with \"/\"",
    "not a DSMR telegram: no line end after the identification",
    "not a DSMR telegram: the identification is not \"/\" + 3 letters",
    "DSMR telegram has no \"!\" end line",
    "DSMR line %d: text outside parentheses",
    "DSMR line %d: \"(\" without \")\"",
    "DSMR line %d: a value without OBIS code",
    "DSMR line %d is not \"A-B:C.D.E(value)\"",
)


def text(detail):
    """Line `detail`, or with a tuple (line, values...) that line filled in."""
    return LINES[detail] if isinstance(detail, int) else LINES[detail[0]] % detail[1:]
