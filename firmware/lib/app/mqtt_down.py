"""MQTT: after a failed connection attempt or the end of a connection, why in words and the wait
before the next attempt.

Loaded by app/mqtt.py for that moment (the attempt's code, app/mqtt_link.py, let go first) and
unloaded after.

  retry     _BACKOFF_MS doubled per failure up to _MAX_BACKOFF_MS, +-25 % at random (devices that
            lost the same broker do not come back all at once).
"""
import asyncio
from errno import EAGAIN, ECONNREFUSED, ECONNRESET, ETIMEDOUT
from random import getrandbits

from app.mqtt import ANSWER_MS, IO_MS
from app.mqtt_status import show

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_BACKOFF_MS = const(1000)
_MAX_BACKOFF_MS = const(60000)
_REFUSED = const(("", "unacceptable protocol version", "client id rejected", "server unavailable",
                  "wrong user name or password (mqtt.user, mqtt.password)",
                  "not authorised (check mqtt.user and mqtt.password)"))  # CONNACK return codes 0-5


def backoff_ms(failures, rand8):
    """The wait after `failures` (>= 1) failures in a row; `rand8` (0-255) spreads it +-25 %."""
    base = min(_MAX_BACKOFF_MS, _BACKOFF_MS << min(failures - 1, 6))
    return base - base // 4 + base // 4 * rand8 // 128


def describe(problem):
    """Why a connection failed or ended, in words: `problem` is words already, the return code of
    a CONNACK that refused it, or an exception."""
    e = problem
    if isinstance(e, str):
        return e
    if isinstance(e, int):
        return "the broker refused the connection: " + (_REFUSED[e] if e < len(_REFUSED) else "code %d" % e)
    if isinstance(e, EOFError):
        return "the broker closed the connection"
    if isinstance(e, asyncio.TimeoutError):  # app/mqtt.py's, for a ping (CPython's is an OSError)
        return "the broker stopped answering (no reply to a ping in %d s)" % (ANSWER_MS // 1000)
    if isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        code = e.args[0]
        if code == ECONNREFUSED:
            return "connection refused"
        if code == ECONNRESET:
            return "connection reset"
        if code in (ETIMEDOUT, EAGAIN):
            return "the broker took no data for %d ms" % IO_MS
    if isinstance(e, OSError):  # TLS errors are negative codes, with the name of the error
        return "network error " + " ".join(str(a) for a in e.args)
    return "%s %s" % (type(e).__name__, e)


def ended(mqtt, problem):
    """After a failed attempt to connect `mqtt` (app.mqtt.Mqtt) or the end of its connection, for
    `problem` (app/mqtt_link.py's connect() says what): closes the socket, says why (state, log),
    counts the failure; the wait before the next attempt, or None when MQTT cannot work at all
    (no umqtt.simple)."""
    mqtt.close()
    app = mqtt.app
    if problem is ImportError:
        app.state.mqtt = "umqtt.simple is not installed (make deploy installs it)"
        app.log.error("MQTT: " + app.state.mqtt)
        return None
    problem = describe(problem)
    mqtt.failures += 1
    wait = backoff_ms(mqtt.failures, getrandbits(8))
    if problem != app.state.mqtt_error:  # a failure repeated is not logged again
        app.log.warning("MQTT %s:%d: %s; trying again in %d s, then less often"
                        % (mqtt.broker[0], mqtt.broker[1], problem, (wait + 500) // 1000))
    app.state.mqtt_error = problem
    show(mqtt, "down: %s; retry in %d s" % (problem, (wait + 500) // 1000))
    return wait
