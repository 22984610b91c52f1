"""Viper twins of the GCM loops (MicroPython only; CPython never imports this).

GHASH uses Shoup's 8-bit tables on 32-bit words: per key 256 entries x 4 words (4 KB), so a
16-byte block costs 16 lookups and byte shifts and allocates nothing. The twins in gcm.py
have the same signatures and the same algorithm family (4-bit tables on Python ints).

Field elements are held as four words z0..z3, z0 being the first four bytes of the block
(GCM's lowest-degree coefficients). Viper's `uint` is the machine word, 64 bits on the unix
port, so every right shift first masks to 32 bits: that keeps the results the ESP32's and
lets ptr32 loads (which may be sign-extended) carry junk above bit 31 harmlessly.
"""
from array import array

import micropython


def _fold8():
    # Multiplying by x^8 shifts eight coefficients past x^127. Each comes back as the GCM
    # polynomial 0xE1 in the top bits; this is their XOR for every value of the lost byte,
    # as the top 16 bits of the block (Shoup's "last8" table).
    table = array("H", bytes(512))
    for lost in range(256):
        fold = 0
        for bit in range(8):
            if (lost >> bit) & 1:
                fold ^= 0x1C2 << bit
        table[lost] = fold
    return table


_FOLD8 = _fold8()


@micropython.viper
def _build_table(table: ptr32, h: ptr8):
    mask = (uint(0xFFFF) << 16) | uint(0xFFFF)
    poly = uint(0xE1) << 24
    # Index bit 0x80 stands for x^0, so entry 0x80 is H itself.
    for w in range(4):
        table[0x200 + w] = (uint(h[4 * w]) << 24) | (uint(h[4 * w + 1]) << 16) | (
            uint(h[4 * w + 2]) << 8) | uint(h[4 * w + 3])
    # Halving the index multiplies by x: shift right one bit, fold x^128 back in.
    i = 0x40
    while i > 0:
        src = i << 3
        z0 = uint(table[src]) & mask
        z1 = uint(table[src + 1]) & mask
        z2 = uint(table[src + 2]) & mask
        z3 = uint(table[src + 3]) & mask
        dst = i << 2
        table[dst + 3] = (z3 >> 1) | (z2 << 31)
        table[dst + 2] = (z2 >> 1) | (z1 << 31)
        table[dst + 1] = (z1 >> 1) | (z0 << 31)
        if z3 & 1:
            table[dst] = (z0 >> 1) ^ poly
        else:
            table[dst] = z0 >> 1
        i >>= 1
    # The product is linear in the index: every other entry is an XOR of power-of-two ones.
    for w in range(4):
        table[w] = 0
    i = 2
    while i < 256:
        j = 1
        while j < i:
            for w in range(4):
                table[((i + j) << 2) + w] = table[(i << 2) + w] ^ table[(j << 2) + w]
            j += 1
        i <<= 1


@micropython.viper
def _ghash(table: ptr32, fold: ptr16, state: ptr8, data: ptr8, length: int):
    mask = (uint(0xFFFF) << 16) | uint(0xFFFF)
    at = 0
    while at < length:
        z0 = uint(0)
        z1 = uint(0)
        z2 = uint(0)
        z3 = uint(0)
        # Horner over the bytes of state^block, highest-degree byte first:
        # z = z * x^8 + table[byte]. The first shift acts on zero and is harmless.
        i = 15
        while i >= 0:
            lost = z3 & 0xFF
            z3 = ((z3 & mask) >> 8) | (z2 << 24)
            z2 = ((z2 & mask) >> 8) | (z1 << 24)
            z1 = ((z1 & mask) >> 8) | (z0 << 24)
            z0 = ((z0 & mask) >> 8) ^ (uint(fold[lost]) << 16)
            byte = state[i]
            if at + i < length:  # a short last block is zero-padded
                byte ^= data[at + i]
            k = byte << 2
            z0 ^= uint(table[k])
            z1 ^= uint(table[k + 1])
            z2 ^= uint(table[k + 2])
            z3 ^= uint(table[k + 3])
            i -= 1
        # Byte stores keep the low 8 bits, so no mask is needed here.
        state[0] = z0 >> 24
        state[1] = z0 >> 16
        state[2] = z0 >> 8
        state[3] = z0
        state[4] = z1 >> 24
        state[5] = z1 >> 16
        state[6] = z1 >> 8
        state[7] = z1
        state[8] = z2 >> 24
        state[9] = z2 >> 16
        state[10] = z2 >> 8
        state[11] = z2
        state[12] = z3 >> 24
        state[13] = z3 >> 16
        state[14] = z3 >> 8
        state[15] = z3
        at += 16


@micropython.viper
def _clear16(state: ptr32):
    state[0] = 0
    state[1] = 0
    state[2] = 0
    state[3] = 0


class Ghash:
    """GHASH under one key H; `result()` is the running hash (a 16-byte buffer it owns)."""

    def __init__(self, h):
        self._table = bytearray(4096)
        self._state = bytearray(16)
        _build_table(self._table, h)

    def reset(self):
        _clear16(self._state)

    def update(self, buf, length):
        """Absorb buf[:length], zero-padded to whole blocks."""
        _ghash(self._table, _FOLD8, self._state, buf, length)

    def result(self):
        return self._state


@micropython.viper
def xor_into(dst: ptr8, dst_at: int, src: ptr8, src_at: int, length: int):
    # Byte-wise: dst is often an odd offset into a frame, and Xtensa faults on unaligned words.
    for i in range(length):
        dst[dst_at + i] = dst[dst_at + i] ^ src[src_at + i]


@micropython.viper
def fill_counters(blocks: ptr8, iv: ptr8, counter: int, count: int):
    at = 0
    for n in range(count):
        for i in range(12):
            blocks[at + i] = iv[i]
        value = counter + n  # inc32: byte stores drop whatever lies above 32 bits
        blocks[at + 12] = value >> 24
        blocks[at + 13] = value >> 16
        blocks[at + 14] = value >> 8
        blocks[at + 15] = value
        at += 16


@micropython.viper
def tag_difference(tag: ptr8, digest: ptr8, mask: ptr8, length: int) -> int:
    # Constant time: no early exit that would show how much of a forged tag matched.
    diff = 0
    for i in range(length):
        diff |= tag[i] ^ digest[i] ^ mask[i]
    return diff
