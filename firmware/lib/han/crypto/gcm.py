"""AES-GCM (NIST SP 800-38D) with 96-bit IVs, built on AES-ECB (cryptolib; aes.py on CPython).

DLMS general-glo-ciphering uses it with IV = system title (8) || invocation counter (4),
AAD = SC || AK and a 12-byte tag; encryption-only meters send no tag at all.

The keystream is made a few counter blocks at a time in one small per-instance buffer, so
memory stays bounded whatever the data length, and data is processed in place. On MicroPython
the loops run as viper code (_gcm_viper); its pure-Python twin (_gcm_pure) serves CPython and a
caller that passes it, Gcm(key, _gcm_pure) (the tests run both paths): MicroPython loads it
only then.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(value):
        return value

try:
    # MicroPython: the C type straight away; aes.py (the same thing behind ecb(), plus the
    # CPython adapter) is not loaded on the board.
    from cryptolib import aes
except ImportError:
    from .aes import aes  # cryptolib's shape, for CPython

try:
    from . import _gcm_viper as _ops
except (ImportError, SyntaxError):  # CPython; or a MicroPython built without the viper emitter
    from . import _gcm_pure as _ops

_ECB = const(1)  # cryptolib's MODE_ECB; the constants are not exported on the ESP32 build
# Keystream chunk: counter blocks made and encrypted per cryptolib call. Smaller costs only
# more cryptolib calls from inside the viper loop: about +5 % per 240-byte frame on the unix
# port against 256 bytes (tools/bench_gcm.py measures).
_CHUNK_BYTES = const(64)


class Gcm:
    """AES-GCM under one key. Build once per key (the viper path keeps about 0.7 KB on the
    64-bit unix port: the AES context, a 304-byte GHASH table and a 64-byte keystream chunk),
    then call open() per frame (han.crypto.seal encrypts: the tests' and the simulated meters'
    need, not the firmware's). Memory use does not grow with the data, and on the
    viper path open() allocates nothing at all.

    `ops` is the module whose loops run: han.crypto._gcm_viper where MicroPython has the viper
    emitter, else han.crypto._gcm_pure; a caller may pass the latter to run the pure path (the
    tests compare the two). (A fourth attribute costs an instance nothing: its table has 4 slots.)
    """

    def __init__(self, key, ops=_ops):
        self.ops = ops
        # (public names the running firmware has interned anyway: aes, blocks, context)
        self.aes = aes(key, _ECB)
        # Counter blocks, encrypted in place into keystream. After start(..., 1), block 0 is
        # E(K, J0), which masks the tag; the data keystream starts at counter 2.
        self.blocks = bytearray(_CHUNK_BYTES)
        h = bytearray(16)
        self.aes.encrypt(h, h)
        self.context = ops.context(h)

    def open(self, iv, data, aad=None, tag=None):
        """Decrypt `data` in place. With a tag (4..16 bytes, DLMS sends 12) nothing is
        decrypted unless it verifies; returns False then and leaves `data` untouched.
        Without a tag it only decrypts (encryption-only frames, or no authentication key).
        Refuses an IV of other than 12 bytes, data that cannot be written in place and a tag
        of other than 4..16 bytes (why: han.crypto.arguments, loaded then)."""
        if len(iv) != 12 or isinstance(data, bytes) or tag is not None and not 4 <= len(tag) <= 16:
            from .arguments import refuse
            refuse(iv, data, tag)
        ops = self.ops
        blocks = self.blocks
        ops.start(self.aes, blocks, iv, 1)
        if tag is None:
            tag = b""  # finish() checks nothing against an empty tag
        else:
            # blocks[:16] becomes the expected tag, E(K, J0) ^ GHASH.
            ops.ghash(self.context, b"" if aad is None else aad, data, blocks)
        return ops.finish(self.aes, blocks, iv, data, tag)
