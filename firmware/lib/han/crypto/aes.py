"""AES-ECB over whole buffers: the only block-cipher primitive GCM needs.

MicroPython's cryptolib already has the wanted shape (ESP32 builds offer ECB and CBC only);
CPython borrows the `cryptography` package, which exists only on the development side. The
CPython adapter is defined only where cryptolib is missing, so the board never builds it.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_ECB = const(1)  # cryptolib's MODE_ECB; the constants are not exported on the ESP32 build

try:
    from cryptolib import aes as _cryptolib_aes
except ImportError:
    _cryptolib_aes = None

    class _CpythonEcb:
        def __init__(self, key):
            try:
                from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
            except ImportError:
                raise ImportError("AES needs the 'cryptography' package on CPython")
            # ECB keeps no state between blocks, so one encryptor serves every call.
            self._encryptor = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

        def encrypt(self, src, dst):
            if len(src) % 16:
                # the encryptor would silently hold back a partial block; cryptolib refuses too
                raise ValueError("AES-ECB needs whole 16-byte blocks")
            dst[:] = self._encryptor.update(src)


def ecb(key):
    """AES encryptor with `encrypt(src, dst)` over every 16-byte block (src may be dst)."""
    if _cryptolib_aes is not None:
        return _cryptolib_aes(key, _ECB)
    return _CpythonEcb(key)


def aes(key, mode):
    """cryptolib.aes's shape (`mode` is ECB's), for han.crypto.gcm on CPython."""
    return ecb(key)
