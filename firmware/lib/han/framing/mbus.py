"""M-Bus frames' checksum and payload, for han.framing: loaded when the scanner meets a frame
whose header holds (68 L L 68), so that meters that send no M-Bus frame do not keep this code.

    68 L L 68 | C A CI STSAP DTSAP | APDU part | CS 16
"""
from han.errors import Error


def check(buf, pos, size):
    """han.framing.check() of an M-Bus frame: None, or a line of han.details."""
    last = pos + size - 2
    if buf[last + 1] != 0x16:
        return 20  # M-Bus frame has no stop byte
    if sum(memoryview(buf)[pos + 4:last]) & 0xFF != buf[last]:
        return 21  # M-Bus footer checksum mismatch
    return None


def payload(buf, pos, size):
    """han.framing.payload() of an M-Bus frame: the APDU part after CI, STSAP and DTSAP; `more`
    is the FIN bit's opposite, `sequence` the segment number."""
    ci = buf[pos + 6]
    if ci & 0xE0 or size < 11:
        # han.details: not a DLMS transport segment (the Error keeps the frame's first bytes)
        raise Error("unknown", (23, ci), memoryview(buf)[pos:pos + size])
    return pos + 9, pos + size - 2, not ci & 0x10, ci & 0x0F
