"""AES-GCM encryption under a han.crypto.gcm.Gcm: what the tests and the simulated meters need.
The firmware only decrypts, so the Gcm it keeps for good does not carry this code.
"""


def seal(gcm, iv, data, aad=None):
    """Encrypt `data` in place; returns the full 16-byte tag."""
    if len(iv) != 12 or isinstance(data, bytes):  # what Gcm.open() refuses too
        from .arguments import refuse
        refuse(iv, data)
    ops = gcm.ops
    ops.start(gcm.aes, gcm.blocks, iv, 1)
    tag = bytearray(gcm.blocks[:16])  # E(K, J0): later chunks reuse the buffer
    ops.finish(gcm.aes, gcm.blocks, iv, data, b"")
    ops.ghash(gcm.context, b"" if aad is None else aad, data, tag)
    return bytes(tag)
