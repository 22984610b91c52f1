"""Find frames in a byte stream that arrives in chunks of any size.

One bounded buffer; frame formats are a table (hdlc, mbus, ...), each telling from a start byte
how long its frame is and whether its checksum holds. Bytes that belong to no frame are reported
as noise, a run at a time. After a false start (a noise byte that looks like a frame header, or a
frame that fails its checksum) scanning resumes at the byte after that start, so a real frame
hidden behind it is not lost. Results do not depend on how the input is chunked.
"""
from han.errors import Error, CHECKSUM, NOISE, TRUNCATED
from han.framing.status import NEED_MORE, FILL, BAD_HEADER

NOISE_EXCERPT = 64


def find_marked_pure(buf, start, end, marks):
    for i in range(start, end):
        if marks[buf[i]]:
            return i
    return -1


try:
    from han._viper import find_marked
except ImportError:
    find_marked = find_marked_pure


class Frame:
    """A checked frame, valid in `buf[start:start + size]` until the scanner resumes."""

    def __init__(self, fmt, buf, start, size):
        self.format = fmt
        self.buf = buf
        self.start = start
        self.size = size


class Scanner:
    def __init__(self, formats, capacity=0):
        self.formats = formats
        self.marks = bytearray(256)  # start byte -> 1 + index of its format
        for index, fmt in enumerate(formats):
            for b in fmt.START_BYTES:
                self.marks[b] = index + 1
        self.buf = bytearray(capacity or max(f.MAX_FRAME for f in formats) + 64)
        self.start = 0  # first byte not yet decided
        self.end = 0    # end of buffered input
        self.quiet_until = 0  # bytes before this belong to a frame already reported bad
        self.frame_end = -1   # where the last good frame ended: its closing flag is no noise
        self.noise = 0
        self.noise_head = bytearray(NOISE_EXCERPT)

    def feed(self, data):
        """Take `data` (any length) and yield every Frame and Error it completes."""
        data = memoryview(data)
        taken = 0
        while taken < len(data):
            if self.end == len(self.buf):
                self._compact()
            n = min(len(self.buf) - self.end, len(data) - taken)
            self.buf[self.end:self.end + n] = data[taken:taken + n]
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

    def pending_noise(self):
        """Report the noise run so far (a runtime calls this so endless noise still shows)."""
        if self.noise:
            yield self._noise_error()

    def _compact(self):
        keep = self.end - self.start
        if keep == len(self.buf):  # cannot happen while every format caps its frame size
            self._skip(self.start, self.start + 1)
            self.start += 1
            keep -= 1
        self.buf[0:keep] = self.buf[self.start:self.end]
        self.quiet_until = max(0, self.quiet_until - self.start)
        self.frame_end -= self.start
        self.start, self.end = 0, keep

    def _skip(self, start, end):
        start = max(start, self.quiet_until)
        if start >= end:
            return
        have = self.noise
        if have < NOISE_EXCERPT:
            n = min(NOISE_EXCERPT - have, end - start)
            self.noise_head[have:have + n] = self.buf[start:start + n]
        self.noise += end - start

    def _noise_error(self):
        n = self.noise
        self.noise = 0
        error = Error(NOISE, "%d bytes that are not a frame" % n,
                      memoryview(self.noise_head)[:min(n, NOISE_EXCERPT)])
        error.size = n
        return error

    def _reject(self, fmt, pos, code, detail, size, shown=0):
        """A start at `pos` that is not a good frame: report it, resume at the next byte.

        `size` bytes are the rejected frame's; `shown` bytes (default `size`) go in the excerpt.
        """
        if self.noise:
            yield self._noise_error()
        error = Error(code, detail, memoryview(self.buf)[pos:min(self.end, pos + (shown or size))])
        error.size = size
        error.format = fmt.NAME
        yield error
        self.quiet_until = max(self.quiet_until, pos + size)
        self.start = pos + 1

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
            fmt = self.formats[self.marks[buf[pos]] - 1]
            if pos < self.quiet_until and not fmt.CHECKED:
                self.start = pos + 1  # what a bad frame contains is not a frame of its own
                continue
            size = fmt.measure(buf, pos, end)
            if size > len(buf):
                size = -1
            if size > 0:
                if pos + size > end:
                    if not final:
                        return
                    yield from self._reject(fmt, pos, TRUNCATED, "input ended inside a %s frame (%d of %d bytes)"
                                            % (fmt.NAME, end - pos, size), end - pos)
                    continue
                detail = fmt.check(buf, pos, size)
                if detail:
                    yield from self._reject(fmt, pos, CHECKSUM, detail, size)
                    continue
                if self.noise:
                    yield self._noise_error()
                yield Frame(fmt, buf, pos, size)
                self.start = self.frame_end = pos + size
            elif size == NEED_MORE and not final:
                return
            elif size == NEED_MORE and end - pos == 1 and buf[pos] == fmt.FILL_BYTE:
                self.start = pos + 1  # a closing flag at the very end
            elif size == BAD_HEADER:
                yield from self._reject(fmt, pos, CHECKSUM, fmt.HEADER_DETAIL, 1, 16)
            elif size == FILL or (pos == self.frame_end and buf[pos] == fmt.FILL_BYTE):
                self.start = pos + 1  # a repeated flag, or the flag that closed the last frame
            else:
                self._skip(pos, pos + 1)
                self.start = pos + 1
