"""MQTT in one line, state.mqtt: what is going on, the messages sent, the reconnections, the
readings skipped and the last error (web status page, telnet, the LED).

Loaded by what MQTT loads for a moment (app/mqtt_link.py, app/mqtt_down.py, app/mqtt_messages.py)
and unloaded with it: between turns the line stays, the code that makes it need not.
"""


def show(mqtt, what=None, sent=0):
    """state.mqtt for `mqtt` (app.mqtt.Mqtt): `what` is going on (None: connected), after `sent`
    more messages."""
    state = mqtt.app.state
    state.mqtt_sent += sent
    text = "%s; %d messages sent, %d reconnect%s" % (
        what or "connected to %s:%d" % (mqtt.broker[0], mqtt.broker[1]), state.mqtt_sent,
        state.mqtt_reconnects, "" if state.mqtt_reconnects == 1 else "s")
    skipped = state.mqtt_skipped
    if skipped:
        text += "; %d reading%s skipped for want of heap" % (skipped, "" if skipped == 1 else "s")
    if state.mqtt_error and not what:
        text += "; last error: " + state.mqtt_error
    state.mqtt = text
