# The pipeline decodes every push into lists it keeps (han.cosem.new_cache: the body's items, then
# its entries, in one list; the codes buffer), so a push needs no new large piece of heap. A reading handed out must not share them:
# the next push, longer or shorter, of another layout, must leave it as it was (both interpreters).
from han.keys import cipher
from han.pipeline import Pipeline
from han.text import decimal_text, iso, symbol
from han.values import DateTime, Quantity, Reading
from support import FRAMES, pairs, read_bytes

# flat runs of code, value, scaler-unit (Kamstrup: 25 items, 13 values); a structure per value
# (Aidon: 27 of them); bare values the meter table knows (Kaifa: 13); three pushes with nulls
# (Kamstrup, single phase)
PUSHES = ("/amshan/kamstrup-se-list-3phase-hdlc.bin", "/amsreader-frames/Aidon-Sweden.bin",
          "/amsreader-frames/Kaifa-TN-3p-list2-MA304H3E.bin", "/amsreader-frames/Kamstrup-1p.bin")


def danish_keys():  # the Danish Kamstrup's GUEK (GPK60) and GAK (GPK61), from its capture's sidecar
    return cipher(bytes.fromhex("5AD84121D9D20B364B7A11F3C1B5827F"), bytes.fromhex("AFB3F93E3E7204EDB3C27F96DBD51AE0"))


def picture(reading):
    """What a reading says, as text made now (a later change to it shows as a difference)."""
    return [(code.hex(), decimal_text(value.raw, value.scaler) + " " + symbol(value.unit) if isinstance(value, Quantity) else
             iso(value) if isinstance(value, DateTime) else str(value)) for code, value in pairs(reading)] + \
        [reading.meter_id, reading.list_id, iso(reading.time) if reading.time else None]


def readings(pipeline, data):
    found = [e for e in pipeline.feed(data) if isinstance(e, Reading)]
    assert found, data[:16]
    return found


def test_a_reading_stays_as_it_was_when_the_next_push_reuses_the_lists():
    pipeline = Pipeline()
    kept = []
    for name in PUSHES + tuple(reversed(PUSHES)):
        for i, reading in enumerate(readings(pipeline, read_bytes(FRAMES + name))):
            kept.append((name, i, reading, picture(reading)))
    assert len(kept) == 12
    for name, i, reading, before in kept:
        assert picture(reading) == before, name
        fresh = readings(Pipeline(), read_bytes(FRAMES + name))[i]
        assert picture(fresh) == before, name  # as a pipeline of its own decodes it


def lists(pipeline):
    """The list the pipeline keeps, and its codes buffer (not the last reading, the cache's last
    element)."""
    return [x for x in pipeline.meter[:-1] if isinstance(x, (list, bytearray))]


def test_the_pipeline_keeps_its_lists_from_push_to_push():
    pipeline = Pipeline()
    push = read_bytes(FRAMES + PUSHES[0])
    readings(pipeline, push)
    kept = lists(pipeline)
    assert [len(x) for x in kept] == [39, 72]  # the body's 25 items, then 13 entries of 3; 12 codes of 6 B
    readings(pipeline, read_bytes(FRAMES + PUSHES[1]))  # longer: 27 items, then 81 entries; 27 codes
    assert [len(x) for x in lists(pipeline)] == [81, 162]
    readings(pipeline, push)
    assert [len(x) for x in lists(pipeline)] == [39, 162]  # (room past the push's codes stays)
    assert all(now is before for now, before in zip(lists(pipeline), kept))


def test_a_push_of_the_same_meter_shares_the_codes_of_the_last():
    danish = read_bytes(FRAMES + "/kamstrup-dk-script/kamstrup-omnipower-dk-ggc.bin")
    first = readings(Pipeline(danish_keys()), danish)[0]
    pipeline = Pipeline(danish_keys())
    before = readings(pipeline, danish)[0]
    after = readings(pipeline, danish)[0]
    assert len(after.values) == len(before.values) == 33 and len(after.codes) == 6 * 33
    assert after.codes is before.codes
    assert picture(after) == picture(before) == picture(first)
    other = readings(pipeline, read_bytes(FRAMES + PUSHES[0]))[0]  # another meter: its own codes
    assert picture(other) == picture(readings(Pipeline(), read_bytes(FRAMES + PUSHES[0]))[0])
    assert picture(before) == picture(first)  # the earlier reading as it was


def test_a_push_shares_with_the_last_the_items_that_did_not_change():
    # Kamstrup single phase: pushes of 9, 9 and 14 items (list 2 begins as list 1 does), some
    # values moving from push to push.
    pushes = readings(Pipeline(), read_bytes(FRAMES + "/amsreader-frames/Kamstrup-1p.bin"))
    assert [len(push.values) for push in pushes] == [9, 9, 14]
    shared = []
    for before, after in zip(pushes, pushes[1:]):
        then, now = picture(before), picture(after)
        for i in range(9):
            same = now[i] == then[i] and isinstance(after.values[i], Quantity)
            assert (after.values[i] is before.values[i]) == same, now[i]  # unchanged: the same value
            if same:
                shared.append(i)
    assert shared == [3, 4, 5, 6, 4, 6, 8]
    # the same codes: the same object; more of them (list 2): a new one, beginning as list 1's
    assert pushes[1].codes is pushes[0].codes and pushes[2].codes[:54] == pushes[1].codes
