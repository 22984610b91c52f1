"""Pipeline benchmark: frames per second and heap, plain and encrypted 240-byte HDLC frames.

    micropython -X heapsize=112K tools/bench.py
    python3 tools/bench.py

Prints figures; asserts nothing about speed. The encrypted frame is a Kamstrup-DK-style push:
HDLC, LLC, general-glo-ciphering with SC 0x30 (tag verified with the authentication key).
"""
import gc
import sys
import time

try:  # a precompiled library on the path wins (MICROPYPATH=...: measure what the board runs)
    import han  # noqa: F401
except ImportError:
    sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../firmware/lib")

from han.pipeline import Pipeline  # noqa: E402  (the largest import first, while the heap is empty)
from han.keys import cipher  # noqa: E402
from han.framing import crc16_x25  # noqa: E402
from han.crypto.gcm import Gcm  # noqa: E402
from han.crypto.seal import seal  # noqa: E402

MICROPYTHON = sys.implementation.name == "micropython"
FRAME_SIZE = 240
KEY = bytes(range(16))
AUTH_KEY = bytes(range(0xD0, 0xE0))
SYSTEM_TITLE = b"KAM\x01\x02\x03\x04\x05"


def now_us():
    return time.ticks_us() if MICROPYTHON else time.perf_counter_ns() // 1000


def elapsed_us(start):
    return time.ticks_diff(time.ticks_us(), start) if MICROPYTHON else now_us() - start


def axdr_list(count):
    """Kamstrup-style flat list: list id, then OBIS/value pairs of double-long-unsigned."""
    body = bytearray(b"\x02" + bytes([count * 2 + 1]) + b"\x0a\x0eKamstrup_V0001")
    for i in range(count):
        body += b"\x09\x06\x01\x01" + bytes([(i % 60) + 1, 7, 0, 255]) + b"\x06" + (123456 + i).to_bytes(4, "big")
    return body


def notification(list_items):
    header = b"\x0f\x00\x00\x00\x00\x0c\x07\xe8\x0a\x1e\x03\x11\x20\x00\xff\x80\x00\x00"
    return header + axdr_list(list_items)


def hdlc(info):
    length = 2 + 2 + 1 + 2 + len(info) + 2  # format, addresses, control, HCS, info, FCS
    frame = bytearray(b"\x7e" + bytes([0xA0 | (length >> 8), length & 0xFF]) + b"\x2b\x21\x13\x00\x00")
    hcs = crc16_x25(frame, 1, 6)
    frame[6], frame[7] = hcs & 0xFF, hcs >> 8
    frame += info
    fcs = crc16_x25(frame, 1, len(frame))
    frame += bytes([fcs & 0xFF, fcs >> 8, 0x7E])
    return bytes(frame)


def ciphered(apdu, counter):
    data = bytearray(apdu)
    iv = SYSTEM_TITLE + counter.to_bytes(4, "big")
    tag = seal(Gcm(KEY), iv, data, bytes([0x30]) + AUTH_KEY)[:12]
    rest = 5 + len(data) + 12
    length = bytes([rest]) if rest < 0x80 else bytes([0x81, rest]) if rest < 0x100 else \
        bytes([0x82, rest >> 8, rest & 0xFF])
    return b"\xdb\x08" + SYSTEM_TITLE + length + b"\x30" + counter.to_bytes(4, "big") + bytes(data) + tag


def sized_frame(encrypted):
    """A frame of exactly FRAME_SIZE bytes: grow the list, then pad the list id."""
    items = 1
    while True:
        apdu = notification(items)
        frame = hdlc(b"\xe6\xe7\x00" + (ciphered(apdu, 1) if encrypted else apdu))
        if len(frame) > FRAME_SIZE:
            break
        best, items = items, items + 1
    apdu = notification(best)
    frame = hdlc(b"\xe6\xe7\x00" + (ciphered(apdu, 1) if encrypted else apdu))
    pad = FRAME_SIZE - len(frame)
    apdu = bytearray(apdu)  # one more trailing value of `pad` bytes keeps the A-XDR valid
    if pad:
        apdu[19] += 1  # structure count
        apdu += b"\x09" + bytes([pad - 2]) + b"x" * (pad - 2) if pad >= 2 else b""
    frame = hdlc(b"\xe6\xe7\x00" + (ciphered(bytes(apdu), 1) if encrypted else bytes(apdu)))
    return frame, best


def run(frame, keys, count):
    pipeline = Pipeline(keys)
    readings = 0
    gc.collect()
    start = now_us()
    for _ in range(count):
        for event in pipeline.feed(frame):
            if hasattr(event, "values"):
                readings += 1
    took = elapsed_us(start)
    assert readings == count, "decoded %d of %d" % (readings, count)
    return count * 1000000 // took, took / count


def allocation_per_frame(frame, keys):
    """Bytes allocated per decoded frame (GC disabled while measuring), MicroPython only."""
    if not MICROPYTHON:
        return None
    pipeline = Pipeline(keys)
    for _ in pipeline.feed(frame):
        pass
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in pipeline.feed(frame):  # one frame with the collector off: a small heap runs out
        pass
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def live_heap():
    gc.collect()
    return gc.mem_alloc() if MICROPYTHON else None


def main():
    count = 10000 if MICROPYTHON else 5000
    print("hanreader pipeline benchmark on %s, %d-byte frames" % (sys.implementation.name, FRAME_SIZE))
    if MICROPYTHON:
        print("live heap with the pipeline and AES-GCM imported: %d B" % live_heap())
    if not MICROPYTHON:
        import tracemalloc
        tracemalloc.start()
    for name, encrypted in (("plain", False), ("encrypted", True)):
        frame, items = sized_frame(encrypted)
        keys = cipher(KEY, AUTH_KEY) if encrypted else None
        base = live_heap()
        rate, per_frame = run(frame, keys, count)
        line = "%-9s %d B, %d values: %6d frames/s, %5.1f us/frame" % (name, len(frame), items + 1, rate, per_frame)
        if MICROPYTHON:
            pipeline = Pipeline(keys)
            for _ in pipeline.feed(frame):
                pass
            held = live_heap() - base
            del pipeline
            allocated = allocation_per_frame(frame, keys)
            # Peak: everything live plus all a frame allocates before the collector runs.
            line += ", pipeline holds %d B, allocates %d B/frame, peak heap %d B" % (
                held, allocated, live_heap() + held + allocated)
        else:
            import tracemalloc
            line += ", peak traced %d KB" % (tracemalloc.get_traced_memory()[1] // 1024)
            tracemalloc.reset_peak()
        print(line)
    if MICROPYTHON:
        print("live heap after the runs: %d B" % live_heap())


if __name__ == "__main__":
    main()
