"""CRC-16 checks: X.25 for HDLC (HCS/FCS), ARC for DSMR telegrams.

Both are reflected CRC-16s and share one table-driven loop; a viper twin is used on MicroPython.
The ARC table is made at the first P1 telegram: HAN meters never need it.
"""
from array import array


def table(poly):
    t = array("H", bytes(512))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t[i] = c
    return t


X25_TABLE = table(0x8408)  # HDLC FCS: init 0xFFFF, xorout 0xFFFF, sent low byte first
ARC_TABLE = None           # DSMR P1: init 0, xorout 0, sent as 4 hex digits (table(0xA001))


def crc16_pure(buf, start, end, table, init, xorout):
    crc = init
    for i in range(start, end):
        crc = (crc >> 8) ^ table[(crc ^ buf[i]) & 0xFF]
    return crc ^ xorout


try:
    from han._viper import crc16
except ImportError:  # CPython, or a MicroPython build without viper
    crc16 = crc16_pure


def crc16_x25(buf, start, end):
    return crc16(buf, start, end, X25_TABLE, 0xFFFF, 0xFFFF)


def crc16_arc(buf, start, end):
    global ARC_TABLE
    if ARC_TABLE is None:
        ARC_TABLE = table(0xA001)
    return crc16(buf, start, end, ARC_TABLE, 0, 0)
