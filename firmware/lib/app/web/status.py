"""/api/status: what the status page shows (serial settings, frame counters, the diagnosis, the
last error, heap, uptime, reset cause, Wi-Fi, MQTT, the longest loop stall). A poll, as the
dashboard's: answered by http.py with this module, loaded for it and unloaded as its connection
closes (see server.py); routes.py answers it in safe mode."""
import gc
from json import dumps

from app.web.http import OK_JSON


def _ms(microseconds):
    return "%d.%03d" % (microseconds // 1000, microseconds % 1000)


async def status(app, out, web):
    rssi = None
    try:
        rssi = app.hal.rssi()
    except (AttributeError, OSError):
        pass
    gc.collect()
    out.put(OK_JSON)
    _decoding(app, out)
    await out.flush()
    _device(app.state, out, web, rssi)


def _decoding(app, out):
    """The meter line and what the decoding made of it (a function of its own, like _device:
    small pieces of code, see http.py)."""
    state = app.state
    counters = app.meter.pipeline.counters if app.meter is not None else None
    errors = counters.errors if counters is not None else {}
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


def _device(state, out, web, rssi):
    """The device itself: heap, uptime, Wi-Fi, MQTT, the loop, the web server."""
    out.put(', "heap_free": %d, "heap_used": %d, "uptime_s": %d, "reset_cause": %s, "safe_mode": %s, ' % (
        gc.mem_free(), gc.mem_alloc(), state.uptime_s, dumps(state.reset_cause), dumps(state.safe_mode)))
    out.put('"wifi": %s, "rssi": %s, "mqtt": %s, ' % (dumps(state.wifi), dumps(rssi), dumps(state.mqtt)))
    out.put('"loop_stall_ms": %d, "frame_ms": %s, "frame_ms_max": %s, ' % (
        state.loop_stall_ms, _ms(state.frame_us), _ms(state.frame_us_max)))
    out.put('"web": {"served": %d, "refused": %d, "timeouts": %d}}' % (web.served, web.refused, web.timeouts))
