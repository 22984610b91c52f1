# A test-side encoder: builds what meters send, layer by layer, so tests can feed the pipeline
# telegrams whose contents they know. Plain Python for CPython and MicroPython alike.
#
#   A-XDR data -> list layouts -> data-notification -> [GBT] -> [general-glo-ciphering]
#              -> [LLC] -> HDLC frames (segmented) | M-Bus long frames (segmented)
#
# Nothing here imports the decoder it tests (han.*), except han.crypto.gcm on MicroPython,
# where there is no other AES-GCM; on CPython the `cryptography` package is the oracle.
# The second half builds random telegrams together with the readings they must decode to.
import struct

# ---------------------------------------------------------------------------------------------
# A-XDR (Blue Book table 2): every function returns the tagged encoding of one Data element.


def ber_length(n):
    """BER length: one byte below 0x80, else 0x81 n / 0x82 nn nn / 0x83 nnn."""
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    if n < 0x10000:
        return bytes([0x82, n >> 8, n & 0xFF])
    return bytes([0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF])


def null():
    return b"\x00"


def dont_care():
    return b"\xff"


def array(elements):
    return b"\x01" + ber_length(len(elements)) + b"".join(elements)


def structure(elements):
    return b"\x02" + ber_length(len(elements)) + b"".join(elements)


def boolean(value, true_byte=1):
    return b"\x03" + bytes([true_byte if value else 0])


def bit_string(bits):
    """`bits` is text of '0'/'1', first bit = most significant bit of the first byte."""
    out = bytearray((len(bits) + 7) // 8)
    for i in range(len(bits)):
        if bits[i] == "1":
            out[i >> 3] |= 0x80 >> (i & 7)
    return b"\x04" + ber_length(len(bits)) + bytes(out)


def double_long(n):
    return b"\x05" + struct.pack(">i", n)


def double_long_unsigned(n):
    return b"\x06" + struct.pack(">I", n)


def octet_string(data):
    return b"\x09" + ber_length(len(data)) + bytes(data)


def visible_string(text):
    raw = text.encode()
    return b"\x0a" + ber_length(len(raw)) + raw


def utf8_string(text):
    raw = text.encode("utf-8")
    return b"\x0c" + ber_length(len(raw)) + raw


def bcd(n):
    """Two decimal digits 0..99 in one byte."""
    return b"\x0d" + bytes([(n // 10) << 4 | n % 10])


def integer(n):
    return b"\x0f" + struct.pack(">b", n)


def long(n):
    return b"\x10" + struct.pack(">h", n)


def unsigned(n):
    return b"\x11" + struct.pack(">B", n)


def long_unsigned(n):
    return b"\x12" + struct.pack(">H", n)


def long64(n):
    return b"\x14" + struct.pack(">q", n)


def long64_unsigned(n):
    return b"\x15" + struct.pack(">Q", n)


def enum(n):
    return b"\x16" + struct.pack(">B", n)


def float32(x):
    return b"\x17" + struct.pack(">f", x)


def float64(x):
    return b"\x18" + struct.pack(">d", x)


def date_time(raw12):
    return b"\x19" + bytes(raw12)


def date(raw5):
    return b"\x1a" + bytes(raw5)


def time(raw4):
    return b"\x1b" + bytes(raw4)


def scaler_unit(scaler, unit):
    """scal_unit_type: structure {integer scaler, enum unit}."""
    return structure([integer(scaler), enum(unit)])


def obis(code):
    """An OBIS code (6 bytes) as the octet-string lists carry it."""
    return octet_string(code)


# Integer types: (encoder, byte width, signed).
INTEGER_TYPES = (
    (double_long, 4, True),
    (double_long_unsigned, 4, False),
    (integer, 1, True),
    (long, 2, True),
    (unsigned, 1, False),
    (long_unsigned, 2, False),
    (long64, 8, True),
    (long64_unsigned, 8, False),
    (enum, 1, False),
)


def integer_range(width, signed):
    if signed:
        return -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1
    return 0, (1 << (8 * width)) - 1

# ---------------------------------------------------------------------------------------------
# COSEM date-time (Blue Book 4.1.6.1) and the data-notification APDU.


def cosem_datetime(year, month, day, weekday=0xFF, hour=0, minute=0, second=0, hundredths=0xFF,
                   deviation=None, status=0x00):
    """12 bytes; deviation = minutes local time is behind UTC (-120 = UTC+2), None = 0x8000."""
    dev = 0x8000 if deviation is None else deviation & 0xFFFF
    return struct.pack(">HBBBBBBBHB", year, month, day, weekday, hour, minute, second, hundredths,
                       dev, status)


def cosem_date(year, month, day, weekday=0xFF):
    return struct.pack(">HBBB", year, month, day, weekday)


def cosem_time(hour, minute, second, hundredths=0xFF):
    return bytes([hour, minute, second, hundredths])


DATA_NOTIFICATION = 0x0F
TIME_ABSENT = "absent"   # 00 (Aidon)
TIME_BARE = "bare"       # 0C + 12 bytes (Kamstrup, L&G, Netz NÖ)
TIME_TAGGED = "tagged"   # 09 0C + 12 bytes (Kaifa)
TIME_FORMS = (TIME_ABSENT, TIME_BARE, TIME_TAGGED)


def notification_time(raw12, form):
    if form == TIME_ABSENT or raw12 is None:
        return b"\x00"
    if form == TIME_BARE:
        return b"\x0c" + raw12
    return b"\x09\x0c" + raw12


def data_notification(body, header_time=None, form=TIME_ABSENT, invoke_id=0x40000000):
    """0F <long-invoke-id-and-priority> <date-time> <body>."""
    return bytes([DATA_NOTIFICATION]) + struct.pack(">I", invoke_id) + \
        notification_time(header_time, form) + body


# ---------------------------------------------------------------------------------------------
# List layouts (protocol.md 3.6). `entries` are (obis code, encoded value, scaler-unit or None),
# the scaler-unit given as (scaler, unit).


def _scaler_unit_or_nothing(su):
    return [] if su is None else [scaler_unit(su[0], su[1])]


def aidon_list(entries):
    """Array of structures {OBIS, value[, scaler-unit]}."""
    return array([structure([obis(code), value] + _scaler_unit_or_nothing(su))
                  for code, value, su in entries])


def kamstrup_list(list_id, entries):
    """Flat structure: visible-string list id, then OBIS, value pairs (no scalers)."""
    elements = [visible_string(list_id)]
    for code, value, _ in entries:
        elements += [obis(code), value]
    return structure(elements)


def triples_list(entries, head=(), tail=()):
    """Flat structure of OBIS, value[, scaler-unit] runs between unlabelled head and tail
    elements (Netz NÖ: meter time first, meter number last)."""
    elements = list(head)
    for code, value, su in entries:
        elements += [obis(code), value] + _scaler_unit_or_nothing(su)
    return structure(elements + list(tail))


# ---------------------------------------------------------------------------------------------
# General block transfer (E0) and general-glo-ciphering (DB).

GBT_LAST = 0x80
GBT_STREAMING = 0x40


def gbt_block(number, data, last, window=0, streaming=True):
    control = (GBT_LAST if last else 0) | (GBT_STREAMING if streaming and not last else 0) | window
    return bytes([0xE0, control]) + struct.pack(">HH", number, 0) + ber_length(len(data)) + bytes(data)


def gbt_blocks(apdu, sizes, window=0):
    """Split `apdu` into GBT APDUs of the given data sizes (numbers from 1; the last gets LB)."""
    blocks = []
    at = 0
    for i in range(len(sizes)):
        last = i == len(sizes) - 1
        part = apdu[at:] if last else apdu[at:at + sizes[i]]
        blocks.append(gbt_block(i + 1, part, last, window))
        at += sizes[i]
    return blocks


def gcm_encrypt(key, iv, plaintext, aad):
    """(ciphertext, 16-byte tag); an independent AES-GCM on CPython, han.crypto on MicroPython."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        AESGCM = None
    if AESGCM is not None:
        sealed = AESGCM(bytes(key)).encrypt(bytes(iv), bytes(plaintext), bytes(aad) if aad else None)
        return sealed[:-16], sealed[-16:]
    from han.crypto.gcm import Gcm
    from han.crypto.seal import seal
    data = bytearray(plaintext)
    tag = seal(Gcm(bytes(key)), bytes(iv), data, bytes(aad) if aad else None)
    return bytes(data), bytes(tag)


SC_ENCRYPTED = 0x20
SC_AUTHENTICATED = 0x10
TAG_LENGTH = 12


def glo_ciphering(apdu, system_title, counter, security, encryption_key, authentication_key=None,
                  tag=None):
    """DB 08 <system title> <BER length> SC FC ciphertext [12-byte tag].

    IV = system title || FC; AAD = SC || AK when the tag is sent (AK may be withheld from the
    decoder, but the meter always has one). `tag` overrides the computed tag (to forge one).
    """
    iv = bytes(system_title) + struct.pack(">I", counter)
    authenticated = security & SC_AUTHENTICATED
    aad = bytes([security]) + bytes(authentication_key or bytes(16)) if authenticated else None
    ciphertext, full_tag = gcm_encrypt(encryption_key, iv, apdu, aad)
    rest = bytes([security]) + struct.pack(">I", counter) + ciphertext
    if authenticated:
        rest += full_tag[:TAG_LENGTH] if tag is None else tag
    return b"\xdb" + bytes([len(system_title)]) + bytes(system_title) + ber_length(len(rest)) + rest


# ---------------------------------------------------------------------------------------------
# LLC and HDLC type 3 (IEC 62056-46).

LLC = b"\xe6\xe7\x00"
FLAG = 0x7E
UI = 0x13


def llc(apdu):
    return LLC + bytes(apdu)


def crc16_x25(data):
    """CRC-16/X.25 bit by bit (reflected 0x8408, init and xorout 0xFFFF)."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def hdlc_address(parts):
    """An HDLC address from 7-bit parts (1, 2 or 4), the LSB set only on the last byte."""
    out = bytearray((p & 0x7F) << 1 for p in parts)
    out[-1] |= 1
    return bytes(out)


def hdlc_frame(info, destination, source, control=UI, segmented=False):
    """7E | A<S>LL LL | dst | src | ctrl | HCS | info | FCS | 7E (HCS/FCS low byte first)."""
    length = 2 + len(destination) + len(source) + 1 + 2 + len(info) + 2
    if not info:
        length -= 2  # no information field: no HCS either
    if length > 0x7FF:
        raise ValueError("HDLC frame too long: %d" % length)
    body = bytearray([0xA0 | (0x08 if segmented else 0) | (length >> 8), length & 0xFF])
    body += destination + source + bytes([control])
    if info:
        hcs = crc16_x25(body)
        body += bytes([hcs & 0xFF, hcs >> 8]) + info
    fcs = crc16_x25(body)
    body += bytes([fcs & 0xFF, fcs >> 8])
    return bytes([FLAG]) + bytes(body) + bytes([FLAG])


def hdlc_frames(message, destination, source, sizes=None, control=UI):
    """One message as HDLC frames: information fields of `sizes` (default: one frame), the
    segmentation bit set on all but the last."""
    sizes = sizes or [len(message)]
    frames = []
    at = 0
    for i in range(len(sizes)):
        last = i == len(sizes) - 1
        part = message[at:] if last else message[at:at + sizes[i]]
        frames.append(hdlc_frame(part, destination, source, control, not last))
        at += sizes[i]
    return frames


def join_frames(frames, share_flags=False):
    """Concatenate frames; with share_flags one 0x7E closes a frame and opens the next."""
    out = bytearray()
    for frame in frames:
        if share_flags and out and out[-1] == FLAG and frame[0] == FLAG:
            out += frame[1:]
        else:
            out += frame
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# M-Bus long frames with the DLMS transport (EN 13757-2, Green Book M-Bus wrapper).

MBUS_MAX_DATA = 250
SND_UD = 0x53


def mbus_frame(data, ci, control=SND_UD, address=0xFF, stsap=0x01, dtsap=0x67):
    """68 L L 68 | C A CI STSAP DTSAP data | CS 16."""
    user = bytes([control, address, ci, stsap, dtsap]) + bytes(data)
    if len(user) > 255:
        raise ValueError("M-Bus frame too long")
    return bytes([0x68, len(user), len(user), 0x68]) + user + bytes([sum(user) & 0xFF, 0x16])


def mbus_frames(message, sizes=None, control=SND_UD):
    """CI 0x10 for a single frame; else segments 0x00, 0x01, ... with FIN (0x10) on the last."""
    sizes = sizes or [len(message)]
    if len(sizes) > 16:
        raise ValueError("at most 16 M-Bus segments")
    frames = []
    at = 0
    for i in range(len(sizes)):
        last = i == len(sizes) - 1
        part = message[at:] if last else message[at:at + sizes[i]]
        frames.append(mbus_frame(part, (0x10 if last else 0) | i, control))
        at += sizes[i]
    return frames


# =============================================================================================
# Random telegrams with their expected readings.
#
# `rng` is anything with below(n), between(a, b), choice(seq), bytes(n), chance(percent): the
# deterministic Rng below (same cases on both interpreters) or a hypothesis adapter.


class Rng:
    """xorshift32: the same sequence on CPython and MicroPython for the same seed."""

    def __init__(self, seed):
        self.state = ((seed * 2654435761) ^ 0x9E3779B9) & 0xFFFFFFFF or 1

    def next32(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        if n <= 1:
            return 0
        if n <= 1 << 24:
            return (self.next32() * n) >> 32
        value = 0
        for _ in range(3):
            value = (value << 32) | self.next32()
        return value % n

    def between(self, a, b):
        return a + self.below(b - a + 1)

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def bytes(self, n):
        return bytes(self.next32() & 0xFF for _ in range(n))

    def chance(self, percent):
        return self.below(100) < percent


# Units of electricity OBIS codes (A = 1) per Blue Book / protocol.md 3.12: (C, D) -> unit,
# for values the meter sends without scaler-unit (the decoder then infers the unit).
KNOWN_UNITS = {
    (1, 7): 27, (2, 7): 27, (21, 7): 27, (41, 7): 27, (61, 7): 27,  # active power, W
    (3, 7): 29, (4, 7): 29,                                         # reactive power, var
    (9, 7): 28,                                                     # apparent power, VA
    (1, 8): 30, (2, 8): 30, (21, 8): 30,                            # active energy, Wh
    (3, 8): 32, (4, 8): 32,                                         # reactive energy, varh
    (31, 7): 33, (51, 7): 33, (71, 7): 33,                          # current, A
    (32, 7): 35, (52, 7): 35, (72, 7): 35,                          # voltage, V
    (14, 7): 44,                                                    # frequency, Hz
    (13, 7): 255,                                                   # power factor
}
KNOWN_CODES = sorted(KNOWN_UNITS)  # MicroPython dicts do not keep insertion order
NO_UNIT = 255
CLOCK = b"\x00\x00\x01\x00\x00\xff"
LIST_ID = b"\x01\x01\x00\x02\x81\xff"  # the list version id, reported under this code
METER_ID = b"\x00\x00\x60\x01\x00\xff"
# Bytes that mean something to the framing layers: they must be harmless inside values.
SPECIAL_BYTES = (0x7E, 0x68, 0x16, 0xE6, 0xE7, 0xE0, 0xDB, 0x0F, 0x00, 0xFF, 0xA0, 0xA8)
# Manufacturer flags that make the decoder apply a meter convention (random titles avoid them).
from han.meters import CONVENTIONS  # noqa: E402
# (The table is text: a line per convention, its FLAG id fourth, "-" for none.)
CONVENTION_FLAGS = tuple(line.split(" ")[3].encode() for line in CONVENTIONS
                         if line.split(" ")[3] != "-")


def _special_obis(code):
    c, d, e = code[2], code[3], code[4]
    return (c == 1 and d == 0 and e == 0) or (c == 0 and d == 2 and e == 129)


def random_obis(rng, labelled_unit):
    """(code, unit the decoder infers) for an item; with labelled_unit the unit is sent inline,
    so any code goes; without, the code is known (A = 1) or has no unit (A != 1)."""
    while True:
        if not labelled_unit and rng.chance(50):
            c, d = rng.choice(KNOWN_CODES)
            code = bytes([1, rng.below(8), c, d, rng.choice((0, 1, 2, 0x7E, 0x68)), 255])
            return code, KNOWN_UNITS[(c, d)]
        code = bytearray(rng.bytes(6))
        for i in range(6):
            if rng.chance(8):
                code[i] = rng.choice(SPECIAL_BYTES)
        if not labelled_unit and code[0] == 1:
            code[0] = rng.choice((0, 2, 0x7E))
        code = bytes(code)
        if not _special_obis(code):
            return code, NO_UNIT


def random_datetime(rng):
    deviation = None if rng.chance(40) else rng.between(-720, 720)
    return cosem_datetime(rng.between(2000, 2099), rng.between(1, 12), rng.between(1, 28),
                          rng.choice((1, 2, 3, 4, 5, 6, 7, 0xFF)), rng.between(0, 23),
                          rng.between(0, 59), rng.between(0, 59),
                          rng.choice((0xFF, 0, rng.between(0, 99))), deviation,
                          rng.choice((0x00, 0x80, 0xFF, rng.below(256))))


def _random_int(rng, width, signed):
    lo, hi = integer_range(width, signed)
    how = rng.below(10)
    if how == 0:
        return rng.choice((lo, hi, 0, hi // 2, lo + 1 if lo < 0 else 1, -1 if lo < 0 else hi - 1))
    if how == 1:  # made of bytes that look like frame starts
        value = 0
        for _ in range(width):
            value = (value << 8) | rng.choice(SPECIAL_BYTES)
        return value - (1 << (8 * width)) if signed and value > hi else value
    if how < 5:  # small magnitudes, as meters mostly send
        return max(lo, min(hi, rng.between(-1000, 100000) if lo < 0 else rng.below(100000)))
    return rng.between(lo, hi)


ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.:/~^"
UTF8_EXTRA = ("æ", "ø", "å", "Ö", "€", "°", "µ", "Ω", "中", "~")


def _random_text(rng, size, extra=()):
    pool = list(ASCII) + list(extra)
    return "".join(rng.choice(pool) for _ in range(size))


# An expected value is a tuple: ("num", raw, scaler, unit, exact) | ("bool", b) | ("str", s) |
# ("bytes", b) | ("dt", 12 raw bytes) | ("list", [ints]); None = the item is not reported.
VALUE_KINDS = ("int", "int", "int", "int", "bool", "bits", "octets", "visible", "utf8", "float32",
               "float64", "datetime", "date", "time", "null", "array", "bcd")


def random_value(rng, kind=None):
    """(encoded value, value description) where the description is
    ("int", n) | ("float", mantissa, exponent2) | any expected-value tuple | None."""
    kind = kind or rng.choice(VALUE_KINDS)
    if kind == "int":
        encode, width, signed = rng.choice(INTEGER_TYPES)
        n = _random_int(rng, width, signed)
        return encode(n), ("int", n)
    if kind == "bcd":
        n = rng.below(100)
        return bcd(n), ("int", n)
    if kind == "bool":
        b = rng.chance(50)
        return boolean(b, rng.choice((1, 1, 0xFF, 0x7E))), ("bool", b)
    if kind == "bits":
        bits = "".join(rng.choice("01") for _ in range(rng.below(41)))
        return bit_string(bits), ("str", bits)
    if kind == "octets":
        raw = bytearray(rng.bytes(rng.below(41)))
        for i in range(len(raw)):
            if rng.chance(10):
                raw[i] = rng.choice(SPECIAL_BYTES)
        return octet_string(raw), ("bytes", bytes(raw))
    if kind == "visible":
        text = _random_text(rng, rng.below(31))
        return visible_string(text), ("str", text)
    if kind == "utf8":
        text = _random_text(rng, rng.below(21), UTF8_EXTRA)
        return utf8_string(text), ("str", text)
    if kind in ("float32", "float64"):
        # m × 2^e with few significant digits: exactly representable, exactly decimal.
        bits = 10 if kind == "float32" else 30
        m = rng.between(-(1 << bits), 1 << bits)
        e = rng.between(-4, 4)
        x = float(m) * (2.0 ** e)
        return (float32 if kind == "float32" else float64)(x), ("float", m, e)
    if kind == "datetime":
        raw = random_datetime(rng)
        return date_time(raw), ("dt", raw)
    if kind == "date":
        raw = cosem_date(rng.between(2000, 2099), rng.between(1, 12), rng.between(1, 31),
                         rng.choice((1, 7, 0xFF)))
        return date(raw), ("dt", raw + b"\xff\xff\xff\xff\x80\x00\xff")
    if kind == "time":
        raw = cosem_time(rng.between(0, 23), rng.between(0, 59), rng.between(0, 59),
                         rng.choice((0, 99, 0xFF)))
        return time(raw), ("dt", b"\xff\xff\xff\xff\xff" + raw + b"\x80\x00\xff")
    if kind == "null":
        return (null() if rng.chance(70) else dont_care()), None
    if kind == "array":
        values = [rng.below(0x10000) for _ in range(rng.below(6))]
        return array([long_unsigned(v) for v in values]), ("list", values)
    raise ValueError(kind)


def expected_value(description, su, default_unit):
    """What the decoder must report for a value sent with scaler-unit `su` (or None)."""
    if description is None:
        return None
    kind = description[0]
    if kind == "int":
        if su is not None:
            return ("num", description[1], su[0], su[1], True)
        return ("num", description[1], 0, default_unit, True)
    if kind == "float":
        m, e = description[1], description[2]
        raw, scaler = (m << e, 0) if e >= 0 else (m * 5 ** -e, e)  # m / 2^k = m·5^k / 10^k
        if su is not None:
            return ("num", raw, scaler + su[0], su[1], False)
        return ("num", raw, scaler, default_unit, False)
    return description


class Telegram:
    """One data-notification and what it must decode to."""

    def __init__(self):
        self.apdu = b""          # the plaintext data-notification
        self.body = b""          # its notification body (the list)
        self.security_control = None  # SC of the ciphering layer, or None
        self.items = []          # [(obis, expected value)] in order, absent values left out
        self.time = None         # raw 12 bytes of reading.time, or None
        self.list_id = None
        self.system_title = None  # set when ciphered
        self.layers = []         # the reading's layers (the link layer first, once framed)
        self.messages = []       # link-layer messages (LLC/APDU bytes), one per GBT block
        self.frames = []         # the link frames carrying `messages`
        self.link = None


LAYOUTS = ("aidon", "kamstrup", "triples")


def random_notification(rng, layout=None, max_items=24):
    """A Telegram with `apdu` = a data-notification of a random list."""
    t = Telegram()
    layout = layout or rng.choice(LAYOUTS)
    count = rng.between(1, max_items)
    entries = []
    clock_time = None
    head = []
    tail = []
    for _ in range(count):
        if layout != "kamstrup" and rng.chance(10):
            raw = random_datetime(rng)  # the meter clock as a labelled octet-string
            entries.append((CLOCK, octet_string(raw), None))
            t.items.append((CLOCK, ("dt", raw)))
            clock_time = clock_time or raw
            continue
        labelled = layout != "kamstrup" and rng.chance(70)
        code, unit = random_obis(rng, labelled)
        su = (rng.between(-128, 127) if rng.chance(20) else rng.between(-6, 6),
              rng.below(256)) if labelled else None
        encoded, description = random_value(rng)
        entries.append((code, encoded, su))
        value = expected_value(description, su, unit)
        if value is not None:
            t.items.append((code, value))
    if layout == "aidon":
        body = aidon_list(entries)
    elif layout == "kamstrup":
        t.list_id = "HANTEST_V%04d" % rng.below(10000)
        if rng.chance(30):  # Kamstrup sends its clock as an OBIS, octet-string pair
            raw = random_datetime(rng)
            entries.insert(0, (CLOCK, octet_string(raw), None))
            t.items.insert(0, (CLOCK, ("dt", raw)))
            clock_time = raw
        t.items.insert(0, (LIST_ID, ("str", t.list_id)))
        body = kamstrup_list(t.list_id, entries)
    else:
        if rng.chance(50):  # Netz NÖ: unlabelled meter time first ...
            raw = random_datetime(rng)
            head.append(octet_string(raw))
            t.items.insert(0, (CLOCK, ("dt", raw)))
            clock_time = raw
        if rng.chance(50):  # ... and the meter number last
            number = "".join(rng.choice("0123456789") for _ in range(rng.choice((12, 16))))
            if rng.chance(50):
                tail.append(octet_string(number.encode()))
                t.items.append((METER_ID, ("bytes", number.encode())))
            else:
                tail.append(visible_string(number))
                t.items.append((METER_ID, ("str", number)))
        body = triples_list(entries, head, tail)
    form = rng.choice(TIME_FORMS)
    header = random_datetime(rng) if form != TIME_ABSENT else None
    t.time = header or clock_time
    invoke = rng.choice((0x40000000, 0x80000000 | rng.below(1 << 24), rng.below(1 << 32)))
    t.body = body
    t.apdu = data_notification(body, header, form, invoke)
    t.layers = ["data-notification"]
    return t


class Security:
    """The keys a test stream uses, and what the pipeline is told."""

    def __init__(self, encryption, authentication, give_authentication=True):
        self.encryption = encryption
        self.authentication = authentication
        self.give_authentication = give_authentication

    def keys(self):
        from han.keys import cipher
        return cipher(self.encryption, self.authentication if self.give_authentication else None)


def random_security(rng):
    return Security(rng.bytes(16), rng.bytes(16), rng.chance(75))


def random_system_title(rng):
    while True:
        title = rng.bytes(8) if rng.chance(50) else \
            rng.choice((b"SAG", b"LGZ", b"ISK", b"ELG", b"~h\x16")) + rng.bytes(5)
        if title[:3] not in CONVENTION_FLAGS:
            return title


def _split(rng, total, parts, largest=None):
    """`parts` sizes > 0 summing to `total` (parts <= total), none above `largest`."""
    largest = largest or total
    sizes = [1] * parts
    left = total - parts
    while left > 0:
        i = rng.below(parts)
        room = min(left, largest - sizes[i])
        if room > 0:
            add = rng.between(1, room)
            sizes[i] += add
            left -= add
    return sizes


def wrap(rng, t, security=None, gbt=None, cipher_order=None):
    """Block transfer and ciphering around t.apdu: sets t.messages (APDUs) and t.layers."""
    apdu = t.apdu
    use_gbt = rng.chance(25) if gbt is None else gbt
    order = cipher_order or rng.choice(("outer", "outer", "inner"))
    sc = None
    if security is not None:
        sc = t.security_control = rng.choice((0x20, 0x21, 0x30, 0x30, 0x31))
        t.system_title = random_system_title(rng)

    def cipher(data):
        counter = rng.choice((0, 0x7E7E7E7E, rng.below(1 << 32)))
        return glo_ciphering(data, t.system_title, counter, sc, security.encryption,
                             security.authentication)

    layers = list(t.layers)
    if sc is not None and (not use_gbt or order == "outer"):
        apdu = cipher(apdu)
        layers = ["glo-ciphering"] + layers
    if use_gbt:
        count = rng.between(1, min(6, len(apdu)))
        blocks = gbt_blocks(apdu, _split(rng, len(apdu), count))
        if sc is not None and order == "inner":
            blocks = [cipher(b) for b in blocks]
            layers = ["glo-ciphering", "gbt"] + layers
        else:
            layers = ["gbt"] + layers
        t.messages = blocks
    else:
        t.messages = [apdu]
    t.layers = layers
    return t


HDLC_MAX_INFO = 2000
HDLC_CLIENTS = (0x10, 0x20, 0x41 >> 1, 0x2B >> 1, 0x7F)


def frame(rng, t, link=None, address_size=None, max_segments=4):
    """Link frames for t.messages: sets t.frames and t.link."""
    link = link or rng.choice(("hdlc", "hdlc", "mbus"))
    t.link = link
    frames = []
    if link == "hdlc":
        size = address_size or rng.choice((1, 2, 4))
        server = hdlc_address([rng.below(128) for _ in range(size)])
        client = hdlc_address([rng.choice(HDLC_CLIENTS)])
        with_llc = rng.chance(90)
        if with_llc:
            t.layers = ["llc"] + t.layers
        for message in t.messages:
            message = llc(message) if with_llc else message
            least = (len(message) + HDLC_MAX_INFO - 1) // HDLC_MAX_INFO
            count = rng.between(least, max(least, min(max_segments, len(message))))
            sizes = _split(rng, len(message), count, HDLC_MAX_INFO)
            frames += hdlc_frames(message, client, server, sizes)
    else:
        control = rng.choice((0x53, 0x73))
        for message in t.messages:
            least = (len(message) + MBUS_MAX_DATA - 1) // MBUS_MAX_DATA
            count = rng.between(least, min(16, max(least, min(len(message), least + max_segments - 1))))
            sizes = _split(rng, len(message), count, MBUS_MAX_DATA)
            frames += mbus_frames(message, sizes, control)
    t.frames = frames
    t.layers = [link] + t.layers
    return t


def random_telegram(rng, security=None, link=None, layout=None, gbt=None, max_items=24,
                    max_segments=4):
    t = random_notification(rng, layout, max_items)
    wrap(rng, t, security, gbt)
    return frame(rng, t, link, max_segments=max_segments)


def random_noise(rng, size):
    """Noise that likes frame-start bytes (0x7E, 0x68) but holds no valid frame."""
    out = bytearray(rng.bytes(size))
    for i in range(size):
        if rng.chance(15):
            out[i] = rng.choice((0x7E, 0x68, 0xA0, 0xA8, 0x16))
    return bytes(out)


def stream(rng, telegrams, noise=0, share_flags=None, gaps=None):
    """All frames of all telegrams in order; HDLC neighbours may share a flag; noise (up to
    `noise` bytes) before each frame, also appended to the list `gaps` if given. Returns bytes."""
    out = bytearray()
    for t in telegrams:
        for f in t.frames:
            gap = random_noise(rng, rng.below(noise + 1)) if noise else b""
            if gaps is not None:
                gaps.append(gap)
            share = rng.chance(50) if share_flags is None else share_flags
            if gap:
                out += gap
            elif share and out and out[-1] == FLAG and f[0] == FLAG:
                out += f[1:]
                continue
            out += f
    return bytes(out)


def chunkings(rng, count):
    """Chunk size limits: byte by byte, small, medium and whole-4 KB chunks."""
    limits = [1, 2, 3, 7, 16, 64, 255, 256, 1000, 4096]
    return [rng.choice(limits) for _ in range(count)]


def chunks(rng, data, limit):
    at = 0
    while at < len(data):
        n = rng.between(1, limit)
        yield data[at:at + n]
        at += n
