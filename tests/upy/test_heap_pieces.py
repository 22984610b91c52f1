# A heap whose free room is scattered (after hours of readings, pages and MQTT turns) must still
# decode a long push: no step of it may need one large piece. MicroPython only (its own process:
# the scattered heap would weigh on the other modules' measurements).
import sys

from han.key_text import parse_key
from han.keys import cipher
from han.pipeline import Pipeline
from han.values import Reading
from scattered_heap import scatter
from support import FRAMES, read_bytes

MICROPYTHON = sys.implementation.name == "micropython"


def test_a_long_push_decodes_when_the_free_heap_is_in_pieces():
    # After hours of readings, pages and MQTT turns the free heap is scattered: the Danish
    # Kamstrup's push (a 65-element structure, 33 values) must decode with no free piece larger
    # than 384 bytes (the largest it needs is the generator feed() returns, 360 B here). Its lists
    # (the body's 65 items, 99 entries) are the pipeline's, kept from the push before at their
    # size; each needed a new 0.5-0.8 KB piece, which with everything on in 144K failed 7 pushes
    # in 10,000 with 18 KB free in smaller pieces.
    if not MICROPYTHON:
        return  # CPython's allocator does not fragment this way
    push = read_bytes(FRAMES + "/kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin")
    pipeline = Pipeline(cipher(parse_key("5AD84121D9D20B364B7A11F3C1B5827F"),
                             parse_key("AFB3F93E3E7204EDB3C27F96DBD51AE0")))
    assert [type(e) for e in pipeline.feed(push)] == [Reading]  # its code is loaded now
    held, largest = scatter(384)  # the whole free heap in 384-byte pieces, every other one free
    try:
        assert largest <= 384, largest
        events = list(pipeline.feed(push))
    finally:
        held = None
    assert [type(e) for e in events] == [Reading], events
