"""The DLMS/COSEM wrapper (IEC 62056-47): DLMS over TCP/UDP, as some gateways forward pushes.

    00 01 | source wPort (2) | destination wPort (2) | length (2) | APDU

It has no start byte worth scanning a serial stream for, so it is recognised only on a whole
message (a capture file, a datagram). Such messages, wrapped or bare, are decoded by
decode_message: the CLI and the tests need it, the board (a serial stream) does not hold it.
"""
HEADER = 8


def starts(header):
    """Could a message starting with these 8 bytes be wrapped? (version 1, a length)"""
    return len(header) >= HEADER and header[0] == 0x00 and header[1] == 0x01 and \
        (header[6] or header[7])


def payload(data):
    """The APDU inside a wrapped message, or None if `data` is not exactly one wrapped APDU."""
    if len(data) <= HEADER or data[0] != 0x00 or data[1] != 0x01:
        return None
    if (data[6] << 8) | data[7] != len(data) - HEADER:
        return None
    return data[HEADER:]


def decode_message(pipeline, data, layer="message"):
    """One message without link framing (starts at the LLC header or the APDU tag) through the
    pipeline's message layers: an iterator over the Readings and Errors it gives."""
    view = memoryview(bytearray(data))  # decryption works in place
    pipeline.bytes += len(view)
    result = pipeline._message(view, layer)
    blocks = pipeline.blocks
    if blocks is not None and blocks.lost:
        yield pipeline._count(blocks.lost)
        blocks.lost = None
    if result is not None:
        yield pipeline._count(result)
