"""The dashboard's power history as JSON: /api/history, the last hour of power (import minus
export, W). Loaded for it and unloaded as its connection closes (see server.py): a dashboard asks
for it after each new reading, right after /api/data. Apart from api.py: the values' text and the
friendly names (han.text) that /api/data loads are none of its business, and a poll that needs
less room is less often short of it.
"""
import time

from app.state import HISTORY
from app.web.http import FLUSH_AT, OK_JSON

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_WRAP_S = const((1 << 30) // 1000)  # time.ticks_ms() // 1000 starts again from 0 after this


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
    out.put(OK_JSON)
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
