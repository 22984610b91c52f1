"""DLMS data-notification -> Reading: notification header, list layouts, scaling.

Layouts are tried in order (LAYOUTS): a self-describing list (OBIS codes inline, as flat pairs or
as structures, with or without scaler-unit) or a positional list from the meter table. A list
no layout understands is reported with its shape, never decoded with invented OBIS codes.
"""
from han import meters
from han.axdr import Reader
from han.errors import Fault, MALFORMED, UNKNOWN
from han.obis import default_unit, is_code
from han.reading import Reading
from han.values import DateTime, Decimal, Quantity, ScalerUnit, NO_UNIT

DATA_NOTIFICATION = 0x0F


def parse_notification(view):
    """(header DateTime or None, body) of a data-notification APDU in `view`."""
    reader = Reader(view, 1)
    reader.unsigned(4)  # long-invoke-id-and-priority: nothing a reader needs
    first = reader.byte()
    header_time = None
    if first == 0x0C:  # octet-string length only (Kamstrup, L&G, Iskra, Netz NÖ)
        header_time = DateTime(reader.take(12))
    elif first == 0x09:  # tagged octet-string (Kaifa)
        n = reader.byte()
        if n != 12 and n != 0:
            raise Fault(MALFORMED, "notification date-time of %d bytes" % n)
        header_time = DateTime(reader.take(n)) if n else None
    elif first != 0x00:
        raise Fault(MALFORMED, "notification date-time starts with 0x%02X" % first)
    body = reader.data()
    if reader.pos != len(view):
        raise Fault(MALFORMED, "%d bytes after the notification body" % (len(view) - reader.pos))
    return header_time, body


def parse_body(view):
    """A bare A-XDR structure or array (gateways that strip the notification header)."""
    reader = Reader(view, 0)
    body = reader.data()
    if reader.pos != len(view):
        raise Fault(MALFORMED, "%d bytes after the data" % (len(view) - reader.pos))
    return body


def _elements(body):
    """The items of a list body; a scalar body is no list at all (None)."""
    return body if isinstance(body, (list, tuple)) else None


def self_describing(body):
    """[(obis, value, scaler_unit)] from lists that carry OBIS codes; None if there are none.

    Handles structures {obis, value[, scaler-unit]} (Aidon, TINETZ) and flat runs
    obis, value[, scaler-unit] (Kamstrup, Netz NÖ, Kaifa SE). Values without a code (a leading
    list id, a meter time, a trailing meter number) come back with obis None.
    """
    elements = _elements(body)
    if elements is None:
        return None
    entries = []
    labelled = False
    i = 0
    n = len(elements)
    while i < n:
        e = elements[i]
        i += 1
        if isinstance(e, tuple) and 2 <= len(e) <= 3 and is_code(e[0]):
            scaler_unit = e[2] if len(e) == 3 else None
            if scaler_unit is not None and not isinstance(scaler_unit, ScalerUnit):
                return None
            entries.append((e[0], e[1], scaler_unit))
            labelled = True
        elif is_code(e) and i < n:
            value = elements[i]
            i += 1
            scaler_unit = None
            if i < n and isinstance(elements[i], ScalerUnit):
                scaler_unit = elements[i]
                i += 1
            entries.append((e, value, scaler_unit))
            labelled = True
        elif e is not None:  # null-data stands for an absent phase (Kamstrup): nothing to report
            entries.append((None, e, None))
    return entries if labelled else None


def positional(body):
    """[(obis, value, None)] for bare-value lists the meter table knows; None otherwise."""
    elements = _elements(body)
    if not elements:
        return None
    for i in range(len(elements)):  # bare values only (the first may be the list's own code)
        e = elements[i]
        if isinstance(e, (list, tuple)) or (i and is_code(e)):
            return None
    first = elements[0]
    if is_code(first):
        pass
    elif isinstance(first, (str, bytes)):
        first = _text(first) or False  # unprintable: identifies no list
    else:
        first = None
    if first is False:
        return None
    from han import positional as table  # only meters that send such lists pay for the table
    layout = table.layout(first, len(elements))
    if layout is None:
        return None
    entries = []
    for i in range(len(elements)):
        obis = layout[i * 6:i * 6 + 6]
        if obis != table.SKIP:
            entries.append((obis, elements[i], None))
    return entries


def capture_objects(body):
    """[(obis, value, scaler_unit)] for push lists that start with their own capture-object list.

    The L&G and Iskra Swiss/Austrian customer interface pushes a structure whose item 0 is the
    push object list (array of {class, OBIS, attribute, data index}) and item i the value of
    capture object i. Attribute 2 is a value; attribute 3 of a register is its scaler-unit.
    """
    if not isinstance(body, tuple) or not body or not isinstance(body[0], list):
        return None
    objects = body[0]
    if len(objects) != len(body):
        return None
    for item in objects:
        if not (isinstance(item, tuple) and len(item) == 4 and is_code(item[1])):
            return None
    scalers = {}
    for i in range(len(objects)):
        if objects[i][2] == 3 and isinstance(body[i], ScalerUnit):
            scalers[objects[i][1]] = body[i]
    entries = []
    for i in range(len(objects)):
        class_id, obis, attribute = objects[i][0], objects[i][1], objects[i][2]
        if class_id == PUSH_SETUP or attribute != 2:
            continue
        entries.append((obis, body[i], scalers.get(obis)))
    return entries


PUSH_SETUP = 40  # COSEM interface class of the push setup object (the list describing itself)
LAYOUTS = (capture_objects, positional, self_describing)


def _text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bytes) and all(0x20 <= b < 0x7F for b in value):
        return value.decode()
    return None


def _flag(system_title):
    if system_title and all(0x20 <= b < 0x7F for b in system_title[:3]):
        return system_title[:3].decode()
    return None


def _is_model(obis):
    return obis[2] == 96 and obis[3] == 1 and obis[4] in (1, 7)


def _is_clock(obis):
    return obis[2] == 1 and obis[3] == 0 and obis[4] == 0


def _value(obis, value, scaler_unit, convention):
    """The reading's value for one list entry."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if scaler_unit is not None:
            return Quantity(value, scaler_unit.scaler, scaler_unit.unit)
        if obis is None:
            return Quantity(value, 0, NO_UNIT)
        return Quantity(value, convention.scaler(obis[2], obis[3]), default_unit(obis))
    if isinstance(value, Decimal):
        scaler = value.scaler + (scaler_unit.scaler if scaler_unit else 0)
        unit = scaler_unit.unit if scaler_unit else (default_unit(obis) if obis else NO_UNIT)
        return Quantity(value.raw, scaler, unit)
    if isinstance(value, bytes) and len(value) == 12 and (obis is None or _is_clock(obis)):
        when = DateTime(value)
        if when.plausible():
            return when
    return value


def build_reading(body, header_time, system_title=None, hint=None):
    """Reading from a notification body; Fault(UNKNOWN) with the list shape if no layout fits."""
    entries = None
    for layout in LAYOUTS:
        entries = layout(body)
        if entries is not None:
            break
    if entries is None:
        from han.shapes import describe
        raise Fault(UNKNOWN, "valid frame, unknown list layout: " + describe(body))
    reading = Reading()
    reading.system_title = system_title
    list_id = _text(entries[0][1]) if entries and entries[0][0] is None else None
    model = None
    flag = _flag(system_title)
    for obis, value, _ in entries:
        if obis is None:
            continue
        if obis[2] == 0 and obis[3] == 2 and obis[4] == 129:
            list_id = _text(value)
        elif _is_model(obis):
            model = _text(value)
        elif obis[2] == 42 and obis[3] == 0 and flag is None and isinstance(value, bytes):
            flag = _flag(value)  # a logical device name starts with the FLAG id ("ISK10307...")
    convention = meters.identify(list_id, flag, hint, model)
    reading.convention = convention.name
    reading.list_id = list_id
    reading.manufacturer = convention.manufacturer or meters.manufacturer(flag)
    last = len(entries) - 1
    for index, (obis, value, scaler_unit) in enumerate(entries):
        value = _value(obis, value, scaler_unit, convention)
        if obis is None:
            obis = _unlabelled(index, last, value, list_id)
            if obis is None:
                continue
        if value is None:
            continue
        reading.items.append((obis, value))
        c, d, e = obis[2], obis[3], obis[4]
        if _is_model(obis):
            reading.model = _text(value)
        elif (c == 96 and d == 1 and e == 0) or (c == 0 and d == 0 and e == 5):
            reading.meter_id = _text(value)
        elif _is_clock(obis) and isinstance(value, DateTime) and reading.time is None:
            reading.time = value
    if header_time is not None and header_time.iso():
        reading.time = header_time
    return reading


def _unlabelled(index, last, value, list_id):
    """An OBIS code for a value the list sends without one, or None to leave it out."""
    if isinstance(value, DateTime):
        return meters.CLOCK  # the meter's time (Netz NÖ puts it first)
    if index == 0 and _text(value) == list_id:
        return meters.LIST_ID  # the list version id, sent without its code (Kamstrup)
    if index == last and isinstance(value, (str, bytes)):
        return meters.METER_ID  # the meter number (Netz NÖ puts it last)
    return None
