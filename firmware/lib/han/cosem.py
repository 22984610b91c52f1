"""DLMS data-notification -> Reading: notification header, list layouts, scaling.

Layouts are tried in order (LAYOUTS): a self-describing list (OBIS codes inline, as flat pairs or
as structures, with or without scaler-unit) or a positional list from the meter table. A list
no layout understands is reported with its shape, never decoded with invented OBIS codes.
"""
from han.axdr import Reader
from han.errors import Error, load
from han.values import DateTime, Decimal, Reading, ScalerUnit, default_unit

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

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


def parse(view, notification=True):
    """(header DateTime or None, body) of a data-notification APDU in `view`; without
    `notification`, a bare A-XDR structure or array (gateways that strip the header)."""
    reader = Reader(view, 1 if notification else 0)
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
    body = reader.data()
    if reader.pos != len(view):
        raise Error("malformed", (_AFTER_BODY if notification else _AFTER_DATA, len(view) - reader.pos))
    return header_time, body


def _is_code(value):
    return isinstance(value, bytes) and len(value) == 6


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


def entries(body):
    """[obis, value, scaler_unit, obis, value, ...] (flat: no tuple per entry) by the first
    layout that fits the list body, or None.

    1. Capture objects (han.positional): a structure whose item 0 is the push object list.
    2. Positional (han.positional): bare values the meter table knows.
    3. Self-describing: structures {obis, value[, scaler-unit]} (Aidon, TINETZ) and flat runs
       obis, value[, scaler-unit] (Kamstrup, Netz NÖ, Kaifa SE). Values without a code (a
       leading list id, a meter time, a trailing meter number) come with obis None.
    """
    if not isinstance(body, (list, tuple)) or not body:  # a scalar body is no list at all
        return None
    n = len(body)
    if isinstance(body, tuple) and isinstance(body[0], list) and len(body[0]) == n:
        from han import positional  # capture objects and positional lists: loaded when one comes
        out = positional.captured(body)
        if out is not None:
            return out
    for i in range(n):  # bare values only (the first may be the list's own code)
        e = body[i]
        if isinstance(e, (list, tuple)) or (i and _is_code(e)):
            break
    else:
        from han import positional
        out = positional.bare(body)
        if out is not None:
            return out
    out = []
    labelled = False
    i = 0
    while i < n:
        e = body[i]
        i += 1
        scaler_unit = None
        if isinstance(e, tuple) and 2 <= len(e) <= 3 and _is_code(e[0]):
            if len(e) == 3:
                scaler_unit = e[2]
                if scaler_unit is not None and not isinstance(scaler_unit, ScalerUnit):
                    return None
            obis = e[0]
            e = e[1]
            labelled = True
        elif _is_code(e) and i < n:
            obis = e
            e = body[i]
            i += 1
            if i < n and isinstance(body[i], ScalerUnit):
                scaler_unit = body[i]
                i += 1
            labelled = True
        elif e is not None:  # null-data stands for an absent phase (Kamstrup): nothing to report
            obis = None
        else:
            continue
        out.append(obis)
        out.append(e)
        out.append(scaler_unit)
    return out if labelled else None


def _flag(title):
    """The FLAG manufacturer id a system title or logical device name starts with, or None."""
    if not title:
        return None
    for b in title[:3]:
        if not 0x20 <= b < 0x7F:
            return None
    return bytes(title[:3]).decode()


def new_cache():
    """What build_reading keeps between readings: the conventions of the meter's last two
    lists, as list id, FLAG id, model, (name, manufacturer, scalers), the latest first."""
    return [None, None, None, None] * _CACHED


def _convention(cache, list_id, flag, model, hint):
    """(name, manufacturer, scalers) for a meter; from `cache` (new_cache(), or None) when one
    of its last lists was the same. A meter does not change, so han.meters (the table) is
    loaded only for a list not seen last: meters that alternate two lists (Kaifa: power every
    2 s, everything every 10 s) find both here."""
    if cache is not None:
        for at in range(0, len(cache), 4):
            convention = cache[at + 3]
            if convention is not None and cache[at] == list_id and cache[at + 1] == flag \
                    and cache[at + 2] == model:
                if at:  # the latest first: it trades places with the first
                    cache[at:at + 4] = cache[0:4]
                    cache[0:4] = (list_id, flag, model, convention)
                return convention
    table = load("meters")
    name, manufacturer, scalers = table.identify(list_id, flag, hint, model)
    convention = (name, manufacturer or table.manufacturer(flag), scalers)
    if cache is not None:  # the oldest goes
        cache[4:] = cache[:-4]
        cache[0:4] = (list_id, flag, model, convention)
    return convention


def build_reading(body, header_time, system_title=None, hint=None, cache=None):
    """Reading from a notification body; Error("unknown") with the list shape if no layout fits.

    `cache` (new_cache(), owned by the caller) keeps the meter convention between readings.
    """
    found = entries(body)
    if found is None:
        from han.shapes import describe
        raise Error("unknown", (_LAYOUT, describe(body)))
    reading = Reading()
    reading.system_title = system_title
    list_id = _text(found[1]) if found and found[0] is None else None
    model = None
    flag = _flag(system_title)
    for k in range(0, len(found), 3):
        obis = found[k]
        if obis is None:
            continue
        c, d, e = obis[2], obis[3], obis[4]
        if c == 0 and d == 2 and e == 129:
            list_id = _text(found[k + 1])
        elif c == 96 and d == 1 and (e == 1 or e == 7):
            model = _text(found[k + 1])
        elif c == 42 and d == 0 and flag is None and isinstance(found[k + 1], bytes):
            flag = _flag(found[k + 1])  # a logical device name starts with the FLAG id ("ISK10307...")
    convention = _convention(cache, list_id, flag, model, hint)
    scalers = convention[2]
    reading.convention = convention[0]
    reading.list_id = list_id
    reading.manufacturer = convention[1]
    last = len(found) - 3
    for k in range(0, len(found), 3):
        obis, value, scaler_unit = found[k], found[k + 1], found[k + 2]
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            if scaler_unit is not None:
                value = reading.quantity(value, scaler_unit.scaler, scaler_unit.unit)
            elif obis is None:
                value = reading.quantity(value, 0, _NO_UNIT)
            else:  # no scaler sent: the meter convention's, in the unit the code implies
                scaler = 0
                for i in range(0, len(scalers), 3):
                    if scalers[i] == obis[2] and scalers[i + 1] == obis[3]:
                        scaler = scalers[i + 2] - 256 if scalers[i + 2] > 127 else scalers[i + 2]
                        break
                value = reading.quantity(value, scaler, default_unit(obis))
        elif isinstance(value, Decimal):
            value = reading.quantity(value.raw, value.scaler + (scaler_unit.scaler if scaler_unit else 0),
                                     scaler_unit.unit if scaler_unit else (default_unit(obis) if obis else _NO_UNIT))
        elif isinstance(value, bytes) and len(value) == 12 and \
                (obis is None or (obis[2] == 1 and obis[3] == 0 and obis[4] == 0)):
            when = DateTime(value)
            if when.plausible():
                value = when
        if obis is None:  # a value the list sends without a code: name it, or leave it out
            if isinstance(value, DateTime):
                obis = _CLOCK  # the meter's time (Netz NÖ puts it first)
            elif k == 0 and _text(value) == list_id:
                obis = _LIST_ID  # the list version id, sent without its code (Kamstrup)
            elif k == last and isinstance(value, (str, bytes)):
                obis = _METER_ID  # the meter number (Netz NÖ puts it last)
            else:
                continue
        if value is None:
            continue
        reading.items.append((obis, value))
        c, d, e = obis[2], obis[3], obis[4]
        if c == 96 and d == 1 and (e == 1 or e == 7):
            reading.model = _text(value)
        elif (c == 96 and d == 1 and e == 0) or (c == 0 and d == 0 and e == 5):
            reading.meter_id = _text(value)
        elif c == 1 and d == 0 and e == 0 and isinstance(value, DateTime) and reading.time is None:
            reading.time = value
    if header_time is not None and header_time.iso():
        reading.time = header_time
    return reading
