# A module whose import runs out of heap half-way (tests/upy/test_unload.py). What it made before
# the MemoryError is one large buffer, so a test can see whether that heap comes back.
HELD = bytearray(32 * 1024)
raise MemoryError("no room for the rest of this module")
