"""The meter task: UART -> decoding pipeline -> state and logs (MQTT and the web read the state).

Reads whatever the UART has and goes back to the event loop at once: a 2400-baud push takes
seconds to arrive and must not hold anything up. When the line has been quiet for _IDLE_MS the
push is over and the pipeline decides what it still holds. While a web request or an MQTT
connection has code loaded for its moment (app.lent) the meter waits up to _LEND_MS before it reads
on: a page and a push decoded at once may not fit in the heap.
"""
import asyncio
import gc
import time

from app import lent, unload
from han.diagnosis import Diagnosis
from han.values import Quantity

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_IDLE_MS = const(250)   # silence that ends a push (a byte takes 4.6 ms at 2400 baud)
_POLL_MS = const(20)    # how often a quiet line is looked at (the UART buffers 4 KB meanwhile)
_CHUNK = const(256)
# How long the meter lets a web request or an MQTT connection have the heap before it reads on
# (app.lent): the UART buffers what comes meanwhile (4 KB: 350 ms at 115200 baud).
_LEND_MS = const(200)
_VERDICT_MS = const(2000)  # how often the diagnosis is looked at
_NEXT = const(1)     # han.detective's decisions (its module is loaded only while it works)
_SETTLED = const(2)
_VERBOSE = const(4)  # app.log's level "V": the dumps of every layer's bytes


class Meter:
    # Set on the object only when changed (an object's table grows by half past 12 attributes):
    dump = True  # per-layer hex dumps at level V ("dump off" in telnet stops them)
    frames = None  # callable(layer, bytes view) for every layer's bytes (MQTT raw topic)

    def __init__(self, hal, config, state, log):
        self.hal = hal
        self.config = config = config["meter"]
        self.state = state
        self.log = log
        self.led = None
        self.diagnosis = Diagnosis()
        self.decode_us = 0  # time spent on the frame being received, over all its chunks
        self.verdict_ms = time.ticks_ms()
        # The pipeline (with the keys), the serial setting or the line detective and the
        # multipliers: the code that reads them from the config is loaded
        # for that and unloaded after.
        from app.meter_config import apply
        apply(self, config, hal.data)
        unload("app.meter_config")
        gc.collect()  # its room back now: the services made next fill it, not the heap above

    def _trace(self, layer, view):
        if self.frames is not None:
            self.frames(layer, view)
        if self.dump and self.log.level >= _VERBOSE:
            from app.dump import dump_layer  # the dumps' code is loaded for each
            dump_layer(self.log, layer, view)
            unload("app.dump")

    async def run(self):
        """Decode until automatic detection wants another setting, then open the line at that one.
        The line is looked at every _POLL_MS, and at once again while it brings bytes: an await on
        the UART's stream with a timeout would make a task and three coroutines for every chunk.
        (One coroutine for both loops: a frame each stays in the heap for good.)"""
        while True:
            setting = self.setting  # None while the detective finds it
            if setting is None:
                from han.detective import describe
                setting = describe(self.detective.setting)
                describe = None  # no local of this coroutine keeps the detective's module once it is done
                self.state.serial = setting + " (finding the setting)"
            else:
                self.state.serial = setting
            uart = self.hal.uart(self.config["rx_pin"], setting)
            self.log.info("Reading the meter on GPIO%d at %s" % (self.config["rx_pin"], self.state.serial))
            try:
                quiet_from = time.ticks_ms()  # the line has been quiet since
                lending = 0  # ms the heap has been lent for (app.lent)
                while True:
                    if lent():
                        if lending < _LEND_MS:
                            lending += _POLL_MS
                            await asyncio.sleep_ms(_POLL_MS)
                            continue
                    else:
                        lending = 0
                    chunk = uart.read(_CHUNK)
                    now = time.ticks_ms()
                    if not chunk and time.ticks_diff(now, quiet_from) < _IDLE_MS:
                        await asyncio.sleep_ms(_POLL_MS)
                        continue
                    detective = self.detective
                    self.take(chunk, now)  # None: quiet for _IDLE_MS, the push is over
                    more = bool(chunk)
                    chunk = None  # this coroutine's frame would keep it while waiting for the next one
                    if time.ticks_diff(now, self.verdict_ms) >= _VERDICT_MS:
                        self.verdict_ms = now
                        try:  # (no room for its sentences ended the firmware in 128K; asked again later)
                            verdict = self.diagnosis.verdict(now)
                            if verdict != self.state.diagnosis:
                                self.state.diagnosis = verdict
                                (self.log.info if verdict[0] == "ok" else self.log.warning)("Diagnosis: " + verdict[1])
                        except MemoryError:
                            pass
                    if detective is not None:
                        decision = detective.decide(now)
                        if decision == _NEXT:
                            break
                        if decision == _SETTLED:
                            from app.meter_config import settled  # once a boot at most: loaded for it
                            settled(self)
                            settled = None  # this coroutine's frame would keep the module's code alive
                            unload("app.meter_config")
                    quiet_from = time.ticks_ms()  # from now: the time decoding took is no quiet on the line
                    await asyncio.sleep_ms(0 if more else _POLL_MS)  # others' turn; the rest of a push at once
            except MemoryError:  # a step around the decoding found no room: read on (ended, this
                self._no_room(True)  # task would end the firmware: a reset, safe mode after three)
            uart.close()  # (no `finally`: another error ends the firmware, and a frame's slot each)
            try:
                list(self.pipeline.flush())  # bytes read at the old setting mean nothing at the new one
            except MemoryError:  # (no room to decide them: forgotten all the same)
                self.pipeline.scanner.gap()

    def take(self, chunk, now):
        """Decode a chunk read at ticks `now` (None: the line is quiet, the push is over); the time
        spent is added to the frame it belongs to. When the heap has no room for a step of it (a
        page or an MQTT message may hold much of it for a moment), that push is lost and the meter
        task goes on: ended, the watchdog would reset. The frames after it in the chunk are not
        lost: the pipeline's iterator goes on where it stood."""
        if chunk:
            try:
                self.diagnosis.observe_bytes(len(chunk), chunk, now)
                if self.detective is not None:
                    self.detective.observe_bytes(len(chunk), chunk)
            except MemoryError:  # the statistics miss a sample; the pipeline must not miss the
                pass             # bytes (a push with a hole reads as a wrong key)
        started = time.ticks_us()
        completed = False
        events = None
        try:
            events = self.pipeline.feed(chunk) if chunk else self.pipeline.flush()
        except MemoryError:  # no room to take the chunk: the frame it belongs to has a hole
            self._no_room(True)
        detective = self.detective
        while events is not None:
            try:
                event = next(events, None)
            except MemoryError:  # the pipeline's own step: its iterator is done, and what it had
                self._no_room(True)  # not taken of the chunk is lost
                break
            if event is None:
                break
            if event is MemoryError:  # a frame the pipeline had no room to decode
                self._no_room(False)
                continue
            try:
                self.diagnosis.observe(event)
                if detective:
                    detective.observe(event)
                if hasattr(event, "code"):  # an Error
                    log = self.log
                    self.state.last_error = (event.code, event.detail, bytes(event.data).hex() if event.data else "")
                    if event.code == "noise":
                        log.warning("Unknown data received (%d bytes)" % getattr(event, "size", 0))
                        if event.data and log.level >= _VERBOSE:
                            from app.dump import dump
                            dump(log, "payload:", event.data)
                            unload("app.dump")
                    elif event.code == "checksum":
                        log.warning("Checksum error: " + event.detail)
                    else:
                        log.warning("%s: %s" % (event.code, event.detail))
                else:
                    self._reading(event)
                    completed = True
            except MemoryError:  # handing out this event: the ones after it still come
                self._no_room(False)
        self.decode_us += time.ticks_diff(time.ticks_us(), started)
        if completed:
            self.state.frame_us = self.decode_us
            self.state.frame_us_max = max(self.state.frame_us_max, self.decode_us)
            self.decode_us = 0

    def _no_room(self, hole):
        """Count and log a push lost for want of heap; with `hole`, bytes of the chunk were lost
        too, and the scanner forgets the frame they belonged to (read with the hole, a ciphered
        push fails its tag: "check the authentication key")."""
        if hole:
            self.pipeline.scanner.gap()
        gc.collect()
        try:  # (a MemoryError raised here, where one was caught, would end the meter task)
            errors = self.pipeline.errors
            errors["memory"] = errors.get("memory", 0) + 1  # (the first one adds a key: room)
            detail = "no room in the heap to decode the push (%d B free now)" % gc.mem_free()
            self.state.last_error = ("memory", detail, "")
            self.log.error("Out of memory: " + detail)
        except MemoryError:  # what there was room for is done
            pass

    def _reading(self, reading):
        if self.multipliers is not None:  # current transformers: primary values
            from han.multipliers import apply
            apply(reading.values, *self.multipliers)
        watts = None  # active power import minus export in whole watts, if the meter sends it
        codes = reading.codes
        values = reading.values
        for i in range(len(values)):
            value = values[i]
            c = codes[6 * i + 2]
            if c in (1, 2) and codes[6 * i + 3] == 7 and codes[6 * i + 4] == 0 and isinstance(value, Quantity):
                w = value.raw * 10 ** value.scaler if value.scaler >= 0 else value.raw // 10 ** -value.scaler
                watts = (watts or 0) + (w if c == 1 else -w)
        state = self.state
        state.reading = reading
        state.reading_ms = time.ticks_ms()
        state.readings += 1
        if watts is not None:
            state.add_power(watts)
        self.log.debug("Reading: %d values%s" % (len(reading.values), "" if watts is None else ", %d W" % watts))
        if self.led is not None:
            self.led.flash = True  # app.health.Health: one short flash
