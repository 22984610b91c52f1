"""General-block-transfer (GBT, 0xE0): a long APDU pushed as numbered blocks (L&G E450/E570).

    E0 | block control (bit 7: last block) | block number (2) | acknowledged (2) | BER length | data
"""
from han.cosem import Reader
from han.errors import Error

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# han.details lines
_SAYS = const(29)
_ABANDONED = const(30)
_WITHOUT_FIRST = const(31)
_MISSING = const(32)
_LONGER = const(33)


class BlockTransfer:
    """General-block-transfer reassembly: blocks 1, 2, ... until the last-block bit."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = None  # allocated once, at the first block (most meters never send GBT)
        self.length = 0
        self.next_block = 1
        self.lost = None  # an Error to report: a partial message given up for a new one

    def abandon(self):
        """Drop a partial message; returns a description if one was pending."""
        pending = self.next_block > 1
        self.length = 0
        self.next_block = 1
        return pending

    def add(self, view):
        """One GBT APDU; returns the reassembled APDU after the last block, else None."""
        reader = Reader(view, 1)
        control = reader.byte()
        block = reader.unsigned(2)
        reader.unsigned(2)  # block number acknowledged: meaningful only for two-way links
        size = reader.length()
        if reader.pos + size != len(view):
            raise Error("malformed", (_SAYS, block, size, len(view) - reader.pos))
        if block == 1:  # block 1 always starts over (a meter restarting its push)
            if self.next_block > 1:
                self.lost = Error("sequence", (_ABANDONED, self.next_block - 1))
            self.length = 0
        elif block != self.next_block:
            expected = self.next_block
            self.abandon()
            if expected == 1:
                raise Error("sequence", (_WITHOUT_FIRST, block))
            raise Error("sequence", (_MISSING, block, expected))
        if self.buf is None:
            self.buf = bytearray(self.capacity)
        if self.length + size > self.capacity:
            self.abandon()
            raise Error("too_long", (_LONGER, self.capacity))
        self.buf[self.length:self.length + size] = view[reader.pos:]
        self.length += size
        self.next_block = block + 1
        if not control & 0x80:
            return None
        n = self.length
        self.abandon()
        return memoryview(self.buf)[:n]
