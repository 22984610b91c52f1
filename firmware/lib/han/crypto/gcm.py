"""AES-GCM (NIST SP 800-38D) with 96-bit IVs, built on the AES-ECB primitive in aes.py.

DLMS general-glo-ciphering uses it with IV = system title (8) || invocation counter (4),
AAD = SC || AK and a 12-byte tag; encryption-only meters send no tag at all.

The keystream is made a chunk of 16 counter blocks at a time in one per-instance buffer, so
memory stays bounded whatever the data length, and data is processed in place. On MicroPython
the loops run as viper code (_gcm_viper); the pure twins below serve CPython and tests.
"""
from struct import pack_into

from .aes import ecb

try:
    from . import _gcm_viper as _viper
except (ImportError, SyntaxError):  # CPython; or a MicroPython built without the viper emitter
    _viper = None

FAST_AVAILABLE = _viper is not None

_CHUNK_BLOCKS = 16
_CHUNK_BYTES = 16 * _CHUNK_BLOCKS
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


class _PureGhash:
    """GHASH with Shoup's 4-bit tables on Python ints; same interface as _gcm_viper.Ghash."""

    def __init__(self, h):
        # table[n] = n * H, nibble bit 8 standing for x^0.
        table = [0] * 16
        v = int.from_bytes(h, "big")
        table[8] = v
        for index in (4, 2, 1):
            v = (v >> 1) ^ (_POLY if v & 1 else 0)
            table[index] = v
        for high in (2, 4, 8):
            for low in range(1, high):
                table[high + low] = table[high] ^ table[low]
        self._table = table
        self._y = 0
        self._result = bytearray(16)

    def reset(self):
        self._y = 0

    def update(self, buf, length):
        """Absorb buf[:length], zero-padded to whole blocks."""
        table = self._table
        y = self._y
        for at in range(0, length, 16):
            end = min(at + 16, length)
            x = y ^ (int.from_bytes(buf[at:end], "big") << (8 * (16 - end + at)))
            # Horner, highest-degree nibble first: y = y * x^4 + table[nibble].
            y = 0
            for _ in range(32):
                y = (y >> 4) ^ _FOLD4[y & 15] ^ table[x & 15]
                x >>= 4
        self._y = y

    def result(self):
        self._result[:] = self._y.to_bytes(16, "big")
        return self._result


def _xor_into_pure(dst, dst_at, src, src_at, length):
    # One big-int XOR per chunk: a few C calls instead of a Python loop per byte.
    end = dst_at + length
    x = int.from_bytes(dst[dst_at:end], "big") ^ int.from_bytes(src[src_at:src_at + length], "big")
    dst[dst_at:end] = x.to_bytes(length, "big")


def _tag_difference_pure(tag, digest, mask, length):
    # Constant time: no early exit that would show how much of a forged tag matched.
    diff = 0
    for i in range(length):
        diff |= tag[i] ^ digest[i] ^ mask[i]
    return diff


def _fill_counters_pure(blocks, iv, counter, count):
    for n in range(count):
        at = 16 * n
        blocks[at:at + 12] = iv
        pack_into(">I", blocks, at + 12, (counter + n) & 0xFFFFFFFF)


class Gcm:
    """AES-GCM under one key. Build once per key, early while the heap is unfragmented (the
    viper path's GHASH table is one 4 KB block), then call open()/seal() per frame. Memory
    use does not grow with the data; the viper path's open() allocates nothing at all when
    the data ends on a chunk boundary (240 + 256*k bytes) and one memoryview otherwise.

    fast: None picks the viper path when available; False forces the pure path; True
    demands the viper path. `path` says which one runs ("viper" or "pure").
    """

    def __init__(self, key, fast=None):
        if fast is None:
            fast = FAST_AVAILABLE
        elif fast and not FAST_AVAILABLE:
            raise ValueError("the viper GCM path needs MicroPython with the viper emitter")
        self._ecb = ecb(key)
        # Counter blocks, encrypted in place into keystream. Block 0 of the first chunk is
        # J0, whose encryption masks the tag; the data keystream starts at counter 2.
        self._blocks = bytearray(_CHUNK_BYTES)
        self._blocks_view = memoryview(self._blocks)
        self._lengths = bytearray(16)
        h = bytearray(16)
        self._ecb.encrypt(h, h)
        if fast:
            self.path = "viper"
            self._ghash = _viper.Ghash(h)
            self._xor_into = _viper.xor_into
            self._fill_counters = _viper.fill_counters
            self._tag_difference = _viper.tag_difference
        else:
            self.path = "pure"
            self._ghash = _PureGhash(h)
            self._xor_into = _xor_into_pure
            self._fill_counters = _fill_counters_pure
            self._tag_difference = _tag_difference_pure

    def open(self, iv, data, aad=None, tag=None):
        """Decrypt `data` in place. With a tag (4..16 bytes, DLMS sends 12) nothing is
        decrypted unless it verifies; returns False then and leaves `data` untouched.
        Without a tag it only decrypts (encryption-only frames, or no authentication key)."""
        length = self._check(iv, data)
        if tag is not None and not 4 <= len(tag) <= 16:
            raise ValueError("GCM tag must be 4..16 bytes")
        self._first_chunk(iv, length)
        if tag is not None:
            digest = self._ghash_of(aad, data, length)
            # The tag is E(K, J0) ^ digest; E(K, J0) is still block 0 of the first chunk.
            if self._tag_difference(tag, digest, self._blocks, len(tag)):
                return False
        self._apply_keystream(iv, data, length)
        return True

    def seal(self, iv, data, aad=None):
        """Encrypt `data` in place; returns the full 16-byte tag."""
        length = self._check(iv, data)
        self._first_chunk(iv, length)
        tag = bytearray(self._blocks_view[:16])  # E(K, J0): later chunks reuse the buffer
        self._apply_keystream(iv, data, length)
        digest = self._ghash_of(aad, data, length)
        for i in range(16):
            tag[i] ^= digest[i]
        return bytes(tag)

    def _check(self, iv, data):
        if len(iv) != 12:
            raise ValueError("GCM IV must be 12 bytes")
        if isinstance(data, bytes):  # the viper path would write into an immutable object
            raise TypeError("GCM data must be a writable buffer")
        return len(data)

    def _encrypt_blocks(self, count):
        if count == _CHUNK_BLOCKS:
            self._ecb.encrypt(self._blocks, self._blocks)
        else:
            view = self._blocks_view[:16 * count]
            self._ecb.encrypt(view, view)

    def _first_chunk(self, iv, length):
        count = min(_CHUNK_BLOCKS, 1 + (length + 15) // 16)
        self._fill_counters(self._blocks, iv, 1, count)
        self._encrypt_blocks(count)

    def _apply_keystream(self, iv, data, length):
        # The first chunk (from _first_chunk) holds keystream for counters 2..16.
        done = min(length, _CHUNK_BYTES - 16)
        self._xor_into(data, 0, self._blocks, 16, done)
        counter = _CHUNK_BLOCKS + 1
        while done < length:
            take = min(length - done, _CHUNK_BYTES)
            count = (take + 15) // 16
            self._fill_counters(self._blocks, iv, counter, count)
            self._encrypt_blocks(count)
            self._xor_into(data, done, self._blocks, 0, take)
            done += take
            counter += count

    def _ghash_of(self, aad, data, length):
        ghash = self._ghash
        ghash.reset()
        aad_length = 0
        if aad is not None:
            aad_length = len(aad)
            ghash.update(aad, aad_length)
        ghash.update(data, length)
        pack_into(">QQ", self._lengths, 0, 8 * aad_length, 8 * length)
        ghash.update(self._lengths, 16)
        return ghash.result()
