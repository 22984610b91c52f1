"""Micro-benchmark of han.crypto.gcm: µs per 240-byte DLMS frame on every available path.

    micropython -X heapsize=100k tools/bench_gcm.py
    python3 tools/bench_gcm.py          (needs the `cryptography` package)

Runs under MicroPython (unix port or a board via mpremote, with han/ on the path) and CPython.
"""
import gc
import sys
import time

HERE = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
sys.path.insert(0, HERE + "/../firmware/lib")
ON_MICROPYTHON = sys.implementation.name == "micropython"

import han.crypto  # noqa: E402  (the package itself is not the crypto's cost)

if ON_MICROPYTHON:
    gc.collect()
    _before_import = gc.mem_alloc()
from han.crypto.gcm import Gcm  # noqa: E402

if ON_MICROPYTHON:
    gc.collect()
    IMPORT_LIVE = gc.mem_alloc() - _before_import
    IMPORTED = ", ".join(sorted(n for n in sys.modules if n.startswith("han.crypto.")))
from han.crypto import _gcm_pure  # noqa: E402
from han.crypto.seal import seal  # noqa: E402

FRAME_BYTES = 240
ROUNDS = 2000 if ON_MICROPYTHON else 500

if ON_MICROPYTHON:
    def now_us():
        return time.ticks_us()

    def elapsed_us(start):
        return time.ticks_diff(time.ticks_us(), start)
else:
    def now_us():
        return time.perf_counter_ns() // 1000

    def elapsed_us(start):
        return now_us() - start


def per_call_us(action, rounds):
    start = now_us()
    for _ in range(rounds):
        action()
    return elapsed_us(start) / rounds


def heap_bytes(make):
    """Live heap taken by make()'s result, and the bytes it allocated on the way."""
    if not ON_MICROPYTHON:
        return None, None
    gc.collect()
    before = gc.mem_alloc()
    made = make()
    during = gc.mem_alloc() - before
    gc.collect()
    live = gc.mem_alloc() - before
    del made
    return live, during


def allocated_per_call(action, calls=20):
    if not ON_MICROPYTHON:
        return None
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    try:
        for _ in range(calls):
            action()
        return (gc.mem_alloc() - before) / calls
    except MemoryError:  # the pure path's big ints can outgrow a small heap with gc off
        return -1
    finally:
        gc.enable()


def bench(ops):
    key = bytes(range(16))
    iv = bytes.fromhex("4D4D4D0000BC614E01234567")
    aad = b"\x30" + bytes(range(0xD0, 0xE0))
    plaintext = bytes((7 * i) & 0xFF for i in range(FRAME_BYTES))

    Gcm(key, ops)  # CPython imports `cryptography` on first use: keep that out
    start = now_us()
    gcm = Gcm(key, ops)
    build_us = elapsed_us(start)
    live, during = heap_bytes(lambda: Gcm(key, ops))

    frame = bytearray(plaintext)
    tag = seal(gcm, iv, frame, aad)[:12]
    ciphertext = bytes(frame)

    def refill():
        frame[:] = ciphertext

    def open_tagged():
        frame[:] = ciphertext
        if not gcm.open(iv, frame, aad, tag):
            raise AssertionError("tag failed")

    def open_untagged():
        frame[:] = ciphertext
        gcm.open(iv, frame)

    rounds = ROUNDS if ops is not _gcm_pure else ROUNDS // 20
    refill_us = per_call_us(refill, rounds)
    tagged_us = per_call_us(open_tagged, rounds) - refill_us
    untagged_us = per_call_us(open_untagged, rounds) - refill_us
    assert bytes(frame) == plaintext

    print("path %-5s  open(%d B, 17 B AAD, 12 B tag): %8.1f us   no tag: %8.1f us   new Gcm: %d us"
          % (ops.__name__.rsplit("_", 1)[1], FRAME_BYTES, tagged_us, untagged_us, build_us))
    if ON_MICROPYTHON:
        print("      Gcm instance live heap: %d B (allocated while building: %d B);"
              " heap allocated per open(): %.0f B tagged, %.0f B untagged (-1: more than the heap)"
              % (live, during, allocated_per_call(open_tagged), allocated_per_call(open_untagged)))


print(sys.implementation.name, ".".join(str(n) for n in sys.implementation.version[:3]))
if ON_MICROPYTHON:
    print("import han.crypto.gcm: %d B live heap (modules: %s)" % (IMPORT_LIVE, IMPORTED))
default = Gcm(bytes(16)).ops  # the viper loops where MicroPython has them
for ops in (default, _gcm_pure) if default is not _gcm_pure else (_gcm_pure,):
    bench(ops)
