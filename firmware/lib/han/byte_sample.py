"""What the bytes of a line look like where no frame is found: the statistics han.verdicts reads
(pattern), for the diagnosis and the line detective.

Loaded with han.errors.load, for the object that keeps the statistics: a diagnosis keeps it
until the line's first frame (a line that gave one is never judged by its bytes again), the
detective while it looks for the serial setting. Then this code leaves the heap.
"""
try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_SAMPLE = const(512)   # bytes looked at one by one (han.diagnosis: the first of each byte window)
_HEAD = const(6)       # bytes compared at the start of noise runs


class ByteSample:
    """Statistics of the first `limit` bytes seen since the last reset; with the diagnosis, also
    the pattern of its last full sample and the first bytes of the last noise run (repeats)."""

    previous = 0  # han.verdicts.pattern of the last full sample (han.diagnosis sets it; 0: none)
    head = None

    def __init__(self, limit=_SAMPLE):
        self.limit = limit
        self.seen = bytearray(32)
        self.reset()

    def reset(self):
        self.count = 0
        self.zeros = 0
        self.ones = 0      # 0xFF bytes
        self.runs = 0      # other bytes made of at most three bit runs
        self.distinct = 0  # distinct values other than 0x00 and 0xFF
        seen = self.seen
        for i in range(32):
            seen[i] = 0

    def add(self, chunk, n):
        room = self.limit - self.count
        if n > room:
            n = room
        if n <= 0:
            return
        seen = self.seen
        zeros = ones = runs = distinct = 0
        for i in range(n):
            b = chunk[i]
            if b == 0:
                zeros += 1
                continue
            if b == 0xFF:
                ones += 1
                continue
            at = b >> 3
            bit = 1 << (b & 7)
            # Bit set for each byte value with at most two level changes between adjacent bits
            # (0x00, 0x80, 0x78, 0xF8, ...): what a UART reads from a line slower than its own.
            if b"\xdf\xd1\x01\xd1\x01\x00\x01\xd1\x01\x00\x00\x00\x01\x00\x01\xd1" \
               b"\x8b\x80\x00\x80\x00\x00\x00\x80\x8b\x80\x00\x80\x8b\x80\x8b\xfb"[at] & bit:
                runs += 1
            if not seen[at] & bit:
                seen[at] |= bit
                distinct += 1
        self.count += n
        self.zeros += zeros
        self.ones += ones
        self.runs += runs
        self.distinct += distinct

    def repeats(self, data):
        """Does the noise run that starts with `data` (an excerpt) start like the last one, with
        at least 3 bytes other than 0x00/0xFF? Random noise never does; a meter pushing the same
        frame header at a wrong baud rate, parity or inversion does, as the UART garbles the
        header the same way each time (glitches on an idle line make 0x00/0xFF)."""
        if data is None or len(data) < _HEAD:
            return False
        head = data[:_HEAD]
        busy = 0
        for b in head:
            if 0 < b < 0xFF:
                busy += 1
        same = busy >= 3 and head == self.head
        self.head = head
        return same
