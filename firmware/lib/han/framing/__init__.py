"""Link-layer frame formats, as a table the scanner reads: HDLC, M-Bus, P1/DSMR, bare ciphered.

A format is an index into NAMES (0 HDLC, 1 M-Bus, 2 DSMR, 3 bare ciphered); measure(), check()
and payload() take it as their first argument. (No public names for the numbers: each would cost
the board's heap a global here and in every module that imports it.) One module for what every
meter's scanner runs, rather than one per format: each module costs the board's small heap a
dictionary, names and functions of its own. What only some meters need is loaded for them (below).

HDLC frame format type 3 (IEC 62056-46), as meters push it on the HAN port:

    7E | A<S>LL LL | dst (1-4) | src (1-4) | ctrl | HCS (2) | information | FCS (2) | 7E

No byte stuffing: the frame ends where its 11-bit length says, never at the next 0x7E, and one
flag may close one frame and open the next. Both checksums are CRC-16/X.25, low byte first.

M-Bus long frames carrying DLMS (EN 13757-2 link, DLMS/COSEM M-Bus wrapper):

    68 L L 68 | C A CI STSAP DTSAP | APDU part | CS 16

L counts C through the end of the data; CS is their sum mod 256. CI 000F SSSS: F = last
segment (FIN), SSSS = segment number, so one APDU arrives as CI 0x10, or 0x00, 0x01, ... 0x1n.

P1/DSMR ASCII telegrams: "/XXXZ ident" ... "!CRC" CR LF (IEC 62056-21 mode D, DSMR 2.2-5). The
telegram ends at the first "!" followed by up to four hex digits and CR LF. Its CRC is
CRC-16/ARC over "/" through "!" (DSMR 5); meters without a CRC send "!" CR LF. Elgama sends a
CRC-16/X.25 with its bytes swapped in the hex text, over the same span.

General-glo-ciphering APDUs sent bare (Luxembourg "Smarty", Styria P1):

    DB 08 <system title> <BER length> SC FC ... : the length delimits the frame.

There is no checksum: decryption validates the frame (its tag, or the telegram's own CRC). To
keep noise from being taken for such a frame, the system title must start with a three-letter
manufacturer id and the security byte must be a known one.

CRC-16 checks: X.25 for HDLC (HCS/FCS), ARC for DSMR telegrams. Both are reflected CRC-16s and
share one bitwise loop (a viper twin on MicroPython): no 512-byte table per polynomial in the
board's heap, and the viper loop still takes well under a millisecond for the longest frame.
A telegram's end and its CRC are found by han.p1, the P1 meters' code, loaded when the scanner
meets what looks like a telegram's start: a meter that sends none does not keep that code. So
are an M-Bus frame's checksum and payload (han.framing.mbus), loaded for a frame whose header
holds (noise seldom makes one: 68 L L 68), and the rest of a bare ciphered frame's header
(han.framing.ciphered), loaded for DB 08.

The scanner (Scanner, below) finds the frames in a byte stream that arrives in chunks of any
size, in one bounded buffer: each format tells from a start byte how long its frame is and whether
its checksum holds. The buffer starts at _FIRST_BUFFER bytes, room for most meters' frames, and
grows only for a longer frame: to that frame's size when its header tells it (HDLC, M-Bus,
ciphered), else (a P1 telegram tells its length only at its end; or noise that looks like a
telegram's start) to twice its size, never beyond room for the largest frame the formats allow.
Bytes that belong to no frame are reported as noise, a run at a time. After a false start (a
noise byte that looks like a frame header, or a frame that fails its checksum) scanning resumes
at the byte after that start, so a real frame hidden behind it is not lost.
Results do not depend on how the input is chunked. (The scanner is in this module with the
formats: a module of its own would cost the heap its dictionary, names and the table imported again.)
"""
from han.errors import Error


try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_HDLC = const(0)
_MBUS = const(1)
_DSMR = const(2)
_CIPHERED = const(3)
NAMES = ("hdlc", "mbus", "dsmr", "ciphered")
_START_BYTES = const(b"\x7e\x68/\xdb")  # by format
_FILL_BYTES = const(b"\x7e\x00\x00\x00")  # flags may repeat between HDLC frames and close the last one
_CHECKED = const(b"\x01\x01\x01\x00")  # has a checksum of its own (a bare ciphered frame has none)
_MAX_FRAME = const(2048)         # HDLC: opening flag + the 11-bit length field's maximum; P1,
                                # ciphered: the longest real telegram seen is 1.4 KB (Hungary)
_FIRST_BUFFER = const(512)      # the Danish Kamstrup's frames are 477 bytes; 12 of 70 captures
                                # have longer ones (the longest HDLC frame: 583 bytes, Aidon)

# What measure() returns when it cannot give a length yet.
_NEED_MORE = const(0)     # could be a frame: wait for more bytes
_NOT_A_FRAME = const(-1)  # this start byte is noise
_FILL = const(-2)         # inter-frame fill (a repeated HDLC flag): skip without calling it noise
_BAD_HEADER = const(-3)   # a frame header whose own checksum fails


try:
    from han._viper import crc16, find_marked
except ImportError:  # CPython, or a MicroPython build without viper
    from han._pure import crc16, find_marked


def crc16_x25(buf, start, end):
    """HDLC's HCS and FCS: sent low byte first."""
    return crc16(buf, start, end, 0x8408, 0xFFFF, 0xFFFF)


def _hdlc_header(buf, pos, end):
    """Offset after the HDLC control byte, _NEED_MORE, or _NOT_A_FRAME for an over-long address."""
    i = pos + 3
    for _ in range(2):  # destination, then source address: the last byte has its LSB set
        for n in range(4):
            if i >= end:
                return _NEED_MORE
            i += 1
            if buf[i - 1] & 1:
                break
        else:
            return _NOT_A_FRAME
    return i + 1 if i < end else _NEED_MORE


def measure(fmt, buf, pos, end):
    """Length of the frame starting at `pos` (HDLC: closing flag excluded) or a status code."""
    have = end - pos
    if fmt == _HDLC:
        if have < 3:
            return _NEED_MORE
        kind = buf[pos + 1]
        if kind & 0xF0 != 0xA0:
            return _FILL if kind == 0x7E else _NOT_A_FRAME
        total = (((kind & 0x07) << 8) | buf[pos + 2]) + 1
        if total <= 7:  # format (2) + dst + src + ctrl + FCS (2)
            return _NOT_A_FRAME
        frame_end = pos + total
        header = _hdlc_header(buf, pos, min(end, frame_end))
        if header == _NEED_MORE:
            return _NEED_MORE if end < frame_end else _NOT_A_FRAME
        if header == _NOT_A_FRAME or header + 2 > frame_end:
            return _NOT_A_FRAME
        if header + 2 == frame_end:  # no information field: the two bytes left are the FCS
            return total
        if header + 2 > end:
            return _NEED_MORE
        if crc16_x25(buf, pos + 1, header) != buf[header] | (buf[header + 1] << 8):
            return _BAD_HEADER
        return total
    if fmt == _MBUS:
        if have < 4:
            return _NEED_MORE
        if buf[pos + 3] != 0x68 or buf[pos + 1] != buf[pos + 2]:
            return _NOT_A_FRAME
        # Some Austrian meters put only the low byte of 256+ into L (seen at L = 1 for 257):
        # a real L is never below 3 (C, A, CI), so the missing 256 is unambiguous.
        length = buf[pos + 1]
        return (length + 256 if length < 4 else length) + 6
    if fmt == _DSMR:
        if have < 5:
            return _NEED_MORE
        for i in range(pos + 1, pos + 4):  # three letters
            if not (0x41 <= buf[i] <= 0x5A or 0x61 <= buf[i] <= 0x7A):
                return _NOT_A_FRAME
        if not 0x20 < buf[pos + 4] < 0x7F:
            return _NOT_A_FRAME
        # It looks like a telegram's start: han.p1 (P1 meters' code) finds its end.
        from han.p1 import measure_telegram
        return measure_telegram(buf, pos, end)
    if have < 14:
        return _NEED_MORE
    if buf[pos + 1] != 8:
        return _NOT_A_FRAME
    # DB 08, as a bare ciphered frame starts: the rest of its header is read by
    # han.framing.ciphered, code that only the meters sending such frames keep.
    from han.framing import ciphered
    return ciphered.measure(buf, pos)


def check(fmt, buf, pos, size):
    """None if the frame's checksum holds, else what went wrong (an Error's detail: a line of
    han.details)."""
    last = pos + size - 2
    if fmt == _HDLC:
        if crc16_x25(buf, pos + 1, last) != buf[last] | (buf[last + 1] << 8):
            return 19  # han.details: HDLC footer checksum (FCS) mismatch
    elif fmt == _MBUS:
        from han.framing import mbus  # M-Bus meters' code, loaded for a frame whose header holds
        return mbus.check(buf, pos, size)
    elif fmt == _DSMR:
        from han.p1 import check_telegram  # loaded already: measure() found the telegram
        return check_telegram(buf, pos, size)
    return None


def payload(fmt, buf, pos, size):
    """(start, end, more, sequence) of the frame's message part: `more` is the segmentation
    bit (HDLC) or the M-Bus FIN bit's opposite, `sequence` the M-Bus segment number (None for
    links without segment numbers). Raises Error("unknown"), holding the frame's first bytes, for
    an M-Bus frame that is not DLMS."""
    if fmt == _HDLC:
        header = _hdlc_header(buf, pos, pos + size)
        start = header + 2 if header + 2 < pos + size else header
        return start, pos + size - 2, buf[pos + 1] & 0x08, None
    if fmt == _MBUS:
        from han.framing import mbus  # loaded already: check() found the frame
        return mbus.payload(buf, pos, size)
    return pos, pos + size, False, None


_NOISE_EXCERPT = const(64)
# han.details lines
_HCS = const(18)
_ENDED_INSIDE = const(24)

class Scanner:
    """Yields the Errors and checked frames the bytes fed make. A frame is the scanner itself
    (an object of its own would cost the board's heap a class): one of format `format`, valid in
    `buf[at:at + size]` until the scanner resumes (a frame is handled before the next one is
    found). What is yielded is decided before: a consumer that fails on it (no room in the heap)
    and feeds more is not handed it again, half handled (deciphered in place)."""

    capacity = _MAX_FRAME + 64  # what the buffer may grow to (the class's: the same for every scanner)

    def __init__(self, formats=(_HDLC, _MBUS, _DSMR, _CIPHERED)):
        # The formats (numbers: indexes into NAMES; all by default) are known by their start bytes:
        # an attribute more would cost the heap 96 B (a 13th attribute doubles an object's table).
        # `marks`: the formats' start bytes as a bit set (32 bytes: han._pure.find_marked), then
        # the first bytes of the run of noise being counted (one bytearray: a second would cost
        # the heap an object and an attribute).
        self.marks = bytearray(32 + _NOISE_EXCERPT)
        for fmt in formats:
            start = _START_BYTES[fmt]
            self.marks[start >> 3] |= 1 << (start & 7)
        self.buf = bytearray(min(self.capacity, _FIRST_BUFFER))
        self.start = 0  # first byte not yet decided
        self.at = 0     # a yielded frame's first byte, its length (or an awaited one's) and
        self.size = 0
        self.format = _HDLC  # its format, while it is yielded
        self.end = 0    # end of buffered input
        self.quiet_until = 0  # bytes before this belong to a frame already reported bad
        self.frame_end = -1   # where the last good frame ended: its closing flag is no noise
        self.noise = 0

    def feed(self, data, final=False):
        """Take `data` (any length) and yield every frame (the scanner) and Error it completes.
        `final` is flush()'s (no data: the stream ended or went idle). (One generator takes the
        bytes and scans them: a chunk costs the heap one generator's frame, not two.)"""
        data = memoryview(data)
        taken = 0
        while taken < len(data) or final:
            buf = self.buf
            if self.end == len(buf) and not final and not self.start and self.end < self.capacity:
                # full of one frame's start: a buffer that holds that frame takes it over (rounded
                # up to 64 bytes: a meter whose frames vary a little grows it once)
                size = self.size if self.size > len(buf) else 2 * len(buf)
                self.buf = bytearray(min(self.capacity, (size + 63) & ~63))
                self.buf[0:self.end] = buf
                buf = self.buf
            elif self.end == len(buf) and not final:  # full: move what is undecided to the front
                size = self.end - self.start
                if size == len(buf):  # cannot happen while every format caps its frame size
                    self._skip(self.start, self.start + 1)
                    self.start += 1
                    size -= 1
                buf[0:size] = buf[self.start:self.end]
                self.quiet_until = max(0, self.quiet_until - self.start)
                self.frame_end -= self.start
                self.start, self.end = 0, size
            size = min(len(buf) - self.end, len(data) - taken)
            buf[self.end:self.end + size] = data[taken:taken + size]
            self.end += size
            taken += size
            end = self.end
            while self.start < end:
                pos = find_marked(buf, self.start, end, self.marks)
                if pos < 0:
                    self._skip(self.start, end)
                    self.start = end
                    break
                self._skip(self.start, pos)
                self.start = pos
                fmt = _HDLC  # the format this start byte opens (only the scanner's formats are marked)
                while _START_BYTES[fmt] != buf[pos]:
                    fmt += 1
                if pos < self.quiet_until and not _CHECKED[fmt]:
                    self.start = pos + 1  # what a bad frame contains is not a frame of its own
                    continue
                size = measure(fmt, buf, pos, end)
                if size > self.capacity:
                    size = -1
                code = None
                if size > 0:
                    if pos + size > end:
                        if not final:
                            self.size = size  # what the buffer must hold (feed() grows it for it)
                            break
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
                            self.format = fmt
                            self.at = pos
                            self.size = size
                            self.start = self.frame_end = pos + size
                            yield self
                            continue
                elif size == _NEED_MORE and not final:
                    break
                elif size == _NEED_MORE and end - pos == 1 and buf[pos] == _FILL_BYTES[fmt]:
                    self.start = pos + 1  # a closing flag at the very end
                elif size == _BAD_HEADER:
                    code = "checksum"
                    detail = _HCS
                    size = 1
                    shown = 16
                elif size == _FILL or (pos == self.frame_end and buf[pos] == _FILL_BYTES[fmt]):
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
                    self.quiet_until = max(self.quiet_until, pos + size)
                    self.start = pos + 1
                    yield error
            if final:
                if self.noise:
                    yield self._noise_error()
                self.gap()
                return

    def flush(self):
        """The stream ended or went idle: decide everything still buffered."""
        return self.feed(b"", True)

    def gap(self):
        """Forget what is buffered: after a flush, and when bytes were lost before what comes next
        (no room in the heap to take them), so that what follows is not read as a lost frame's rest."""
        self.start = self.end = self.quiet_until = 0
        self.frame_end = -1

    def _skip(self, start, end):
        start = max(start, self.quiet_until)
        if start >= end:
            return
        have = self.noise
        if have < _NOISE_EXCERPT:
            n = min(_NOISE_EXCERPT - have, end - start)
            self.marks[32 + have:32 + have + n] = self.buf[start:start + n]
        self.noise += end - start

    def _noise_error(self):
        n = self.noise
        self.noise = 0
        error = Error("noise", "%d bytes that are not a frame" % n,
                      memoryview(self.marks)[32:32 + min(n, _NOISE_EXCERPT)])
        error.size = n
        return error
