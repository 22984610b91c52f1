# A MicroPython heap whose free room is all in small pieces, as after hours of readings, pages and
# MQTT turns: for the tests that decode in such a heap (test_heap_pieces.py) and the scripts that
# load code into one (tests/web_pieces_app.py, tests/load_pieces_app.py).
import gc
import struct

WORD = struct.calcsize("P")


def _tuple(size):
    """One allocation of `size` bytes (a tuple: its header and items in one piece)."""
    return (None,) * ((size - 2 * WORD) // WORD)


def _scatter(piece):
    gc.collect()
    held = [None] * (gc.mem_free() // piece + 1)  # made first: a list growing would leave larger holes
    count = 0
    try:
        while count < len(held):
            held[count] = _tuple(piece)
            count += 1
    except MemoryError:
        pass
    crumbs = None
    try:
        while True:
            crumbs = (crumbs,)  # the smaller holes filled too, one block at a time
    except MemoryError:
        pass
    for i in range(0, count, 2):
        held[i] = None
    plugs = None  # what a collection frees next to a freed tuple makes a larger hole: filled
    while True:
        gc.collect()
        before = plugs
        try:
            while True:
                plugs = (plugs, _tuple(piece + 32))
        except MemoryError:
            pass
        if plugs is before:
            return held, crumbs, plugs


def largest_free():
    """The largest piece of the free heap, in bytes (to 32)."""
    size = 0
    try:
        while True:
            _tuple(size + 32)
            size += 32
    except MemoryError:
        return size


def scatter(piece):
    """Fill the free heap with `piece`-byte tuples, what is left with the smallest objects, then
    let every other tuple go: the free room is then in pieces of `piece` bytes. Returns (what
    holds the rest, the largest free piece); tried again when a hole the collections leave next
    to a free piece is larger."""
    for _ in range(5):
        held = _scatter(piece)
        largest = largest_free()
        if largest <= piece:
            break
        held = None
    return held, largest
