"""What is wrong with the meter line, in one sentence: counters over a window -> (code, sentence).

    d = Diagnosis()
    d.observe_bytes(n, buf, now_ms)   # every chunk read from the UART (n valid bytes of buf)
    d.observe(event)                  # every Reading / Error the pipeline yields
    code, sentence = d.verdict(now_ms)

The window: event counts are halved every `window` events and byte counts every
`_BYTE_WINDOW` bytes, so the verdict follows what the line does now, not at boot; with
`now_ms`, 30 s without a byte is `no_data` whatever came before.

The verdict, first match wins: no_data; no_key / wrong_key / auth_failed (valid frames whose
keys are missing or wrong: they outrank everything the line does); corrupted (at least a
quarter of the frames whose header was right failed their checksum); unknown_layout (valid
frames the decoder cannot read); ok (frames decode, a few bad ones allowed). Without any
frame, the raw bytes decide, from a sample (the first `SAMPLE` bytes of each byte window):
only 0x00/0xFF -> idle_or_inverted; what a wrong baud rate, parity or inversion makes of real
frames -> serial_settings: noise runs that start with the same bytes push after push (the UART
garbles the same header the same way), the few long-bit-run values a too fast UART reads, or
far fewer distinct values than random bytes have; random-looking bytes, or frame headers
that fail their own checksum -> noise (a weak power supply, as in the seed telnet log).

Codes: ok, no_data, idle_or_inverted, noise, corrupted, serial_settings, no_key, wrong_key,
auth_failed, unknown_layout. Pure: time is passed in.
"""
from han.errors import load

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_BYTE_WINDOW = const(16384)  # bytes per halving of the byte counts (and a fresh byte sample)
_NO_DATA_MS = const(30000)  # silence after which the line counts as dead
_WINDOW = const(64)         # events per halving of the event counts

_MIN_SAMPLE = const(32)     # bytes a sample needs to tell a pattern (han.verdicts.pattern)
_TICKS_MASK = const(0x3FFFFFFF)  # time.ticks_ms() wraps at 2**30 on the ESP32

# Event counters: index 0 readings, then one per error code in the order observe() lists them
# (a failed header checksum, an HCS false start, gets a slot of its own).
_READINGS = const(0)
_CHECKSUM = const(1)
_TRUNCATED = const(2)
_SEQUENCE = const(3)
_NO_KEY = const(4)
_DECRYPT = const(5)
_AUTH = const(6)
_UNKNOWN = const(7)
_MALFORMED = const(8)
_NOISE = const(9)
_TOO_LONG = const(10)
_HCS = const(11)
_REPEATS = const(12)  # noise runs that began like the one before: a setting garbles a header
_SLOTS = const(13)

# The verdicts. Only the healthy line's sentence stays in memory (it changes with every
# reading); the others are made by han.verdicts, loaded when the verdict changes to one of them.
# Their lines:
_NO_DATA_FOR = const(0)
_NO_DATA = const(1)
_NO_KEY_SAY = const(2)
_WRONG_KEY = const(3)
_AUTH_FAILED = const(4)
_CORRUPTED = const(5)
_UNKNOWN_LAYOUT = const(6)
# 7-11: a line where no frame decodes (han.verdicts.undecoded)


class Diagnosis:
    def __init__(self, window=_WINDOW):
        self.window = window
        self.n = [0] * _SLOTS
        self.events = 0
        self.bytes = 0
        self.last_ms = None      # when bytes last arrived (if the runtime passes the time)
        self.key_detail = None   # detail of the last key error (names the system title)
        self.layout_detail = None
        self.said = None         # the last verdict's key and sentence: loaded again on a change
        self.sentence = None
        # What the bytes look like (han.byte_sample), until the first frame: a line that gave one
        # is never judged by its bytes again (its counts of frames stay above 0), so the sample
        # and its code then leave the heap.
        self.sample = load("byte_sample").ByteSample()

    def observe_bytes(self, n, chunk, now_ms=None):
        if n <= 0:
            return
        if now_ms is not None:
            self.last_ms = now_ms
        sample = self.sample
        if self.bytes + n > _BYTE_WINDOW:
            self.bytes >>= 1
            if sample is not None:
                if sample.count >= _MIN_SAMPLE:  # kept for when the next sample is short
                    sample.previous = load("verdicts").pattern(sample)
                sample.reset()
        self.bytes += n
        if sample is not None:
            sample.add(chunk, n)

    def observe(self, event):
        code = getattr(event, "code", None)
        n = self.n
        if code is None:
            slot = _READINGS
        else:
            try:
                slot = ("checksum", "truncated", "sequence", "no_key", "decrypt", "auth", "unknown",
                        "malformed", "noise", "too_long").index(code) + 1
            except ValueError:
                return
            if slot == _CHECKSUM and getattr(event, "size", 0) == 1:
                slot = _HCS  # a header that failed its own checksum: a false start
            elif slot == _NOISE:
                # Noise runs that start with the same bytes as the last one: a setting that
                # garbles the meter's frame header the same way each time.
                if self.sample is not None and self.sample.repeats(event.data):
                    n[_REPEATS] += 1
            elif slot == _NO_KEY or slot == _DECRYPT or slot == _AUTH:
                self.key_detail = event.detail
            elif slot == _UNKNOWN or slot == _MALFORMED or slot == _TOO_LONG:
                self.layout_detail = event.detail
        if slot != _NOISE and slot != _HCS and slot != _SEQUENCE:
            self.sample = None  # a frame, or part of one: see __init__
        n[slot] += 1
        self.events += 1
        if self.events >= self.window:
            self.events >>= 1
            for i in range(_SLOTS):
                n[i] = (n[i] + 1) >> 1  # a count of 1 stays: the last problem is not forgotten

    def verdict(self, now_ms=None):
        """(code, sentence) for what the line does in the window. The healthy line's sentence
        is made here; any other verdict is a key, (line of han.verdicts, what fills it in),
        whose sentence han.verdicts makes when the key changes."""
        n = self.n
        readings = n[_READINGS]
        keys = max(n[_NO_KEY], n[_DECRYPT], n[_AUTH])
        if now_ms is not None and (self.last_ms is None or
                                   (now_ms - self.last_ms) & _TICKS_MASK > _NO_DATA_MS):
            line = (_NO_DATA_FOR, _NO_DATA_MS // 1000) if self.last_ms is not None else (_NO_DATA,)
        elif not self.bytes and not self.events:
            line = (_NO_DATA,)
        elif keys and keys >= readings:
            if n[_NO_KEY] != keys and n[_DECRYPT] != keys:
                line = (_AUTH_FAILED,)
            else:
                line = (_NO_KEY_SAY if n[_NO_KEY] == keys else _WRONG_KEY), self.key_detail
        else:
            bad = n[_CHECKSUM] + n[_TRUNCATED]
            malformed = n[_MALFORMED]
            if bad or n[_NOISE] > readings + keys + n[_UNKNOWN]:
                # Amid checksum failures or noise, frames that pass but do not parse were damaged
                # too (a flipped bit can end a P1 telegram early, where no CRC is required).
                bad += malformed
                malformed = 0
            layouts = n[_UNKNOWN] + n[_TOO_LONG] + malformed
            valid = readings + keys + layouts
            if bad and (not valid or (bad >= 2 and bad * 4 >= bad + valid)):
                line = _CORRUPTED, bad, bad + valid
            elif layouts and layouts >= readings:
                line = _UNKNOWN_LAYOUT, self.layout_detail
            elif valid:
                line = "ok Frames decode (%d reading%s" % (readings, "" if readings == 1 else "s")
                if bad:
                    line += ", %d of %d frames failed the checksum" % (bad, bad + valid)
                line += ")."
            else:  # no frame decodes: what the bytes look like decides (han.verdicts, loaded for it)
                line = load("verdicts").undecoded(self.sample, n[_REPEATS], n[_NOISE], n[_HCS])
        if not isinstance(line, str):
            if line != self.said:
                self.said = line
                self.sentence = load("verdicts").sentence(line)
            line = self.sentence
        space = line.find(" ")
        return line[:space], line[space + 1:]
