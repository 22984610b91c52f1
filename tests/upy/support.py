# Helpers shared by the dual-interpreter tests (CPython and MicroPython alike).
import sys

ROOT = __file__.rsplit("/tests/upy/", 1)[0] if "/tests/upy/" in __file__ else "."
FRAMES = ROOT + "/frames"
IS_MICROPYTHON = sys.implementation.name == "micropython"


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def unhex(text):
    """Hex text with any whitespace -> bytes."""
    return bytes.fromhex("".join(text.split()))
