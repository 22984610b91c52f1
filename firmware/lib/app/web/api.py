"""Live JSON for the dashboard, the status page and integrations: /api/data, /api/history and
/api/status.

Written in pieces as they are made (http.Out): a reading or an hour of power never becomes one
long string. Numbers are the exact decimal text han.values makes from the meter's integer and
scaler: no float on the way, so "0.89" A stays 0.89 and 85823280 Wh stays whole.
"""
import time
from json import dumps

from app.names import name as friendly_name
from app.state import HISTORY
from app.web.http import FLUSH_AT, JSON
from han.values import DateTime, Decimal, Quantity, decimal_text, obis_text

_NO_STORE = "Cache-Control: no-store\r\n"
_WRAP_S = (1 << 30) // 1000  # time.ticks_ms() // 1000 starts again from 0 after this


def _printable(raw):
    for c in raw:
        if not 0x20 <= c < 0x7F:
            return False
    return True


def parts(value):
    """(JSON value, display text, unit symbol or None) of a reading's value."""
    if isinstance(value, Quantity):
        text = value.text()
        return text, text, value.symbol()
    if isinstance(value, Decimal):
        text = decimal_text(value.raw, value.scaler)
        return text, text, None
    if isinstance(value, bool):
        text = "true" if value else "false"
        return text, text, None
    if isinstance(value, int):
        text = str(value)
        return text, text, None
    if isinstance(value, DateTime):
        text = value.iso() or value.raw.hex()
        return dumps(text), text, None
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode() if _printable(value) else bytes(value).hex()
        return dumps(text), text, None
    if isinstance(value, str):
        text = value if _printable(value.encode()) else value.encode().hex()
        return dumps(text), text, None
    if isinstance(value, (list, tuple)):
        inner = [parts(v) for v in value]
        return "[" + ", ".join(p[0] for p in inner) + "]", ", ".join(p[1] for p in inner), None
    if value is None:
        return "null", "", None
    text = repr(value)
    return dumps(text), text, None


async def data(app, out, now_ms=None):
    """The latest reading: every value with its OBIS code, friendly name, unit and exact text."""
    now_ms = time.ticks_ms() if now_ms is None else now_ms
    state = app.state
    reading = state.reading
    out.start("200 OK", JSON, _NO_STORE)
    out.put('{"readings": %d, ' % state.readings)
    if reading is None:
        out.put('"age_s": null, "time": null, "meter": {}, "values": []}')
        return
    out.put('"age_s": %d, "time": ' % (((now_ms - state.reading_ms) & 0x3FFFFFFF) // 1000))
    out.put(dumps(reading.time.iso() if reading.time is not None else None))
    out.put(', "meter": {')
    lead = ""
    for key, value in (("manufacturer", reading.manufacturer), ("model", reading.model),
                       ("id", reading.meter_id), ("list", reading.list_id)):
        if value:
            out.put('%s"%s": %s' % (lead, key, dumps(parts(value)[1])))
            lead = ", "
    out.put('}, "values": [')
    lead = ""
    for code, value in reading.items:
        number, text, unit = parts(value)
        out.put('%s{"obis": "%s", "name": %s, "value": %s, "text": %s' % (
            lead, obis_text(code), dumps(friendly_name(code)), number, dumps(text)))
        out.put(', "unit": %s}' % dumps(unit) if unit else "}")
        lead = ", "
        if out.n > FLUSH_AT:
            await out.flush()
    out.put("]}")


async def history(app, out, query, now_ms=None):
    """Power (import minus export, W) of the last hour: [age in seconds, watts] oldest first.

    `count` numbers the samples since start; ?after=N sends only those after the N-th (all
    when N is larger: the device has restarted)."""
    after = 0
    for pair in query.split("&"):
        if pair.startswith("after="):
            try:
                after = int(pair[6:])
            except ValueError:
                pass
    state = app.state
    count = state.power_count
    first = max(0, count - HISTORY, after if after <= count else 0)
    now = (time.ticks_ms() if now_ms is None else now_ms) // 1000
    out.start("200 OK", JSON, _NO_STORE)
    out.put('{"count": %d, "points": [' % count)
    lead = b"["
    for i in range(first, count):
        if state.power_count - i > HISTORY:
            continue  # overwritten by new samples while this was being sent
        at = i % HISTORY
        age = now - state.power_times[at]
        if age < 0:
            age += _WRAP_S
        out.put(lead)  # constants and digits only: no string made per point
        out.number(age)
        out.put(b", ")
        out.number(state.power_watts[at])
        out.put(b"]")
        lead = b", ["
        if out.n > FLUSH_AT:
            await out.flush()
    out.put(b"]}")


def _ms(microseconds):
    return "%d.%03d" % (microseconds // 1000, microseconds % 1000)


async def status(app, out, web):
    """Serial settings, frame counters, the diagnosis, the last error, heap, uptime, reset cause,
    Wi-Fi, MQTT, the longest loop stall; what the status page shows."""
    import gc
    state = app.state
    counters = app.meter.pipeline.counters if app.meter is not None else None
    errors = counters.errors if counters is not None else {}
    rssi = None
    try:
        rssi = app.hal.rssi()
    except (AttributeError, OSError):
        pass
    gc.collect()
    out.start("200 OK", JSON, _NO_STORE)
    out.put('{"serial": %s, "rx_pin": %d, ' % (
        dumps(state.serial or ("not reading: safe mode" if state.safe_mode else "")), app.config["meter"]["rx_pin"]))
    n = errors.get
    out.put('"bytes": %d, "frames": %d, "good": %d, "checksum": %d, "decrypt": %d, "unknown": %d, "errors": %s, ' % (
        counters.bytes if counters else 0, counters.frames if counters else 0, counters.readings if counters else 0,
        n("checksum", 0), n("decrypt", 0) + n("auth", 0) + n("no_key", 0),
        n("unknown", 0) + n("noise", 0) + n("malformed", 0), dumps(errors)))
    out.put('"diagnosis": {"code": %s, "text": %s}, "last_error": ' % (
        dumps(state.diagnosis[0]), dumps(state.diagnosis[1])))
    if state.last_error:
        code, detail, excerpt = state.last_error
        out.put('{"code": %s, "detail": %s, "hex": %s}' % (dumps(code), dumps(detail), dumps(excerpt)))
    else:
        out.put("null")
    await out.flush()
    out.put(', "heap_free": %d, "heap_used": %d, "uptime_s": %d, "reset_cause": %s, "safe_mode": %s, ' % (
        gc.mem_free(), gc.mem_alloc(), state.uptime_s, dumps(state.reset_cause), dumps(state.safe_mode)))
    out.put('"wifi": %s, "rssi": %s, "mqtt": %s, ' % (dumps(state.wifi), dumps(rssi), dumps(state.mqtt)))
    out.put('"loop_stall_ms": %d, "frame_ms": %s, "frame_ms_max": %s, ' % (
        state.loop_stall_ms, _ms(state.frame_us), _ms(state.frame_us_max)))
    out.put('"web": {"served": %d, "refused": %d, "timeouts": %d}}' % (web.served, web.refused, web.timeouts))
