"""Pure-Python twin of _gcm_viper: the same functions, for CPython and Gcm(key, _gcm_pure).

MicroPython imports this only when a caller asks for the pure path, so the board does not
carry it. GHASH uses Shoup's 4-bit tables on Python ints, like the viper code on words.
"""
from struct import pack, pack_into

_POLY = 0xE1 << 120  # x^128 = x^7 + x^2 + x + 1, in GCM's reflected bit order


def _fold4():
    # Multiplying by x^4 shifts four coefficients past x^127; each returns as the GCM
    # polynomial in the top bits. Entry = their XOR for every value of the lost nibble.
    table = []
    for lost in range(16):
        fold = 0
        for bit in range(4):
            if (lost >> bit) & 1:
                fold ^= 0xE1 << (117 + bit)
        table.append(fold)
    return tuple(table)


_FOLD4 = _fold4()


def context(h):
    """The GHASH context for the hash key h: table[n] = n * H, nibble bit 8 standing for x^0."""
    table = [0] * 16
    v = int.from_bytes(h, "big")
    table[8] = v
    for index in (4, 2, 1):
        v = (v >> 1) ^ (_POLY if v & 1 else 0)
        table[index] = v
    for high in (2, 4, 8):
        for low in range(1, high):
            table[high + low] = table[high] ^ table[low]
    return table


def _absorb(table, y, buf, length):
    """y after absorbing buf[:length], zero-padded to whole blocks."""
    for at in range(0, length, 16):
        end = min(at + 16, length)
        x = y ^ (int.from_bytes(buf[at:end], "big") << (8 * (16 - end + at)))
        # Horner, highest-degree nibble first: y = y * x^4 + table[nibble].
        y = 0
        for _ in range(32):
            y = (y >> 4) ^ _FOLD4[y & 15] ^ table[x & 15]
            x >>= 4
    return y


def ghash(ctx, aad, data, out):
    """out[:16] ^= GHASH of aad || pad || data || pad || bit lengths."""
    y = _absorb(ctx, 0, aad, len(aad))
    y = _absorb(ctx, y, data, len(data))
    y = _absorb(ctx, y, pack(">QQ", 8 * len(aad), 8 * len(data)), 16)
    digest = y.to_bytes(16, "big")
    for i in range(16):
        out[i] ^= digest[i]


def start(ecb, blocks, iv, counter):
    """Fill `blocks` with the counter blocks iv || counter, ... and encrypt them in place."""
    for at in range(0, len(blocks), 16):
        blocks[at:at + 12] = iv
        pack_into(">I", blocks, at + 12, counter & 0xFFFFFFFF)
        counter += 1
    ecb.encrypt(blocks, blocks)


def _xor_into(dst, dst_at, src, src_at, length):
    # One big-int XOR per chunk: a few C calls instead of a Python loop per byte.
    end = dst_at + length
    x = int.from_bytes(dst[dst_at:end], "big") ^ int.from_bytes(src[src_at:src_at + length], "big")
    dst[dst_at:end] = x.to_bytes(length, "big")


def finish(ecb, blocks, iv, data, tag):
    """As _gcm_viper.finish: check the tag against blocks, then apply the keystream."""
    # Constant time: no early exit that would show how much of a forged tag matched.
    diff = 0
    for i in range(len(tag)):
        diff |= tag[i] ^ blocks[i]
    if diff:
        return False
    size = len(blocks)
    length = len(data)
    done = min(length, size - 16)
    _xor_into(data, 0, blocks, 16, done)
    counter = size // 16 + 1
    while done < length:
        start(ecb, blocks, iv, counter)
        take = min(length - done, size)
        _xor_into(data, done, blocks, 0, take)
        done += take
        counter += size // 16
    return True
