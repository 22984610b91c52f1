"""The debug log: levels E/W/I/D/V, one ring of recent output, and sinks.

Every line ("(W) Unknown data received") goes into a preallocated ring of bytes, CRLF-ended as
telnet wants them. The ring serves twice: a new telnet client is first sent the last lines in it,
and it is every client's send queue: a client keeps its position in the ring and is dropped when
the log gets a whole ring ahead of it. So the log's memory is fixed whatever the number of
clients, and whoever writes a line never waits. Sinks (callables taking the line as str, e.g.
the unix port's console) are called for every line and must not block either.
"""
try:
    from micropython import const
except ImportError:
    const = int  # CPython: the value itself (every const() here wraps an int)

LEVELS = "EWIDV"  # (app/meter.py dumps every layer's bytes at "V", its level 4)
# The ring: a new client's recent lines (about 30 at level I), and what a client whose socket is
# full has yet to take. A push dumped at level V (every layer's bytes at 53 bytes a line of 16:
# 6.6 times a plain push's size, 10 times a ciphered one's) is handed to the clients' sockets line
# by line as it is written (app/telnet.py), so a reading client keeps up with a burst larger than
# the ring through its socket's buffer (4 KB or more).
_RING_BYTES = const(2048)
_MAX_LINE = const(512)  # longer lines are cut

# The device's ring, taken when this module is imported: app.main imports it before the decoder,
# whose modules would leave the heap too fragmented for one block of this size.
_early = bytearray(_RING_BYTES)


class Log:
    def __init__(self, level="I", size=_RING_BYTES):
        global _early
        self.level = LEVELS.index(level) if level in LEVELS else 2
        if size == _RING_BYTES and _early is not None:
            self.ring, _early = _early, None
        else:
            self.ring = bytearray(size)
        self.head = 0     # bytes written since boot: the position of the next byte
        self.sinks = []

    def write(self, level, text):
        if LEVELS.index(level) > self.level:
            return
        line = "(%s) %s" % (level, text)
        ring = self.ring
        size = len(ring)
        if size:  # (else telnet is off: nobody reads the ring, app/start.py let it go)
            for data in (memoryview(line.encode())[:_MAX_LINE], b"\r\n"):
                at = self.head % size
                n = len(data)
                room = size - at
                if n <= room:
                    ring[at:at + n] = data
                else:
                    ring[at:] = data[:room]
                    ring[:n - room] = data[room:]
                self.head += n
        for sink in self.sinks:
            sink(line)

    def error(self, text):
        self.write("E", text)

    def warning(self, text):
        self.write("W", text)

    def info(self, text):
        self.write("I", text)

    def debug(self, text):
        self.write("D", text)

    def chunk(self, position, limit):
        """Up to `limit` bytes of output from `position` on (one piece of the ring, so maybe fewer),
        or None when the ring no longer holds them."""
        size = len(self.ring)
        if self.head - position > size:
            return None
        at = position % size
        return memoryview(self.ring)[at:at + min(self.head - position, limit, size - at)]
