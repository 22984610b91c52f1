"""Find frames in a byte stream that arrives in chunks of any size.

One bounded buffer; frame formats are a table (hdlc, mbus, ...), each telling from a start byte
how long its frame is and whether its checksum holds. Bytes that belong to no frame are reported
as noise, a run at a time. After a false start (a noise byte that looks like a frame header, or a
frame that fails its checksum) scanning resumes at the byte after that start, so a real frame
hidden behind it is not lost. Results do not depend on how the input is chunked.
"""
from han.errors import Error
from han.framing import (BAD_HEADER, CHECKED, FILL, FILL_BYTES, NAMES, NEED_MORE, START_BYTES, check,
                         max_frame, measure)

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_NOISE_EXCERPT = const(64)
# han.details lines
_HCS = const(18)
_ENDED_INSIDE = const(24)

try:
    from han._viper import find_marked
except ImportError:  # CPython, or a MicroPython build without viper
    from han._pure import find_marked


class Frame:
    """A checked frame of format `format`, valid in `buf[start:start + size]` until the scanner
    resumes. The scanner reuses one Frame: a frame is handled before the next one is found."""


class Scanner:
    def __init__(self, formats, capacity=0):
        self.formats = formats  # han.framing format numbers
        self.marks = bytearray(32)  # the formats' start bytes, a bit set (han._pure.find_marked)
        largest = 0
        for fmt in formats:
            start = START_BYTES[fmt]
            self.marks[start >> 3] |= 1 << (start & 7)
            largest = max(largest, max_frame(fmt))
        self.buf = bytearray(capacity or largest + 64)
        self.frame = Frame()
        self.frame.buf = self.buf
        self.start = 0  # first byte not yet decided
        self.end = 0    # end of buffered input
        self.quiet_until = 0  # bytes before this belong to a frame already reported bad
        self.frame_end = -1   # where the last good frame ended: its closing flag is no noise
        self.noise = 0
        self.noise_head = bytearray(_NOISE_EXCERPT)

    def feed(self, data):
        """Take `data` (any length) and yield every Frame and Error it completes."""
        data = memoryview(data)
        taken = 0
        buf = self.buf
        while taken < len(data):
            if self.end == len(buf):  # full: move what is undecided to the front
                keep = self.end - self.start
                if keep == len(buf):  # cannot happen while every format caps its frame size
                    self._skip(self.start, self.start + 1)
                    self.start += 1
                    keep -= 1
                buf[0:keep] = buf[self.start:self.end]
                self.quiet_until = max(0, self.quiet_until - self.start)
                self.frame_end -= self.start
                self.start, self.end = 0, keep
            n = min(len(buf) - self.end, len(data) - taken)
            buf[self.end:self.end + n] = data[taken:taken + n]
            self.end += n
            taken += n
            yield from self._scan(False)

    def flush(self):
        """The stream ended or went idle: decide everything still buffered."""
        yield from self._scan(True)
        if self.noise:
            yield self._noise_error()
        self.start = self.end = self.quiet_until = 0
        self.frame_end = -1

    def _skip(self, start, end):
        start = max(start, self.quiet_until)
        if start >= end:
            return
        have = self.noise
        if have < _NOISE_EXCERPT:
            n = min(_NOISE_EXCERPT - have, end - start)
            self.noise_head[have:have + n] = self.buf[start:start + n]
        self.noise += end - start

    def _noise_error(self):
        n = self.noise
        self.noise = 0
        error = Error("noise", "%d bytes that are not a frame" % n,
                      memoryview(self.noise_head)[:min(n, _NOISE_EXCERPT)])
        error.size = n
        return error

    def _scan(self, final):
        buf = self.buf
        end = self.end
        while self.start < end:
            pos = find_marked(buf, self.start, end, self.marks)
            if pos < 0:
                self._skip(self.start, end)
                self.start = end
                return
            self._skip(self.start, pos)
            self.start = pos
            for fmt in self.formats:  # the format this start byte opens
                if START_BYTES[fmt] == buf[pos]:
                    break
            if pos < self.quiet_until and not CHECKED[fmt]:
                self.start = pos + 1  # what a bad frame contains is not a frame of its own
                continue
            size = measure(fmt, buf, pos, end)
            if size > len(buf):
                size = -1
            code = None
            if size > 0:
                if pos + size > end:
                    if not final:
                        return
                    code = "truncated"
                    detail = (_ENDED_INSIDE, NAMES[fmt], end - pos, size)
                    size = shown = end - pos
                else:
                    detail = check(fmt, buf, pos, size)
                    if detail:
                        code = "checksum"
                        shown = size
                    else:
                        if self.noise:
                            yield self._noise_error()
                        frame = self.frame
                        frame.format = fmt
                        frame.start = pos
                        frame.size = size
                        yield frame
                        self.start = self.frame_end = pos + size
                        continue
            elif size == NEED_MORE and not final:
                return
            elif size == NEED_MORE and end - pos == 1 and buf[pos] == FILL_BYTES[fmt]:
                self.start = pos + 1  # a closing flag at the very end
            elif size == BAD_HEADER:
                code = "checksum"
                detail = _HCS
                size = 1
                shown = 16
            elif size == FILL or (pos == self.frame_end and buf[pos] == FILL_BYTES[fmt]):
                self.start = pos + 1  # a repeated flag, or the flag that closed the last frame
            else:
                self._skip(pos, pos + 1)
                self.start = pos + 1
            if code:
                # Not a good frame: report it, resume at the next byte. `size` bytes are the
                # rejected frame's; `shown` bytes go in the excerpt.
                if self.noise:
                    yield self._noise_error()
                error = Error(code, detail, memoryview(buf)[pos:min(end, pos + shown)])
                error.size = size
                error.format = NAMES[fmt]
                yield error
                self.quiet_until = max(self.quiet_until, pos + size)
                self.start = pos + 1
