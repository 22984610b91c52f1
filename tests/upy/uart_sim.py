# What a UART delivers when its serial settings differ from the meter's (test helper, both
# interpreters).
#
# The meter's UART turns bytes into a waveform: idle high, a start bit 0, the data bits LSB
# first, an optional parity bit, stop bit(s) 1, idle again (`invert`: the whole line is
# logically inverted, as on P1). `receive` samples that waveform the way a UART configured with
# another setting does: it waits for a falling edge, checks the start bit in its middle, samples
# each bit in its middle at its own baud rate and delivers the byte even on a parity or framing
# error (what the ESP32 UART does), then hunts for the next falling edge after its stop sample.
# A break (all bits 0, stop bit 0) is delivered as one 0x00, as most UARTs report it.
#
# Settings are tuples (baud, bits, parity, stop, invert), parity None, "E" or "O": the same
# shape han.detective uses. Pure and deterministic.

IDLE_BITS = 20  # idle line before and after the bytes (sender bit times)


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _parity_bit(byte, bits, parity):
    ones = 0
    for i in range(bits):
        ones += (byte >> i) & 1
    return (ones & 1) if parity == "E" else (ones & 1) ^ 1


def serialise(data, setting, gap=0, lead=IDLE_BITS, tail=IDLE_BITS):
    """The wire levels, one per bit time of `setting`'s baud; `gap` idle bits between bytes."""
    baud, bits, parity, stop, invert = setting
    out = bytearray(b"\x01" * lead)
    for byte in data:
        out.append(0)
        for i in range(bits):
            out.append((byte >> i) & 1)
        if parity:
            out.append(_parity_bit(byte, bits, parity))
        out.extend(b"\x01" * (stop + gap))
    out.extend(b"\x01" * tail)
    if invert:
        for i in range(len(out)):
            out[i] ^= 1
    return out


def receive(levels, tx_baud, setting, check_parity=False):
    """The bytes a UART at `setting` reads from `levels` (wire levels at `tx_baud`).

    `check_parity`: drop bytes whose parity bit is wrong (some drivers do; the ESP32 does not).
    """
    baud, bits, parity, stop, invert = setting
    unit = tx_baud * baud // _gcd(tx_baud, baud) * 2  # ticks per second: both bit times integral
    sp = unit // tx_baud   # ticks per sender bit
    rp = unit // baud      # ticks per receiver bit
    half = rp // 2
    n = len(levels)
    idle = levels[-1] if n else 1  # the line rests at its last level after the data
    flip = 1 if invert else 0
    out = bytearray()

    def level(t):
        i = t // sp
        return (levels[i] if i < n else idle) ^ flip

    t = 0
    k = 1
    while k < n:
        # the next falling edge (as the receiver sees the line) at a sender bit boundary after t
        if k * sp <= t:
            k = t // sp + 1
            continue
        if not ((levels[k - 1] ^ flip) == 1 and (levels[k] ^ flip) == 0):
            k += 1
            continue
        t0 = k * sp
        if level(t0 + half) != 0:  # a glitch shorter than half a bit: not a start bit
            k += 1
            continue
        value = 0
        for i in range(bits):
            value |= level(t0 + rp * (1 + i) + half) << i
        at = t0 + rp * (1 + bits) + half
        good = True
        if parity:
            if level(at) != _parity_bit(value, bits, parity):
                good = False
            at += rp
        at += rp * (stop - 1)
        if good or not check_parity:
            out.append(value)
        # idle from the stop sample on; after a framing error (stop bit 0) the line must go
        # high again before the next falling edge, which the edge search requires anyway
        t = at
        k = t // sp + 1
    return bytes(out)


def glitch(levels, per_mille, rng):
    """Flip bits of the waveform at random (`per_mille` of the bit times): a noisy supply or
    cable. `rng` has next32() (tests/upy/encoder.Rng)."""
    out = bytearray(levels)
    for i in range(len(out)):
        if rng.next32() % 1000 < per_mille:
            out[i] ^= 1
    return out


def transfer(data, tx, rx, gap=0, check_parity=False, noise=0, rng=None):
    """`data` sent at setting `tx`, read by a UART at setting `rx` (`noise`: glitches per mille
    of the bit times, drawn from `rng`)."""
    levels = serialise(data, tx, gap)
    if noise:
        levels = glitch(levels, noise, rng)
    return receive(levels, tx[0], rx, check_parity)


def airtime_ms(size, setting, gap=0):
    """How long `size` bytes take on the wire at `setting`."""
    baud, bits, parity, stop, invert = setting
    per_byte = 1 + bits + (1 if parity else 0) + stop + gap
    return size * per_byte * 1000 // baud


class Meter:
    """A meter that pushes `frames` (byte strings, cycled) every `period_ms` at setting `tx`.

    `open(rx, now_ms)` (re)opens the receiving UART at setting `rx`; `read(now_ms)` returns the
    chunks (at most `chunk` bytes) that UART has received by `now_ms`, each push's bytes
    spread over its airtime. A push already under way when the UART opens is missed entirely.
    """

    def __init__(self, frames, tx, period_ms, phase_ms=0, gap=0, chunk=64):
        self.frames = frames
        self.tx = tx
        self.period = period_ms
        self.phase = phase_ms
        self.gap = gap
        self.chunk = chunk
        self.pushed = 0     # pushes started so far
        self.rx = None
        self.opened = 0
        self.pending = []   # [(time_ms, bytes)] of pushes under way
        self.cache = {}     # (frame index, rx) -> received bytes

    def _received(self, index, rx):
        key = (index, rx)
        got = self.cache.get(key)
        if got is None:
            got = transfer(self.frames[index], self.tx, rx, self.gap)
            self.cache[key] = got
        return got

    def open(self, rx, now_ms):
        self.rx = rx
        self.opened = now_ms
        self.pending = []

    def read(self, now_ms):
        while True:
            start = self.phase + self.pushed * self.period
            if start > now_ms:
                break
            index = self.pushed % len(self.frames)
            self.pushed += 1
            if self.rx is None or start < self.opened:
                continue
            data = self._received(index, self.rx)
            duration = airtime_ms(len(self.frames[index]), self.tx, self.gap)
            for i in range(0, len(data), self.chunk):
                end = min(len(data), i + self.chunk)
                self.pending.append((start + duration * end // len(data), data[i:end]))
        out = []
        while self.pending and self.pending[0][0] <= now_ms:
            out.append(self.pending.pop(0)[1])
        return out
