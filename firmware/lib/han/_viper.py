"""Viper twins of the pipeline's byte loops (MicroPython only; CPython never imports this).

Each function has a pure-Python twin with the same signature next to its caller.
"""
import micropython


@micropython.viper
def crc16(buf: ptr8, start: int, end: int, table: ptr16, init: int, xorout: int) -> int:
    crc = init
    i = start
    while i < end:
        crc = (crc >> 8) ^ table[(crc ^ buf[i]) & 0xFF]
        i += 1
    return crc ^ xorout


@micropython.viper
def find_marked(buf: ptr8, start: int, end: int, marks: ptr8) -> int:
    i = start
    while i < end:
        if marks[buf[i]]:
            return i
        i += 1
    return -1
