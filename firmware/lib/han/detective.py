"""The line detective: finds the meter's serial settings by trying them in turn.

    det = LineDetective()                # or LineDetective(start=saved_index)
    open_uart(det.setting)               # (baud, bits, parity None/"E"/"O", stop, invert)
    loop:
        n = uart.readinto(buf)
        if n:
            det.observe_bytes(n, buf)
            for event in pipeline.feed(view[:n]): det.observe(event); ...
        elif the line has been idle for a while (~300 ms, between pushes):
            for event in pipeline.flush(): det.observe(event); ...
        verdict = det.decide(time.ticks_ms())   # every 100 ms or so
        if verdict == NEXT:              # drop what the pipeline buffered (pipeline.flush(),
            open_uart(det.setting)       # events unobserved), re-open the UART
        elif verdict == SETTLED:         # save det.index; stop calling decide

A setting is proven by frames that pass their checksums: readings, and errors that only a
valid frame can give (no key, wrong key, unknown layout ...: an encrypted frame without its key
still proves the serial settings). Two proofs settle; each proof gives the candidate another
dwell for the next push. A candidate is left after DWELL_MS without proof (long enough for a
meter that pushes every 10 s, plus a frame still arriving), or early when its bytes are clearly
wrong: many bytes and no frame, or the few long-bit-run values (0x00, 0x80, 0xF8 ...) a UART
faster than the meter reads. A settled detective stays settled: bad frames later are the
diagnosis's business. Pure: time is passed in.
"""
from han.errors import load
from han.verdicts import pattern

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

KEEP = 0
NEXT = 1
SETTLED = 2

DWELL_MS = const(12000)     # per candidate without proof; a proof extends it by as much
GRACE_MS = const(3000)      # at most this much longer while bytes are still arriving
QUIET_MS = const(500)       # the line counts as still busy if bytes arrived this recently
EARLY_BYTES = const(4096)   # this many bytes without a frame: the setting is wrong (>= 2 pushes)
_EARLY_SAMPLE = const(64)   # bytes looked at for the zeros / long-bit-run pattern
_PROOFS = const(2)
_PATTERN_SLOW = const(2)  # han.verdicts.pattern: the UART is faster than the meter

_TICKS_MASK = const(0x3FFFFFFF)  # time.ticks_ms() wraps at 2**30 on the ESP32

# Candidates: baud // 100 (2 bytes), parity (0, "E" or "O"), invert; 8 data bits, 1 stop bit.
# 2400 8E1, 2400 8N1, 9600 8N1, 115200 8N1, each plain then inverted.
DEFAULT = (b"\x00\x18E\x00" b"\x00\x18E\x01" b"\x00\x18\x00\x00" b"\x00\x18\x00\x01"
           b"\x00\x60\x00\x00" b"\x00\x60\x00\x01" b"\x04\x80\x00\x00" b"\x04\x80\x00\x01")

# Errors only a frame that passed its checksum (or a message that parsed) can give.
_PROOF_CODES = const(("no_key", "decrypt", "auth", "unknown", "malformed", "too_long"))


def setting_at(candidates, index):
    """The setting tuple of candidate `index` (from the bytes table or a tuple of tuples)."""
    if isinstance(candidates, (bytes, bytearray)):
        at = index * 4
        parity = candidates[at + 2]
        return ((candidates[at] << 8 | candidates[at + 1]) * 100, 8, chr(parity) if parity else None, 1,
                bool(candidates[at + 3]))
    return candidates[index]


def describe(setting):
    """ "2400 8E1", "115200 8N1 inverted" ..."""
    baud, bits, parity, stop, invert = setting
    return "%d %d%s%d%s" % (baud, bits, parity or "N", stop, " inverted" if invert else "")


class LineDetective:
    def __init__(self, candidates=DEFAULT, start=0):
        self.candidates = candidates
        self.count = len(candidates) // 4 if isinstance(candidates, (bytes, bytearray)) else len(candidates)
        self.sample = load("byte_sample").ByteSample(_EARLY_SAMPLE)  # (its code goes with the detective)
        self.restart(start)

    @property
    def setting(self):
        return setting_at(self.candidates, self.index)

    def restart(self, start=0):
        """Look again (the user asked, or the meter changed)."""
        self.index = start % self.count
        self.cycles = 0        # full rounds through the candidates without settling
        self.settled = False
        self._begin()

    def _begin(self):
        self.started = None   # set by the first decide(): the UART was (re)opened then
        self.deadline = 0     # ms after `started`
        self.proofs = 0
        self.proved = False   # a proof since the last decide()
        self.bytes = 0
        self.seen = 0         # bytes at the last decide(), to tell when the line was busy
        self.busy = None      # time bytes were last seen arriving
        self.sample.reset()

    def observe_bytes(self, n, chunk):
        if self.settled or n <= 0:
            return
        self.bytes += n
        self.sample.add(chunk, n)

    def observe(self, event):
        if self.settled:
            return
        code = getattr(event, "code", None)
        if code is None or code in _PROOF_CODES:
            self.proofs += 1
            self.proved = True

    def decide(self, now_ms):
        """KEEP, NEXT (self.setting is now the next candidate: re-open the UART) or SETTLED."""
        if self.settled:
            return SETTLED
        if self.started is None:
            self.started = now_ms
            self.deadline = DWELL_MS
        elapsed = (now_ms - self.started) & _TICKS_MASK
        if self.bytes != self.seen:
            self.seen = self.bytes
            self.busy = elapsed
        if self.proved:  # a proof gives the next push a full dwell
            self.proved = False
            self.deadline = max(self.deadline, elapsed + DWELL_MS)
        if self.proofs >= _PROOFS:
            self.settled = True
            return SETTLED
        sample = self.sample
        if self.proofs or (self.bytes < EARLY_BYTES and (
                sample.count < _EARLY_SAMPLE or (sample.zeros != sample.count and pattern(sample) != _PATTERN_SLOW))):
            if elapsed < self.deadline:
                return KEEP
            if (self.busy is not None and elapsed - self.busy < QUIET_MS
                    and elapsed < self.deadline + GRACE_MS):
                return KEEP  # a frame may still be arriving
        self.index += 1
        if self.index >= self.count:
            self.index = 0
            self.cycles += 1
        self._begin()
        return NEXT
