"""Reassembly: link-layer segments (HDLC segmentation bit, M-Bus CI sequence) back into one
message.

Loaded by the pipeline at the first segmented message (like GBT's han.gbt): most meters send
every message in one frame and never pay for this code or its buffer.
"""
from han.errors import Error

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# han.details lines
_MIDDLE = const(25)
_NEW_MESSAGE = const(26)
_SEGMENT = const(27)
_LONGER = const(28)
_DAMAGED = const(38)
_INTERRUPTED = const(39)


class Reassembly:
    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = None  # allocated once, at the first message in more than one segment
        self.length = 0
        self.active = False
        self.next_sequence = 0
        self.owner = None
        self.sender = None  # addresses and control byte of a pending HDLC chain (set by the pipeline)
        self.lost = None  # an Error to report: segments dropped since the last call

    def claims(self, data):
        """Was the rejected frame starting with `data` part of the pending HDLC message? (Only
        asked for HDLC segments, which carry no numbers; M-Bus segments are numbered and checked
        as they come.) It was if it carries the addresses and control byte of the message's
        first segment, allowing one flipped bit among them: a false start from noise does not,
        a damaged segment does."""
        sender = self.sender
        if not self.active or sender is None or data is None or len(data) < 3 + len(sender):
            return False
        differing = 0
        for i in range(len(sender)):
            x = data[3 + i] ^ sender[i]
            while x:
                differing += x & 1
                x >>= 1
        return differing <= 1

    def rejected(self, error):
        """The scanner rejected a frame (`error`): the sequence Error that ends the pending
        message when that frame was one of its segments (claims()), else None."""
        if getattr(error, "format", None) == self.owner and self.claims(error.data):
            return self.abandon(_DAMAGED)
        return None

    def follow(self, buf, at, start, end, more, sequence):
        """A good frame comes, its payload in buf[start:end] (the frame starts at `at`), before
        add(): the sequence Error that ends the pending message when the frame begins another
        one, else None. A frame that begins a chain tells who sends it.

        Unnumbered (HDLC) segments: only a message's first frame starts with the LLC header,
        and every segment comes from the same addresses (the control byte may count frames)."""
        lost = None
        if self.active and sequence is None and self.sender is not None:
            llc = end - start >= 3 and buf[start] == 0xE6 and buf[start + 1] | 1 == 0xE7 and buf[start + 2] == 0x00
            if llc or bytes(memoryview(buf)[at + 3:start - 3]) != self.sender[:-1]:
                lost = self.abandon(_INTERRUPTED)  # the pending message lost its last segment
        if more and not self.active:
            self.sender = bytes(memoryview(buf)[at + 3:start - 2]) if sequence is None else None
        return lost

    def abandon(self, detail, keep=False):
        """Drop a partial message; returns the sequence Error to report (None if nothing was
        pending), or with `keep` leaves it in `lost`."""
        lost = Error("sequence", detail) if self.active else None
        self.active = False
        self.length = 0
        if keep and lost:
            self.lost = lost
        return lost

    def add(self, owner, view, more, sequence):
        """Add one frame's payload; returns the whole message once complete, else None.

        `sequence` is None for links without segment numbers (HDLC). The returned view is valid
        until the next call.
        """
        if self.active and owner != self.owner:
            self.abandon((_MIDDLE, owner, self.owner), True)
        if sequence is not None:
            if sequence == 0:
                self.abandon(_NEW_MESSAGE, True)
            elif not self.active or sequence != self.next_sequence:
                expected = self.next_sequence if self.active else 0
                self.active = True
                self.abandon((_SEGMENT, sequence, expected), True)
                return None
            self.next_sequence = sequence + 1
        if not self.active and not more:
            return view
        n = len(view)
        if self.buf is None:
            self.buf = bytearray(self.capacity)
        if self.length + n > self.capacity:
            self.active = False
            self.length = 0
            self.lost = Error("too_long", (_LONGER, self.capacity))
            return None
        self.buf[self.length:self.length + n] = view
        self.length += n
        self.owner = owner
        if more:
            self.active = True
            return None
        self.active = False
        n, self.length = self.length, 0
        return memoryview(self.buf)[:n]
