"""Pure-Python twins of han._viper, with the same signatures: what CPython (and a MicroPython
built without the viper emitter) runs instead. The board never loads this module."""


def crc16(buf, start, end, poly, init, xorout):
    """A reflected CRC-16 of buf[start:end] with the reversed polynomial `poly`."""
    crc = init
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ xorout


def find_marked(buf, start, end, marks):
    """Where the first marked byte value is, or -1 (the scanner's search for start bytes).
    `marks` is a bit set of 32 bytes: value b is marked when bit b & 7 of marks[b >> 3] is set."""
    for i in range(start, end):
        b = buf[i]
        if marks[b >> 3] & (1 << (b & 7)):
            return i
    return -1
