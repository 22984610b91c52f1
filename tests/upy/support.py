# Helpers shared by the dual-interpreter tests (CPython and MicroPython alike).
import sys

ROOT = __file__.rsplit("/tests/upy/", 1)[0] if "/tests/upy/" in __file__ else "."
FRAMES = ROOT + "/frames"
IS_MICROPYTHON = sys.implementation.name == "micropython"


def tick_clock():
    """CPython: MicroPython's tick clock (time.ticks_*), which the app runs on, from time.monotonic()."""
    import time
    for name, ticks in (("ticks_ms", lambda: int(time.monotonic() * 1000)),
                        ("ticks_us", lambda: int(time.monotonic() * 1000000)),
                        ("ticks_add", lambda ticks, delta: ticks + delta),
                        ("ticks_diff", lambda new, old: new - old)):
        if not hasattr(time, name):
            setattr(time, name, ticks)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def value_of(reading, code):
    """The value a Reading has for an OBIS code (6 bytes), or None."""
    for item_code, value in pairs(reading):
        if item_code == code:
            return value
    return None


def pairs(reading):
    """A Reading's (OBIS code: 6 bytes, value), in order."""
    return [(reading.codes[6 * i:6 * i + 6], reading.values[i]) for i in range(len(reading.values))]


def with_pairs(reading, items):
    """`reading` with these (OBIS code: 6 bytes, value) as its codes and values."""
    reading.codes = b"".join([code for code, _ in items])
    reading.values = [value for _, value in items]
    return reading


def unhex(text):
    """Hex text with any whitespace -> bytes."""
    return bytes.fromhex("".join(text.split()))


class NoRoom:
    """A module as it is when its code finds no room in the heap: put in sys.modules in its place,
    any name taken from it raises MemoryError."""

    def __getattr__(self, name):
        raise MemoryError
