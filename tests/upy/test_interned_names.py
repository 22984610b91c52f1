# MicroPython interns every name its code uses, in pools; past 624 names it adds a pool of 640
# entries, one piece of the heap (7 KB on this 64-bit port, 3.8 KB on the board). A push that
# meets a name first once the start has scattered the heap may need that piece then: with MQTT's
# names just short of a new pool, a plain meter in 112K decoded no push at all (each push loaded
# the meter table, han.meters, whose names wanted the new pool). So building the meter interns
# the names of what a push loads for a moment. MicroPython only (its own process: the names
# other test modules brought would be interned already).
import sys
import time

from test_meter import KAMSTRUP, meter

MICROPYTHON = sys.implementation.name == "micropython"
TABLES = ("meters", "details", "verdicts")  # what han.errors.load brings for a moment


def interned(name):
    """Whether MicroPython has `name` interned: a string made at run time comes back as the
    interned one if there is one (an immediate object, not a heap address)."""
    made = "".join([c for c in name])
    return id(made) & 7 == 2


def defined(table):
    """The names han.<table> defines at its top level, read from its source."""
    import re
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    names = []
    with open(here + "/../../firmware/lib/han/%s.py" % table) as f:
        for line in f:
            found = re.match(r"(def |class |)([A-Za-z_][A-Za-z0-9_]*)( = |\(|:)", line)
            if found and (found.group(1) or found.group(3) == " = "):
                names.append(found.group(2))
    return names


def test_building_the_meter_interns_the_names_its_pushes_load_for_a_moment():
    if not MICROPYTHON:
        return  # CPython has no name pools in a bounded heap
    assert interned("print") and not interned("not_a_name_anywhere_%d" % time.ticks_ms())
    names = [name for table in TABLES for name in defined(table)]
    new = [name for name in names if not interned(name)]
    assert "CONVENTIONS" in new and "MANUFACTURERS" in new  # han.meters': no code so far uses them
    m, state, lines = meter()
    assert [name for name in new if not interned(name)] == []
    m.take(KAMSTRUP, time.ticks_ms())
    m.take(None, time.ticks_ms())
    assert state.readings == 1 and not lines
