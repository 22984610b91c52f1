# Viper GCM primitives (MicroPython only: on CPython the import stops at `micropython`).
# _gcm_pure.py is the twin with the same four functions, for CPython and Gcm(key, _gcm_pure).
#
# GHASH uses Shoup's 4-bit tables on 32-bit words. The per-key context is one 304-byte
# bytearray: bytes 0..255 hold the 16 multiples of H (4 words each), 256..287 the 16 reduction
# constants (half-words), 288..303 a scratch block. One block costs 32 table lookups and word
# shifts; no call allocates.
#
# Field elements are held as four words z0..z3, z0 being the first four bytes of the block
# (GCM's lowest-degree coefficients). Viper's `uint` is the machine word, 64 bits on the unix
# port, so every right shift first masks to 32 bits: that keeps the results the ESP32's and
# lets ptr32 loads (which may be sign-extended) carry junk above bit 31 harmlessly.
#
# On the heap each function costs about the same whatever its size (the machine code lives
# outside the GC heap: mmap on the unix port, IRAM on the ESP32), so there are few. The emitter
# keeps only the first three locals, parameters included, in registers: hot pointers first.
# Comments, not docstrings: compiling this file from source on the device would otherwise
# build every docstring as a string, about 4 KB more peak heap during the import.

import micropython
from micropython import const

_FOLD = const(128)  # the reduction constants, as a half-word index into the context
_SCRATCH = const(288)  # a block of scratch space (byte offset)
_CONTEXT_BYTES = const(304)


@micropython.viper
def context(h: ptr8):
    # The GHASH context for the hash key h (16 bytes).
    ctx = bytearray(_CONTEXT_BYTES)
    table = ptr32(ctx)
    fold = ptr16(ctx)
    mask = (uint(0xFFFF) << 16) | uint(0xFFFF)
    # Nibble bit 0x8 stands for x^0, so entry 8 is H itself (words taken big-endian).
    for i in range(16):
        table[32 + (i >> 2)] = (uint(table[32 + (i >> 2)]) << 8) | uint(h[i])
    # Halving the index multiplies by x: shift right one bit, fold x^128 back in.
    i = 8
    while i > 1:
        carry = uint(0)
        for w in range(4):
            word = uint(table[(i << 2) + w]) & mask
            table[(i << 1) + w] = (word >> 1) | carry
            carry = word << 31
        if word & 1:
            table[i << 1] = uint(table[i << 1]) ^ (uint(0xE1) << 24)
        i >>= 1
    # The product is linear in the index: every other entry is an XOR of power-of-two ones
    # (entry 0 stays zero).
    i = 2
    while i < 16:
        j = 1
        while j < i:
            for w in range(4):
                table[((i + j) << 2) + w] = table[(i << 2) + w] ^ table[(j << 2) + w]
            j += 1
        i <<= 1
    # Multiplying by x^4 shifts four coefficients past x^127. Each comes back as the GCM
    # polynomial x^7 + x^2 + x + 1 in the top bits; entry = their XOR for every value of the
    # lost nibble, as the top 16 bits of the block (Shoup's "last4" table).
    for lost in range(16):
        value = 0
        for bit in range(4):
            if (lost >> bit) & 1:
                value ^= 0x1C20 << bit
        fold[_FOLD + lost] = value
    return ctx


@micropython.viper
def ghash(ctx: ptr32, aad, data, out):
    # out[:16] ^= GHASH of aad || pad || data || pad || bit lengths.
    fold = ptr16(ctx)
    scratch = ptr8(uint(ctx) + _SCRATCH)
    mask = (uint(0xFFFF) << 16) | uint(0xFFFF)
    aad_length = int(len(aad))
    length = int(len(data))
    z0 = uint(0)
    z1 = uint(0)
    z2 = uint(0)
    z3 = uint(0)
    src = ptr8(aad)
    n = aad_length
    phase = 0  # 0: AAD, 1: data, 2: the lengths block
    while phase < 3:
        if phase == 1:
            src = ptr8(data)
            n = length
        elif phase == 2:
            # len64(A) || len64(C) in bits, big-endian; lengths stay far below 2^29 bytes.
            for i in range(4):
                scratch[i] = 0
                scratch[7 - i] = (aad_length << 3) >> (i << 3)
                scratch[8 + i] = 0
                scratch[15 - i] = (length << 3) >> (i << 3)
            src = scratch
            n = 16
        at = 0
        while at < n:
            block = src
            i = at
            if at + 16 > n:
                # A short last block is zero-padded, in the scratch block.
                for i in range(16):
                    if at + i < n:
                        scratch[i] = src[at + i]
                    else:
                        scratch[i] = 0
                block = scratch
                i = 0
            # x = z ^ block, loaded big-endian a word at a time (rotated into x0..x3).
            x0 = uint(0)
            x1 = uint(0)
            x2 = uint(0)
            x3 = uint(0)
            end = i + 16
            while i < end:
                x0 = x1
                x1 = x2
                x2 = x3
                x3 = (uint(block[i]) << 24) | (uint(block[i + 1]) << 16) | (
                    uint(block[i + 2]) << 8) | uint(block[i + 3])
                i += 4
            x0 ^= z0
            x1 ^= z1
            x2 ^= z2
            x3 ^= z3
            # z = x * H by Horner over the nibbles of x, highest degree first (the low nibble
            # of x3): z = z * x^4 + table[nibble]. The first shifts act on zero.
            z0 = uint(0)
            z1 = uint(0)
            z2 = uint(0)
            z3 = uint(0)
            k = 0
            while k < 4:
                j = 0
                while j < 8:
                    lost = z3 & 0xF
                    z3 = ((z3 & mask) >> 4) | (z2 << 28)
                    z2 = ((z2 & mask) >> 4) | (z1 << 28)
                    z1 = ((z1 & mask) >> 4) | (z0 << 28)
                    z0 = ((z0 & mask) >> 4) ^ (uint(fold[_FOLD + lost]) << 16)
                    e = (x3 & 0xF) << 2
                    z0 ^= uint(ctx[e])
                    z1 ^= uint(ctx[e + 1])
                    z2 ^= uint(ctx[e + 2])
                    z3 ^= uint(ctx[e + 3])
                    x3 >>= 4
                    j += 1
                x3 = x2  # next word
                x2 = x1
                x1 = x0
                k += 1
            at += 16
        phase += 1
    # XOR z into out, a word at a time. Byte stores keep the low 8 bits: no mask needed.
    dst = ptr8(out)
    i = 0
    while i < 16:
        dst[i] = dst[i] ^ (z0 >> 24)
        dst[i + 1] = dst[i + 1] ^ (z0 >> 16)
        dst[i + 2] = dst[i + 2] ^ (z0 >> 8)
        dst[i + 3] = dst[i + 3] ^ z0
        z0 = z1
        z1 = z2
        z2 = z3
        i += 4


@micropython.viper
def start(ecb, blocks, iv: ptr8, counter: int):
    # Fill `blocks` with the counter blocks iv || counter, iv || counter + 1, ... and encrypt
    # them in place. With counter 1, block 0 is E(K, J0), which masks the tag, and the rest is
    # keystream for the first data bytes.
    out = ptr8(blocks)
    size = int(len(blocks))
    at = 0
    while at < size:
        for i in range(12):
            out[at + i] = iv[i]
        # inc32: byte stores drop whatever lies above 32 bits
        out[at + 12] = counter >> 24
        out[at + 13] = counter >> 16
        out[at + 14] = counter >> 8
        out[at + 15] = counter
        counter += 1
        at += 16
    ecb.encrypt(blocks, blocks)


@micropython.viper
def finish(ecb, blocks, iv, data, tag) -> bool:
    # Check `tag` against blocks[:len(tag)] (constant time: no early exit that would show how
    # much of a forged tag matched; an empty tag checks nothing); on a mismatch return False
    # and leave `data` alone. Otherwise XOR `data` in place with the keystream (counters 2, 3,
    # ...): blocks[16:] as start(..., 1) left it, then later chunks made in the same buffer.
    out = ptr8(blocks)
    given = ptr8(tag)
    diff = 0
    for i in range(int(len(tag))):
        diff |= given[i] ^ out[i]
    if diff:
        return False
    buf = ptr8(data)
    length = int(len(data))
    size = int(len(blocks))
    counter = (size >> 4) + 1  # the first one start(..., 1) did not make
    at = 16
    done = 0
    while done < length:
        if at == size:
            start(ecb, blocks, iv, counter)
            counter += size >> 4
            at = 0
        # Byte-wise: data is often an odd offset into a frame, and Xtensa faults on
        # unaligned words.
        end = size - at
        if end > length - done:
            end = length - done
        end += done
        while done < end:
            buf[done] = buf[done] ^ out[at]
            done += 1
            at += 1
    return True
