"""What the pipeline reports when something is not a reading.

Every rejected frame or message becomes one `Error` with a stable code (used by the CLI's JSON,
the counters and the diagnosis) and a sentence for people. Layers give most sentences by number:
they live in han.details (with text(), that makes one), loaded only when an error is made (the
board's heap is small).
"""

# The codes (Error.code), as the layers write them:
#   checksum   HCS, FCS, M-Bus or DSMR checksum mismatch
#   truncated  the stream ended (or went idle) inside a frame
#   sequence   a segment or GBT block is missing or out of order
#   no_key     encrypted frame, no encryption key configured
#   decrypt    decrypted plaintext does not parse: wrong encryption key
#   auth       authentication tag did not verify
#   unknown    a valid frame whose layout this decoder does not know
#   malformed  a valid frame whose APDU does not parse
#   noise      bytes that are not a frame
#   too_long   a message longer than the reassembly buffer
# (Strings, not named constants: a constant costs the board's heap a name and a slot.)

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_EXCERPT = const(32)  # bytes of the offending data kept with an error (bounded: errors are logged)


class Error(Exception):
    """A rejected frame, message or run of bytes. Layers raise it; the pipeline yields it with
    an excerpt of the offending data. The scanner adds `size` (bytes rejected)
    and `format` (the frame format's name). `detail` is a sentence, or what han.details.text takes."""

    def __init__(self, code, detail, data=None):
        self.code = code
        self.detail = detail if isinstance(detail, str) else load("details").text(detail)
        self.data = bytes(data[:_EXCERPT]) if data is not None else None


def load(name):
    """Module han.<name> (han.details, han.verdicts, han.meters, han.byte_sample). On MicroPython
    it is imported for the caller's use only: its code and texts take no heap until they are
    needed, and none after (an object of one of its classes keeps that class's code, and the
    module's globals, until the object goes). CPython keeps it (importing it again and again grows CPython's import caches)."""
    import sys
    whole = "han." + name
    try:
        module = __import__(whole, None, None, ("LINES",))
    except MemoryError:  # what the import had loaded stays in sys.modules' table (see app.unload):
        sys.modules[whole] = None  # reusing the name's slot lets it go
        del sys.modules[whole]
        raise
    if sys.implementation.name != "micropython":
        return module
    del sys.modules[whole]
    try:
        delattr(sys.modules["han"], name)
    except AttributeError:
        pass
    return module
