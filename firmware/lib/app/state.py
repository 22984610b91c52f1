"""What every service reads: the latest reading, the last hour of power, health and counters.

Written by the meter task and the services; read by the web pages, MQTT and telnet. Nothing
here does I/O. The history is a preallocated ring: one sample a reading, at most an hour. A
sample's time is the gap in seconds from the one before it (16 bits: 65535 stands for that long
or longer), and the newest one's uptime: the ages add up from the newest, and a sample from
before a silence of a day still shows as older than 18 hours, never as a recent one
(app/web/history.py).
"""
from array import array

HISTORY = 360  # power samples kept (one per push: an hour of 10 s pushes)


class State:
    # What a run may never set is the class's, set on the object only when it changes: with
    # last_error (a start in the middle of a push sets it) the object holds 17 attributes, and
    # past 17 its table of them grows from 17 slots to 23.
    last_error = None      # (code, detail, hex excerpt)
    mqtt_reconnects = 0    # connections to the broker after the first one
    mqtt_skipped = 0       # readings not published for want of heap (app/mqtt.py)
    mqtt_error = None      # why the last MQTT connection failed or ended, in words
    safe_mode = False
    reset_cause = "unknown"  # app/start.py sets it on the class (one State a firmware)

    def __init__(self):
        self.reading = None        # the latest han.reading.Reading (multipliers applied)
        self.reading_ms = None     # ticks_ms when it arrived
        self.readings = 0
        self.power_gaps = array("H", bytes(2 * HISTORY))   # s from the sample before (at most 65535)
        self.power_watts = array("i", bytes(4 * HISTORY))  # import minus export, W
        self.power_count = 0
        self.power_s = 0           # uptime_s of the newest sample
        self.diagnosis = ("no_data", "Waiting for data from the meter.")
        self.serial = ""           # serial settings in use, e.g. "2400 8N1"
        self.wifi = "down"
        self.mqtt = "off"          # MQTT in one line: "off" (no broker set), "connected to ...", why not
        self.mqtt_sent = 0         # MQTT messages published since start
        self.loop_stall_ms = 0     # longest time the event loop was blocked
        self.frame_us = 0          # time spent decoding the last frame, over all its chunks
        self.frame_us_max = 0
        self.uptime_s = 0          # kept by the health supervisor (ticks wrap after days; this does not)

    def add_power(self, watts):
        """A power sample (W) now, at uptime_s."""
        at = self.power_count % HISTORY
        self.power_gaps[at] = min(self.uptime_s - self.power_s, 65535)  # what 16 bits hold
        self.power_s = self.uptime_s
        self.power_watts[at] = watts
        self.power_count += 1
