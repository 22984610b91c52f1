"""DLMS data-notification -> Reading: notification header, list layouts, scaling.

Layouts are tried in order (LAYOUTS): a self-describing list (OBIS codes inline, as flat pairs or
as structures, with or without scaler-unit) or a positional list from the meter table. A list
no layout understands is reported with its shape, never decoded with invented OBIS codes.

A-XDR decoding of DLMS/COSEM Data (Blue Book table 2), the Reader below (one module with the
notification: a module of its own would cost the heap its dictionary and names).

Decoded values are plain Python values: structure -> tuple, array -> list, integers -> int,
octet-string -> bytes (or `...`: Reader.data), visible/utf8-string -> str, scaler-unit -> Quantity (raw value 0: its
scaler and unit), and small classes for the rest (date-time, floats kept exact). Every length and count is checked against the bytes present, so a
damaged or hostile message raises Error("malformed") instead of allocating without bound.
"""
from han.errors import Error, load
from han.values import DateTime, Decimal, Quantity, Reading, default_unit

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_ARRAY = const(0x01)
_STRUCTURE = const(0x02)
_BOOLEAN = const(0x03)
_OCTET_STRING = const(0x09)
_VISIBLE_STRING = const(0x0A)
_UTF8_STRING = const(0x0C)
_BCD = const(0x0D)
_INTEGER = const(0x0F)
_ENUM = const(0x16)
_DATE_TIME = const(0x19)
_MAX_DEPTH = const(8)
# new_cache() slots after the conventions (4 per list): the lists reused for every push
_ITEMS = const(8)    # the body's items (then a self-describing list's entries: entries())
_KIND = const(9)     # the body's tag: structure or array
_MOST = const(10)    # the most items the list has held
_CODES = const(11)   # the push's 6-byte octet-strings (OBIS codes, mostly), in order: a bytearray
_LAST = const(12)    # the last reading
# han.details lines
_ENDS_EARLY = const(0)
_LENGTH_FORM = const(1)
_COUNT = const(2)
_NESTED = const(3)
# (4: han.compact)

# By tag (0x00-0x1B): byte count of fixed-size integer types (0 = not one), and their signedness.
_SIZE = const(b"\0\0\0\1\0\4\4\0\0\0\0\0\0\1\0\1\2\1\2\0\x08\x08\1\0\0\0\0\0")
_SIGNED = const(b"\0\0\0\0\0\1\0\0\0\0\0\0\0\0\0\1\1\0\0\0\1\0\0\0\0\0\0\0")


class Reader:
    """Reads A-XDR from `buf[pos:end]`, advancing `pos`."""

    codes = None  # with a cache: its codes buffer (data()), `coded` bytes of it written

    def __init__(self, buf, pos=0, end=-1):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end < 0 else end

    def need(self, n):
        if n < 0 or self.pos + n > self.end:
            raise Error("malformed", (_ENDS_EARLY, self.pos, n))

    def byte(self):
        pos = self.pos
        if pos >= self.end:
            self.need(1)
        self.pos = pos + 1
        return self.buf[pos]

    def length(self, count=False):
        """A BER length: one byte below 0x80, else 0x8n followed by n bytes. With `count`, the
        number of elements that follow, each at least one byte: checked against those left."""
        n = self.byte()
        if n >= 0x80:
            if not 0 < n & 0x7F < 4:
                raise Error("malformed", (_LENGTH_FORM, n, self.pos - 1))
            n = self.unsigned(n & 0x7F)
        if count and n > self.end - self.pos:
            raise Error("malformed", (_COUNT, n, self.end - self.pos))
        return n

    def unsigned(self, n):
        self.need(n)
        buf = self.buf
        value = 0
        for i in range(self.pos, self.pos + n):
            value = (value << 8) | buf[i]
        self.pos += n
        return value

    def take(self, n):
        """The next `n` bytes as a copy (the message buffer is reused for the next frame)."""
        self.need(n)
        self.pos += n
        return bytes(self.buf[self.pos - n:self.pos])

    def data(self, depth=0, tag=-1, cache=None):
        """One Data element; with `tag`, the value of a `tag`-typed element without a tag byte.
        With `cache` (new_cache()), a structure or array comes in the cache's list of items
        (a list either way; its tag beside it), not in a new one."""
        if tag < 0:
            tag = self.byte()
        size = _SIZE[tag] if tag < 0x1C else 0
        if size:
            value = self.unsigned(size)
            if _SIGNED[tag] and value >> (size * 8 - 1):
                return value - (1 << (size * 8))
            if tag == _BOOLEAN:
                return value != 0
            if tag == _BCD:
                return (value >> 4) * 10 + (value & 0x0F)
            return value
        if tag == _STRUCTURE or tag == _ARRAY:
            if depth >= _MAX_DEPTH:
                raise Error("malformed", (_NESTED, _MAX_DEPTH))
            n = self.length(True)
            buf = self.buf
            pos = self.pos
            if tag == _STRUCTURE and n == 2 and pos + 4 <= self.end and buf[pos] == _INTEGER \
                    and buf[pos + 2] == _ENUM:
                self.pos = pos + 4
                scaler = buf[pos + 1]
                return Quantity(0, scaler - 256 if scaler > 127 else scaler, buf[pos + 3])  # a scaler-unit
            if cache is not None:
                cache[_KIND] = tag
                items = _sized(cache, n)
            else:
                items = [None] * n
            for i in range(n):
                items[i] = self.data(depth + 1)
            return _as_tuple(*items) if tag == _STRUCTURE and cache is None else items
        if tag == _OCTET_STRING:
            n = self.length()
            codes = self.codes
            if n != 6 or codes is None:
                return self.take(n)
            # An OBIS code, mostly: its bytes go to the codes buffer, `...` in its place (the
            # k-th `...` in reading order is codes[6 * k:6 * k + 6]). A meter sends the same
            # codes in each push: they then take no new piece of heap (a bytes object would
            # take 64 B of the unix port's, and a Danish push has 33).
            self.need(6)
            at = self.coded
            self.coded = at + 6
            if at == len(codes):  # (the buffer grows only for more codes than any push before)
                codes.extend(b"\0\0\0\0\0\0")
            buf = self.buf
            pos = self.pos
            for i in range(6):
                codes[at + i] = buf[pos + i]
            self.pos = pos + 6
            return ...
        if tag == _VISIBLE_STRING or tag == _UTF8_STRING:
            raw = self.take(self.length())
            try:
                return raw.decode()
            except UnicodeError:
                return raw
        if tag == 0x00 or tag == 0xFF:  # null-data, dont-care
            return None
        if tag == _DATE_TIME:
            return DateTime(self.take(12))
        # Date, time, floats, bit-string, compact-array (rare in pushes) and unknown types: that
        # code loads when one appears.
        from han.compact import rare_type
        return rare_type(self, tag, depth)


def _sized(cache, n):
    """The cache's list of items with n elements. Its storage grows only for more items than it
    ever held (to their number: appending would double it) and never shrinks: a push of the same
    meter then needs no new piece of heap for its list, the piece a fragmented heap may not have
    (0.8 KB for 99 slots here)."""
    items = cache[_ITEMS]
    if n > cache[_MOST]:
        cache[_MOST] = n
        items.extend([None] * (n - len(items)))
    elif len(items) > n:
        del items[n:]
    while len(items) < n:
        items.append(None)  # (within its storage)
    return items


def _as_tuple(*items):
    """The items as a tuple made at its size. MicroPython's tuple(list) builds a copy that grows by
    doubling: 1 KB for a 65-element push, which a fragmented heap may not have in one piece when
    it has 30 KB free in smaller ones."""
    return items


_LIST_ID = const(b"\x01\x01\x00\x02\x81\xff")   # 1-1:0.2.129.255 OBIS list version identifier
_METER_ID = const(b"\x00\x00\x60\x01\x00\xff")  # 0-0:96.1.0.255 meter id / number
_CLOCK = const(b"\x00\x00\x01\x00\x00\xff")     # 0-0:1.0.0.255 clock
# han.details lines
_TIME_SIZE = const(13)
_TIME_TAG = const(14)
_AFTER_BODY = const(15)
_AFTER_DATA = const(16)
_LAYOUT = const(17)
_CACHED = const(2)  # lists whose convention is kept
_NO_UNIT = const(255)  # DLMS unit code (han.units)


def parse(view, notification, cache):
    """(header DateTime or None, body) of a data-notification APDU in `view`; without
    `notification`, a bare A-XDR structure or array (gateways that strip the header). `cache`
    (new_cache()) keeps what build_reading takes from there: a body that is a structure or an
    array comes in its list of items, the 6-byte octet-strings in its codes buffer (the next
    parse reuses both)."""
    reader = Reader(view, 1 if notification else 0)
    reader.codes = cache[_CODES]
    reader.coded = 0
    header_time = None
    if notification:
        reader.unsigned(4)  # long-invoke-id-and-priority: nothing a reader needs
        first = reader.byte()
        if first == 0x0C:  # octet-string length only (Kamstrup, L&G, Iskra, Netz NÖ)
            header_time = DateTime(reader.take(12))
        elif first == 0x09:  # tagged octet-string (Kaifa)
            n = reader.byte()
            if n != 12 and n != 0:
                raise Error("malformed", (_TIME_SIZE, n))
            header_time = DateTime(reader.take(n)) if n else None
        elif first != 0x00:
            raise Error("malformed", (_TIME_TAG, first))
    body = reader.data(0, -1, cache)
    if reader.pos != len(view):
        raise Error("malformed", (_AFTER_BODY if notification else _AFTER_DATA, len(view) - reader.pos))
    return header_time, body


# Do a[i:i + 6] and b[j:j + 6] hold the same bytes? (In place: a slice would be a new object.
# Comments, not docstrings, here: compiling a docstring from source takes heap.)
def _same(a, i, b, j):
    for n in range(6):
        if a[i + n] != b[j + n]:
            return False
    return True


# A 6-byte octet-string value in the codes buffer at `at` (a `...` that is no code): the last
# reading's (`earlier`) equal value if it has one, as a meter repeats its values, else new bytes.
def _octets(codes, at, earlier):
    for value in earlier.values:
        if isinstance(value, bytes) and len(value) == 6 and _same(value, 0, codes, at):
            return value
    return bytes(codes[at:at + 6])


def _text(value):
    """A str, printable bytes as str, else None."""
    if isinstance(value, str):
        return value
    if not isinstance(value, bytes):
        return None
    for b in value:
        if not 0x20 <= b < 0x7F:
            return None
    return value.decode()


def entries(body, cache):
    """[obis, value, scaler_unit, obis, value, ...] (flat: no tuple per entry) by the first
    layout that fits the list body (parse put it in the cache's list of items), or None. An
    obis is where the code's 6 bytes are in the cache's codes buffer (None: a value without a
    code); a self-describing list's entries come in the cache's list of items, in place of the
    body's.

    1. Capture objects (han.positional): a structure whose item 0 is the push object list.
    2. Positional (han.positional): bare values the meter table knows.
    3. Self-describing: structures {obis, value[, scaler-unit]} (Aidon, TINETZ) and flat runs
       obis, value[, scaler-unit] (Kamstrup, Netz NÖ, Kaifa SE). Values without a code (a
       leading list id, a meter time, a trailing meter number) come with obis None.
    """
    if body is not cache[_ITEMS] or not body:  # a scalar body is no list at all
        return None
    n = len(body)
    codes = cache[_CODES]
    if cache[_KIND] == _STRUCTURE and isinstance(body[0], list) and len(body[0]) == n:
        from han import positional  # capture objects and positional lists: loaded when one comes
        out = positional.captured(body, codes, cache[_LAST])
        if out is not None:
            return out
    for i in range(n):  # bare values only (the first may be the list's own code)
        e = body[i]
        if isinstance(e, (list, tuple)) or (i and e is ...):
            break
    else:
        from han import positional
        out = positional.bare(body, codes)
        if out is not None:
            return out
    # Self-describing: counted, then written into the list of items itself (a list of entries
    # kept beside it would take 0.8 KB of heap for good with 33 values; appending would grow a
    # copy by doubling). The body's items move to the list's end first, far enough that each
    # entry, 3 slots, is written where the items are read already: `room` slots more than the
    # body's (Kamstrup's 65 items, 33 entries: 34).
    out = None
    base = 0  # where the body's items are
    while True:
        count = 0
        room = 0
        labelled = False
        i = 0
        k = 0  # the codes buffer's next code (its k-th `...`)
        while i < n:
            e = body[base + i]
            i += 1
            scaler_unit = None
            if isinstance(e, tuple) and 2 <= len(e) <= 3 and e[0] is ...:
                if len(e) == 3:
                    scaler_unit = e[2]
                    if scaler_unit is not None and not isinstance(scaler_unit, Quantity):
                        return None
                obis = ...
                e = e[1]
                labelled = True
            elif e is ... and i < n:
                obis = e
                e = body[base + i]
                i += 1
                if i < n and isinstance(body[base + i], Quantity):
                    scaler_unit = body[base + i]
                    i += 1
                labelled = True
            elif e is not None:  # null-data stands for an absent phase (Kamstrup): nothing to report
                obis = None
            else:
                continue
            if out is not None:
                if obis is ...:
                    obis = 6 * k
                    k += 1
                if e is ...:
                    e = _octets(codes, 6 * k, cache[_LAST])
                    k += 1
                # (isinstance twice: a tuple of types would be a new object each time)
                elif isinstance(e, list) or isinstance(e, tuple):
                    from han.compact import settled  # (a value that holds octet-strings of 6 bytes: rare)
                    e, k = settled(e, codes, k)
                out[3 * count] = obis
                out[3 * count + 1] = e
                out[3 * count + 2] = scaler_unit
            count += 1
            if 3 * count - i > room:  # (the entries so far would reach past the items read)
                room = 3 * count - i
        if out is not None:
            if len(out) > 3 * count:
                del out[3 * count:]  # (moved items left: the list keeps their room)
            return out
        if not labelled:
            return None
        out = _sized(cache, n + room)
        if room:
            for i in range(n - 1, -1, -1):
                out[room + i] = out[i]
        base = room


def _flag(title):
    """The FLAG manufacturer id a system title or logical device name starts with, or None."""
    if not title:
        return None
    for b in title[:3]:
        if not 0x20 <= b < 0x7F:
            return None
    return bytes(title[:3]).decode()


def new_cache():
    """What parse and build_reading keep between readings: the conventions of the meter's last
    two lists, as list id, FLAG id, model, (name, manufacturer, scalers), the latest first; then
    the list every push reuses (the body's items, then its entries: entries()) and the body's
    tag, the list at the longest size seen: a push needs no piece of heap larger than its
    reading's list of items; the codes buffer (Reader.data), the last reading (an empty one
    before the first)."""
    return [None, None, None, None] * _CACHED + [[], None, 0, bytearray(), Reading()]


def build_reading(body, header_time, system_title, hint, cache):
    """Reading from a notification body (parse, with the same `cache`: new_cache(), owned by
    the caller, that keeps the meter convention between readings); Error("unknown") with the
    list shape if no layout fits."""
    found = entries(body, cache)
    if found is None:
        from han.shapes import describe
        if body is cache[_ITEMS] and cache[_KIND] == _STRUCTURE:
            body = tuple(body)  # (described as what it is)
        raise Error("unknown", (_LAYOUT, describe(body)))
    reading = Reading()
    reading.system_title = system_title
    codes = cache[_CODES]
    # The meter's convention (name, manufacturer, scalers), by the list id, FLAG id and model the
    # entries say; from the cache when one of its last lists was the same. A meter does not
    # change, so han.meters (the table) is loaded only for a list not seen last: meters that
    # alternate two lists (Kaifa: power every 2 s, everything every 10 s) find both there.
    list_id = _text(found[1]) if found and found[0] is None else None
    model = None
    flag = _flag(system_title)
    for k in range(0, len(found), 3):
        at = found[k]
        if at is None:
            continue
        c, d, e = codes[at + 2], codes[at + 3], codes[at + 4]
        if c == 0 and d == 2 and e == 129:
            list_id = _text(found[k + 1])
        elif c == 96 and d == 1 and (e == 1 or e == 7):
            model = _text(found[k + 1])
        elif c == 42 and d == 0 and flag is None and isinstance(found[k + 1], bytes):
            flag = _flag(found[k + 1])  # a logical device name starts with the FLAG id ("ISK10307...")
    reading.list_id = list_id
    for at in range(0, _ITEMS, 4):
        convention = cache[at + 3]
        if convention is not None and cache[at] == list_id and cache[at + 1] == flag \
                and cache[at + 2] == model:
            if at:  # the latest first: it trades places with the first
                cache[at:at + 4] = cache[0:4]
                cache[0:4] = (list_id, flag, model, convention)
            break
    else:
        table = load("meters")
        name, manufacturer, scalers = table.identify(list_id, flag, hint, model)
        convention = (name, manufacturer or table.manufacturer(flag), scalers)
        cache[4:_ITEMS] = cache[0:_ITEMS - 4]  # the oldest goes
        cache[0:4] = (list_id, flag, model, convention)
    scalers = convention[2]
    reading.convention = convention[0]
    reading.manufacturer = convention[1]
    last = len(found) - 3
    values = reading.values = [None] * (len(found) // 3)  # at its size
    # The last reading: where this one says the same in the same place, its objects serve (a
    # meter repeats most values from push to push, and its codes; nothing in a reading changes
    # in place). Its codes are this one's until one differs: then `fresh` takes them.
    previous = cache[_LAST].values
    shared = cache[_LAST].codes
    fresh = None
    n = 0
    for k in range(0, len(found), 3):
        at, value, scaler_unit = found[k], found[k + 1], found[k + 2]
        raw = None  # a number's: it becomes a Quantity
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            raw = value
            if scaler_unit is not None:
                scaler = scaler_unit.scaler
                unit = scaler_unit.unit
            elif at is None:
                scaler = 0
                unit = _NO_UNIT
            else:  # no scaler sent: the meter convention's, in the unit the code implies
                scaler = 0
                for i in range(0, len(scalers), 3):
                    if scalers[i] == codes[at + 2] and scalers[i + 1] == codes[at + 3]:
                        scaler = scalers[i + 2] - 256 if scalers[i + 2] > 127 else scalers[i + 2]
                        break
                unit = default_unit(codes, at)
        elif isinstance(value, Decimal):
            raw = value.raw
            scaler = value.scaler + (scaler_unit.scaler if scaler_unit else 0)
            unit = scaler_unit.unit if scaler_unit else default_unit(codes, at) if at is not None else _NO_UNIT
        elif isinstance(value, bytes) and len(value) == 12 and \
                (at is None or (codes[at + 2] == 1 and codes[at + 3] == 0 and codes[at + 4] == 0)):
            when = DateTime(value)
            if when.plausible():
                value = when
        if raw is not None:
            # The last push's Quantity in this place, or one this reading holds already, when it
            # has exactly this raw value, scaler and unit (the same text, not only the same
            # amount: Quantity.__eq__), else a new one. Readings repeat values (zeros, equal
            # phases, registers that did not move) and each Quantity takes 64-96 B of the unix
            # port's heap for as long as the reading is shown; values are never changed in place
            # (han.multipliers replaces them), so equal ones can be one object.
            value = previous[n] if n < len(previous) else None
            i = 0
            while not (isinstance(value, Quantity) and value.raw == raw and value.scaler == scaler
                       and value.unit == unit):
                if i == n:
                    value = Quantity(raw, scaler, unit)
                    break
                value = values[i]
                i += 1
        code = codes
        if at is None:  # a value the list sends without a code: name it, or leave it out
            at = 0
            if isinstance(value, DateTime):
                code = _CLOCK  # the meter's time (Netz NÖ puts it first)
            elif k == 0 and _text(value) == reading.list_id:
                code = _LIST_ID  # the list version id, sent without its code (Kamstrup)
            elif k == last and isinstance(value, (str, bytes)):
                code = _METER_ID  # the meter number (Netz NÖ puts it last)
            else:
                continue
        if value is None:
            continue
        values[n] = value
        to = 6 * n
        n += 1
        if fresh is None and not (to + 6 <= len(shared) and _same(shared, to, code, at)):
            fresh = bytearray(shared[:to])  # (this push's codes differ from the last's here)
        if fresh is not None:
            for i in range(at, at + 6):
                fresh.append(code[i])
        c, d, e = code[at + 2], code[at + 3], code[at + 4]
        if c == 96 and d == 1 and (e == 1 or e == 7):
            reading.model = _text(value)
        elif (c == 96 and d == 1 and e == 0) or (c == 0 and d == 0 and e == 5):
            reading.meter_id = _text(value)
        elif c == 1 and d == 0 and e == 0 and isinstance(value, DateTime) and reading.time is None:
            reading.time = value
    reading.codes = bytes(fresh) if fresh is not None else shared if len(shared) == 6 * n else shared[:6 * n]
    if header_time is not None and (reading.time is None or reading.time.raw != header_time.raw):
        # (the clock item's when they agree: one DateTime less kept) when it gives a valid date or
        # time of day (what han.text.iso renders; tested here: decoding does not load the text's code)
        raw = header_time.raw
        if (raw[0] != 0xFF or raw[1] != 0xFF) and 1 <= raw[2] <= 12 and 1 <= raw[3] <= 31 \
                or raw[5] <= 23 and raw[6] <= 59:
            reading.time = header_time
    del values[n:]  # the values left out (their room stays: a few slots at most)
    kept = cache[_ITEMS]  # it keeps its room, not what this push put in it
    for i in range(len(kept)):
        kept[i] = None
    cache[_LAST] = reading
    return reading
