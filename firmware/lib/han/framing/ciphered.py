"""The header of a bare ciphered frame (a general-glo-ciphering APDU sent without link framing,
as the Luxembourg "Smarty" and Styrian P1 ports do), for han.framing: loaded when the scanner
meets DB 08, so that other meters do not keep this code.

    DB 08 <system title> <BER length> SC FC ... : the length delimits the frame.
"""


def measure(buf, pos):
    """han.framing.measure() of DB 08 and at least 12 more bytes: the frame's length, or -1 (not
    a frame). The system title must start with a manufacturer's three-letter FLAG id and the
    security byte must be a known one: noise is not taken for a frame."""
    for i in range(pos + 2, pos + 5):  # the FLAG id: three capitals
        if not 0x41 <= buf[i] <= 0x5A:
            return -1
    first = buf[pos + 10]
    if first < 0x80:
        size, header = first, 11
    elif first == 0x81:
        size, header = buf[pos + 11], 12
    elif first == 0x82:
        size, header = (buf[pos + 11] << 8) | buf[pos + 12], 13
    else:
        return -1
    security = buf[pos + header]
    if security & 0x8F > 2 or not security & 0x30:  # suites 0-2, no compression; auth and/or enc
        return -1
    return header + size
