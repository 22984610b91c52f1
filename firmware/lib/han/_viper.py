"""Viper twins of the pipeline's byte loops (MicroPython only; CPython never imports this).

Each function has a pure-Python twin with the same signature in han._pure.
"""
import micropython


@micropython.viper
def crc16(buf: ptr8, start: int, end: int, poly: int, init: int, xorout: int) -> int:
    crc = init
    i = start
    while i < end:
        crc ^= buf[i]
        bit = 0
        while bit < 8:
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
            bit += 1
        i += 1
    return crc ^ xorout


@micropython.viper
def find_marked(buf: ptr8, start: int, end: int, marks: ptr8) -> int:
    i = start
    while i < end:
        b = buf[i]
        if marks[b >> 3] & (1 << (b & 7)):
            return i
        i += 1
    return -1
