# The meter task (app/meter.py) fed by hand: a capture decodes into the state, and a push that
# finds no room in the heap is counted and logged while the task goes on. Runs under CPython and
# MicroPython alike.
import gc
import sys
import time

from app.config import defaults
from app.log import Log
from app.meter import Meter
from app.state import State
from support import FRAMES, read_bytes, tick_clock

tick_clock()
if not hasattr(gc, "mem_free"):  # CPython: no bounded heap to ask
    gc.mem_free = lambda: 0


KAMSTRUP = read_bytes(FRAMES + "/amshan/kamstrup-se-list-3phase-hdlc.bin")
DANISH = read_bytes(FRAMES + "/kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin")  # keys: its sidecar


class Hal:
    data = ""


def out_of_memory(chunk):
    """Stands in for the pipeline's events when the heap is full (a generator that raised is done)."""
    raise MemoryError
    yield


def parse_without_room_once(run):
    """run() while the pipeline's parse step finds no room in the heap, once; what run() returns."""
    import han.pipeline
    parse = han.pipeline.parse

    def no_room(*args):
        han.pipeline.parse = parse
        raise MemoryError

    han.pipeline.parse = no_room
    try:
        return run()
    finally:
        han.pipeline.parse = parse


def meter(**settings):
    config = defaults()
    config["meter"]["baud"] = 2400  # a fixed setting: no line detective
    config["meter"].update(settings)
    log = Log("W", size=2048)
    lines = []
    log.sinks.append(lines.append)
    state = State()
    return Meter(Hal(), config, state, log), state, lines


def test_a_capture_decodes_into_the_state():
    m, state, lines = meter()
    m.take(KAMSTRUP, time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert state.readings == 1 and state.reading is not None and not lines


def test_multipliers_make_the_power_history_primary():
    watts = []
    for multiplier in (1, 50):
        m, state, lines = meter(power_multiplier=multiplier)
        m.take(KAMSTRUP, time.ticks_ms())
        m.take(None, time.ticks_ms())
        watts.append(state.power_watts[0])
    assert watts[0] and watts[1] == 50 * watts[0]


def test_a_push_without_room_in_the_heap_is_lost_and_the_task_goes_on():
    m, state, lines = meter()
    feed = m.pipeline.feed
    m.pipeline.feed = out_of_memory
    m.take(b"\x7e\xa0", time.ticks_ms())
    assert m.pipeline.errors == {"memory": 1}
    assert state.last_error[0] == "memory" and "no room in the heap" in state.last_error[1]
    assert len(lines) == 1 and lines[0].startswith("(E) Out of memory: no room in the heap")
    m.pipeline.feed = feed  # the heap has room again: the next push decodes
    m.take(KAMSTRUP, time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert state.readings == 1


def test_keys_as_pasted_open_an_encrypted_meter_and_their_reader_is_unloaded():
    m, state, lines = meter(key="0x5AD84121 D9D20B36 4B7A11F3 C1B5827F",
                            auth_key="af:b3:f9:3e:3e:72:04:ed:b3:c2:7f:96:db:d5:1a:e0")
    assert "han.key_text" not in sys.modules  # read at the start only: its code is not kept
    assert "app.meter_config" not in sys.modules  # so is the code that reads the meter's config
    m.take(DANISH, time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert state.readings >= 1 and not m.pipeline.errors, m.pipeline.errors


def test_a_push_that_found_no_room_half_decoded_is_not_decoded_again():
    # The frame is deciphered in place; no room in the heap to parse it: the scanner must not
    # hand that frame out again (it would then read as a wrong key), and the next push decodes.
    m, state, lines = meter(key="5AD84121D9D20B364B7A11F3C1B5827F", auth_key="AFB3F93E3E7204EDB3C27F96DBD51AE0")
    parse_without_room_once(lambda: m.take(DANISH, time.ticks_ms()))
    m.take(DANISH, time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert m.pipeline.errors == {"memory": 1}, m.pipeline.errors
    assert state.readings >= 1


def test_the_bytes_reach_the_pipeline_when_the_diagnosis_finds_no_room():
    # The diagnosis loads its verdicts now and then; no room for them must not cost the pipeline
    # a chunk: a push with a hole in it reads as a wrong authentication key (seen in 140K).
    keys = {"key": "5AD84121D9D20B364B7A11F3C1B5827F", "auth_key": "AFB3F93E3E7204EDB3C27F96DBD51AE0"}
    clean, clean_state, _ = meter(**keys)
    m, state, lines = meter(**keys)
    observe = m.diagnosis.observe_bytes
    calls = []

    def no_room_once(*args):
        calls.append(1)
        if len(calls) == 3:  # a chunk in the middle of the first push
            raise MemoryError
        return observe(*args)

    m.diagnosis.observe_bytes = no_room_once
    for at in range(0, len(DANISH), 64):
        clean.take(DANISH[at:at + 64], time.ticks_ms())
        m.take(DANISH[at:at + 64], time.ticks_ms())
    clean.take(None, time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert len(calls) > 3 and clean_state.readings >= 1
    assert not m.pipeline.errors and state.readings == clean_state.readings, m.pipeline.errors


def test_the_pushes_after_one_without_room_in_the_same_chunk_decode():
    # No room to handle the first push of a chunk (here: the diagnosis, once): the rest of the
    # chunk stays with the pipeline, whose iterator goes on. Abandoned, it lost the bytes not yet
    # taken: the next push read as a wrong authentication key and the one after as noise.
    m, state, lines = meter(key="5AD84121D9D20B364B7A11F3C1B5827F", auth_key="AFB3F93E3E7204EDB3C27F96DBD51AE0")
    observe = m.diagnosis.observe
    calls = []

    def no_room_once(event):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError
        return observe(event)

    m.diagnosis.observe = no_room_once
    pushes = DANISH * 4
    m.take(pushes[:2 * len(DANISH) + 100], time.ticks_ms())
    m.take(pushes[2 * len(DANISH) + 100:], time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert m.pipeline.errors == {"memory": 1}, m.pipeline.errors
    assert state.readings == 3 and lines[0].startswith("(E) Out of memory")


def test_a_frame_without_room_in_the_pipeline_leaves_the_next_ones_whole():
    m, state, lines = meter(key="5AD84121D9D20B364B7A11F3C1B5827F", auth_key="AFB3F93E3E7204EDB3C27F96DBD51AE0")
    events = parse_without_room_once(lambda: list(m.pipeline.feed(DANISH * 3)))
    assert [e if e is MemoryError else type(e).__name__ for e in events] == [MemoryError, "Reading", "Reading"]


def test_a_chunk_without_room_to_be_taken_costs_its_push_not_a_wrong_key():
    # No room even to hand the chunk to the pipeline: the push it belonged to has a hole. The
    # scanner forgets that push; read with the hole, it failed its tag ("check the
    # authentication key").
    m, state, lines = meter(key="5AD84121D9D20B364B7A11F3C1B5827F", auth_key="AFB3F93E3E7204EDB3C27F96DBD51AE0")
    feed = m.pipeline.feed
    pushes = DANISH * 3
    for n, at in enumerate(range(0, len(pushes), 64)):
        m.pipeline.feed = out_of_memory if n == 3 else feed  # a chunk inside the first push
        m.take(pushes[at:at + 64], time.ticks_ms())
    m.pipeline.feed = feed
    m.take(None, time.ticks_ms())
    errors = m.pipeline.errors
    assert errors.get("memory") == 1 and set(errors) <= {"memory", "noise"}, errors
    assert state.readings == 2


def micropython_asyncio():
    """MicroPython's asyncio, or None under CPython (the tests of the task run under MicroPython)."""
    try:
        import asyncio
        asyncio.wait_for_ms
        asyncio.sleep_ms  # (other tests give CPython's asyncio a wait_for_ms)
        return asyncio
    except (ImportError, AttributeError):
        return None


class Stop(Exception):
    """Ends a meter task under test."""


class Uart:
    """A serial port that gives one chunk a read (None: nothing came), then stops the task."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)
        self.reads = 0

    def read(self, n):
        self.reads += 1
        if not self.chunks:
            raise Stop
        return self.chunks.pop(0)

    def close(self):
        pass


def reading(m, uart):
    """The meter task reading `uart` (a Uart: the task ends when it raises Stop)."""
    m.hal = Hal()
    m.hal.uart = lambda pin, setting: uart
    return m.run()


def test_the_meter_task_goes_on_when_the_diagnosis_has_no_room_for_its_verdict():
    # The verdict's sentences are loaded for it (han.verdicts); no room for them ended the meter
    # task, and with it the firmware (seen in 128K, at the start, when everything loads at once).
    asyncio = micropython_asyncio()
    if asyncio is None:
        return
    m, state, lines = meter(key="5AD84121D9D20B364B7A11F3C1B5827F", auth_key="AFB3F93E3E7204EDB3C27F96DBD51AE0")
    asked = []

    def no_room(now):
        asked.append(now)
        raise MemoryError

    m.diagnosis.verdict = no_room
    m.verdict_ms = time.ticks_add(time.ticks_ms(), -10000)  # a verdict is due
    uart = Uart(DANISH, None)
    try:
        asyncio.run(reading(m, uart))
    except Stop:
        pass
    assert asked and uart.reads == 3 and state.readings == 1


def test_the_meter_task_reads_on_when_a_step_around_the_decoding_has_no_room():
    asyncio = micropython_asyncio()
    if asyncio is None:
        return
    ports = [Uart(DANISH), Uart(None, DANISH)]

    class UartHal(Hal):
        def uart(self, pin, setting):
            return ports.pop(0)

    m, state, lines = meter(key="5AD84121D9D20B364B7A11F3C1B5827F", auth_key="AFB3F93E3E7204EDB3C27F96DBD51AE0")
    m.hal = UartHal()
    take = m.take

    def no_room_once(chunk, now):
        m.take = take
        raise MemoryError

    m.take = no_room_once  # the first chunk: as if a step around take() found no room
    flush = m.pipeline.flush

    def flush_without_room():  # and no room to decide what the port had brought either
        m.pipeline.flush = flush
        raise MemoryError

    m.pipeline.flush = flush_without_room
    try:
        asyncio.run(m.run())
    except Stop:
        pass
    assert not ports and m.pipeline.errors.get("memory") == 1 and state.readings == 1


def test_the_meter_task_takes_a_chunk_at_once_and_decides_the_push_after_a_quiet_spell():
    asyncio = micropython_asyncio()
    if asyncio is None:
        return
    m, state, lines = meter()
    taken = []
    take = m.take

    def recorded(chunk, now):
        taken.append((chunk, now, uart.reads))
        take(chunk, now)

    m.take = recorded

    class QuietUart(Uart):
        def read(self, n):
            if taken and time.ticks_diff(time.ticks_ms(), taken[0][1]) > 600:
                raise Stop
            if self.chunks:
                return Uart.read(self, n)
            self.reads += 1
            return None

    uart = QuietUart(b"\x55" * 40)  # noise: decided only once the line is quiet
    try:
        asyncio.run(reading(m, uart))
    except Stop:
        pass
    (chunk, first, reads), (quiet, then, later_reads) = taken[:2]
    assert chunk == b"\x55" * 40 and reads == 1 and quiet is None
    assert 250 <= time.ticks_diff(then, first) < 400  # _IDLE_MS of quiet ends the push
    assert 5 <= later_reads - reads <= 20  # the quiet line looked at every 20 ms meanwhile
    assert any("Unknown data received (40 bytes)" in line for line in lines), lines


def lending_the_heap_for(lend_ms):
    """The meter task started while a web request's code is loaded ("app.web.http" in
    sys.modules: app.lent), which goes after `lend_ms` (None: it stays): ms from the start to the
    UART's first read."""
    asyncio = micropython_asyncio()
    m, state, lines = meter()
    reads = []

    class TimedUart(Uart):
        def read(self, n):
            reads.append(time.ticks_ms())
            raise Stop

    async def lend():
        sys.modules["app.web.http"] = object()
        if lend_ms is not None:
            await asyncio.sleep_ms(lend_ms)
            del sys.modules["app.web.http"]

    async def both():
        asyncio.create_task(lend())
        await asyncio.sleep_ms(0)
        await reading(m, TimedUart())

    loaded = sys.modules.pop("app.web.http", None)
    started = time.ticks_ms()
    try:
        asyncio.run(both())
    except Stop:
        pass
    finally:
        sys.modules.pop("app.web.http", None)
        if loaded is not None:
            sys.modules["app.web.http"] = loaded
    return time.ticks_diff(reads[0], started)


def test_the_meter_waits_for_a_web_request_to_give_its_heap_back():
    # A page's code and a push decoded at once may not fit: the meter lets the request finish
    # (the UART buffers meanwhile), then reads.
    if micropython_asyncio() is None:
        return
    waited = lending_the_heap_for(60)
    assert 60 <= waited < 150, waited


def test_the_meter_waits_a_moment_at_most_for_a_slow_request():
    # A slow browser holds its request's code for seconds: the meter reads on after 200 ms
    # (the UART's 4 KB last 350 ms at 115200 baud).
    if micropython_asyncio() is None:
        return
    waited = lending_the_heap_for(None)
    assert 200 <= waited < 300, waited


def test_the_serial_setting_as_configured():
    m, state, lines = meter(baud=115200, bits=8, parity="N", stop_bits=1, invert=True)
    assert m.setting == "115200 8N1 inverted" and m.detective is None
    m, state, lines = meter(baud=0)  # found automatically: the line detective works on it
    assert m.setting is None and m.detective is not None
    assert m.multipliers is None  # all 1: the values as the meter sends them
    m, state, lines = meter(power_multiplier=50)
    assert m.multipliers == (50, 1, 1, 1)


def test_the_setting_the_detective_found_is_kept_and_the_detective_unloaded():
    import os

    from app import unload
    from app.meter_config import settled, settled_path
    unload("app.meter_config")
    m, state, lines = meter(baud=0)
    m.hal.data = "build"  # not the working folder
    try:
        os.mkdir("build")
    except OSError:
        pass
    try:
        settled(m)
        with open(settled_path("build")) as f:
            index = int(f.read())
    finally:
        os.remove("build/serial-auto")
    assert m.setting == state.serial and m.detective is None and index >= 0
    assert "han.detective" not in sys.modules


def test_a_push_lost_for_want_of_heap_is_said_without_needing_room():
    # Called where a MemoryError was caught: a second one raised there would end the meter task
    # (and the firmware: a reset). With the heap locked nothing can be allocated at all.
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        return  # CPython: the heap cannot be locked
    m, state, lines = meter()
    m.take(b"\x7e\xa0\x20", time.ticks_ms())  # the start of a frame: the scanner holds it
    heap_lock()
    try:
        m._no_room(True)
    finally:
        heap_unlock()
    m.take(KAMSTRUP, time.ticks_ms())  # the next push decodes
    m.take(None, time.ticks_ms())
    assert state.readings == 1
