"""The dashboard's power history as JSON: /api/history, the last hour of power (import minus
export, W). Loaded for it and unloaded as its connection closes (see server.py): a dashboard asks
for it after each new reading, right after /api/data. Apart from api.py: the values' text and the
friendly names (han.text) that /api/data loads are none of its business, and a poll that needs
less room is less often short of it.
"""
from app.state import HISTORY
from app.web.http import FLUSH_AT, OK_JSON

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# Single characters are put as ints (http.Out.put): a bytes constant is an object made at every load
# of this module.
_OPEN = const(0x5B)  # [
_CLOSE = const(0x5D)  # ]


async def history(app, out, query):
    """Power (import minus export, W) of the last hour: [age in seconds, watts] oldest first.

    `count` numbers the samples since start; ?after=N sends only those after the N-th (all
    when N is larger: the device has restarted). A sample's age is the newest one's plus the
    gaps (app/state.py) of those after it: a gap of 65535 s or more counts as 65535, so a sample
    from before a long silence is still that old at least."""
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
    newest = state.uptime_s - state.power_s  # the age of sample count - 1
    gaps = state.power_gaps
    out.put(OK_JSON)
    out.put('{"count": %d, "points": [' % count)
    comma = b", "
    written = False
    # Sample i's age: added up from the newest's for the first one sent (and again after samples
    # overwritten while this was being sent), then the one before less sample i's gap (read while
    # nothing can overwrite it: its slot is newer than the one just found whole).
    age = None
    for i in range(first, count):
        if state.power_count - i > HISTORY:
            age = None
            continue  # overwritten by new samples while this was being sent
        if age is None:
            age = newest
            for later in range(i + 1, count):
                age += gaps[later % HISTORY]
        else:
            age -= gaps[i % HISTORY]
        if written:
            out.put(comma)
        out.put(_OPEN)  # a constant, single characters and digits only: no string made per point
        out.number(age)
        out.put(comma)
        out.number(state.power_watts[i % HISTORY])
        out.put(_CLOSE)
        written = True
        if out.n > FLUSH_AT:
            await out.flush()
    out.put(_CLOSE)
    out.put(0x7D)  # }
