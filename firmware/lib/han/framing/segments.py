"""Reassemble link-layer segments (HDLC segmentation bit, M-Bus CI sequence) into one message."""
from han.errors import Error, SEQUENCE, TOO_LONG


class Reassembly:
    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = None  # allocated once, at the first segmented message (most meters send none)
        self.length = 0
        self.active = False
        self.next_sequence = 0
        self.owner = None
        self.lost = None  # an Error to report: segments dropped since the last call

    def abandon(self, detail, keep=False):
        """Drop a partial message; returns the sequence Error to report (None if nothing was
        pending), or with `keep` leaves it in `lost`."""
        lost = Error(SEQUENCE, detail) if self.active else None
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
            self.abandon("a %s frame arrived in the middle of a segmented %s message" % (owner, self.owner), True)
        if sequence is not None:
            if sequence == 0:
                self.abandon("a new message started before the last segment arrived", True)
            elif not self.active or sequence != self.next_sequence:
                expected = self.next_sequence if self.active else 0
                self.active = True
                self.abandon("segment %d arrived, expected %d" % (sequence, expected), True)
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
            self.lost = Error(TOO_LONG, "segmented message longer than %d bytes" % self.capacity)
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
