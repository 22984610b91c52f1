# Stands in for the module of this name whose import runs out of heap half-way
# (tests/upy/test_unload.py): a large buffer made, then MemoryError.
HELD = bytearray(32 * 1024)
raise MemoryError("no room for the rest of this module")
