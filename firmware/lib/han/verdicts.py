"""The diagnosis's sentences for a line that is not healthy, and what the bytes of a line look
like where no frame decodes (han.diagnosis).

Imported when the verdict changes, or no frame decodes, and forgotten right after
(han.errors.load): they take no heap while the line is healthy. Each verdict's line starts with
its code.
"""
from han.errors import load

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# Byte sample patterns (what the bytes of a line look like where no frame decodes; han.detective
# and the tests use the numbers)
_PATTERN_NONE = const(0)        # too few bytes to tell
_PATTERN_IDLE = const(1)        # only 0x00 / 0xFF: an idle, inverted or broken line
_PATTERN_SLOW = const(2)        # few values made of long bit runs: the UART is faster than the meter
_PATTERN_STRUCTURED = const(3)  # far fewer distinct values than random bytes: real data, wrong setting
_PATTERN_RANDOM = const(4)      # random-looking: noise
_MIN_SAMPLE = const(32)        # as han.diagnosis
_MIN_OTHER = const(64)

# Lines (as han.diagnosis numbers them)
_NO_DATA = const(1)
_NO_KEY = const(2)
_WRONG_KEY = const(3)
_UNKNOWN_LAYOUT = const(6)
_IDLE = const(7)
_REPEATING = const(8)
_TOO_FAST = const(9)
_PATTERNED = const(10)
_LINE_NOISE = const(11)
_NO_DATA_END = const(12)
_TRY = const(13)
_TITLE = const(14)
_NO_DETAIL = const(15)


def expected_distinct(n):
    """How many distinct values n random bytes have, on average (integer arithmetic)."""
    p = 1 << 16
    for _ in range(n):
        p = (p * 255) >> 8
    return (256 * ((1 << 16) - p)) >> 16


def pattern(sample):
    """What the bytes of a han.byte_sample.ByteSample look like: one of the _PATTERN_ numbers."""
    count = sample.count
    if count < _MIN_SAMPLE:
        return _PATTERN_NONE
    other = count - sample.zeros - sample.ones
    if not other:
        return _PATTERN_IDLE
    if (count - other + sample.runs) * 10 >= count * 9 and sample.distinct <= 16:
        return _PATTERN_SLOW
    if other >= _MIN_OTHER and sample.distinct * 10 < expected_distinct(other) * 6:
        return _PATTERN_STRUCTURED
    return _PATTERN_RANDOM


def undecoded(sample, repeats, noise, hcs):
    """The verdict's key for a line where no frame decodes, from its byte sample (when it is
    too short: the pattern of its last full one), the noise runs that began like the one
    before (`repeats`) among the `noise` runs, and the frame headers that failed their own
    checksum (`hcs`)."""
    found = pattern(sample) or sample.previous
    if found == _PATTERN_IDLE:
        return (_IDLE,)
    if repeats >= 2 and repeats * 3 >= noise:
        return (_REPEATING,)
    if found == _PATTERN_SLOW:
        return (_TOO_FAST,)
    if found == _PATTERN_STRUCTURED and not hcs:
        return (_PATTERNED,)
    return (_LINE_NOISE,)


def sentence(key):
    """The sentence for a verdict `key` of han.diagnosis: (line, what fills it in). A key
    error's verdict comes with the error's detail, which names the system title; an unknown
    layout's with the error's detail, which gives the list's shape."""
    index = key[0]
    line = LINES[index]
    if index == _NO_KEY or index == _WRONG_KEY:
        detail = key[1]
        at = detail.find("system title ") if detail else -1
        title = ""
        if at >= 0:  # ", system title ... (manufacturer)"
            words = detail[at + 13:].split(" ")
            name = load("meters").manufacturer(words[1].strip("()") if len(words) > 1 else "")
            title = LINES[_TITLE] % (words[0].rstrip(")"), ", " + name if name else "")
        line %= title
    elif index == _UNKNOWN_LAYOUT:
        detail = key[1]
        if detail:
            at = detail.find("layout: ")
            shape = detail[at + 8:] if at >= 0 else detail
            line %= shape if shape.endswith(".") else shape + "."
        else:
            line = line[:line.find("%s")] + LINES[_NO_DETAIL]
    elif len(key) > 1:
        line %= key[1:]
    if index <= _NO_DATA:
        line += LINES[_NO_DATA_END]
    return line[:-1] + LINES[_TRY] if line.endswith("~") else line

LINES = (
    # 0 no data for a while
    "no_data No data for %d s",
    # 1 no data at all
    "no_data No data arrives",
    # 2 no key
    "no_key Encrypted frames arrive but no encryption key is configured: enter the encryption"
    " key (GUEK; Danish grid operators call it GPK60) from your grid operator, and the "
    "authentication key (GAK, GPK61) if you were given one%s.",
    # 3 wrong key
    "wrong_key Encrypted frames arrive but do not decrypt to meter data: the encryption key "
    "(GUEK/GPK60) is wrong%s.",
    # 4 authentication failed
    "auth_failed Encrypted frames decrypt but their authentication tag does not verify: check"
    " the authentication key (GAK/GPK61).",
    # 5 corrupted
    "corrupted Frames are corrupted in transit (%d of %d failed the checksum): check the "
    "power supply and the cable.",
    # 6 unknown layout
    "unknown_layout Frames are valid but the layout is unknown: %s Please report it with a "
    "capture of the frames.",
    # 7 idle or inverted
    "idle_or_inverted The line is idle or inverted: only 0x00/0xFF bytes arrive. Check the "
    "invert setting (P1 lines are inverted) and the wiring.",
    # 8 repeating bursts
    "serial_settings Serial settings look wrong: bursts of bytes arrive that start the same "
    "way each time but never form a frame; ~",
    # 9 too fast
    "serial_settings Serial settings look wrong: the bytes are what a baud rate higher than "
    "the meter's makes of its frames; ~",
    # 10 patterned
    "serial_settings Serial settings look wrong: bytes arrive in patterns a wrong baud rate, "
    "parity or inversion makes of real frames, but never as a frame; ~",
    # 11 line noise
    "noise Line noise: data arrives but never as a frame. Check the power supply (a weak USB "
    "supply is the usual cause) and the wiring.",
    # 12 after a no_data sentence
    ": check the wiring and the RX pin, and that the grid operator has enabled the HAN/P1 "
    "port.",
    # 13 the serial settings to try (for ~)
    "try 2400 8N1 for Kamstrup; 2400 8E1 for Aidon, Kaifa, Landis+Gyr (CII) and Austrian "
    "M-Bus meters; 115200 8N1 inverted for P1/DSMR meters; 9600 8N1 for an optical (IR) head.",
    # 14 after "Encrypted frames arrive ...": the system title and the meter's maker
    " (system title %s%s)",
    # 15 an unknown layout without detail
    "(no detail).",
)
