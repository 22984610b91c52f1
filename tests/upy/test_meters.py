"""Meter conventions chosen by the user (hints) for lists that carry no scalers (both interpreters).

The Swiss customer interface of Landis+Gyr meters pushes raw register values; the scaler depends
on the model. The expected figures are the ones the source project (smartmeter-datacollector)
asserts for these captures.
"""
from han.pipeline import Pipeline
from han.text import decimal_text
from support import FRAMES, read_bytes, value_of


def decoded(name, hint):
    pipeline = Pipeline(hint=hint)
    data = read_bytes(FRAMES + "/smartmeter-datacollector/" + name + ".bin")
    readings = [e for e in pipeline.feed(data) if not hasattr(e, "code")]
    readings += [e for e in pipeline.flush() if not hasattr(e, "code")]
    assert len(readings) == 1
    return readings[0]


def value(reading, c):
    q = value_of(reading, bytes([1, 0, c, 7, 0, 255]))
    return decimal_text(q.raw, q.scaler)


def test_landis_gyr_e450_currents_in_10_milliamperes():
    r = decoded("landisgyr-e450-gbt-vse2026", "landisgyr-e450")
    assert (value(r, 31), value(r, 51), value(r, 71)) == ("0.09", "0.08", "0.00")
    assert (value(r, 32), value(r, 52)) == ("236", "236")


def test_landis_gyr_e360_voltages_in_decivolts():
    r = decoded("landisgyr-e360-single-long-frame-vse2026", "landisgyr-e360")
    assert value(r, 32) == "235.7" and value(r, 31) == "0.06"


def test_landis_gyr_e570_whole_units():
    r = decoded("landisgyr-e570-gbt-load-vse2026", "landisgyr-e570")
    assert (value(r, 31), value(r, 51), value(r, 71)) == ("400", "200", "601")
    assert (value(r, 32), value(r, 52), value(r, 72)) == ("229", "230", "229")


def test_without_a_hint_raw_values_are_not_guessed():
    r = decoded("landisgyr-e450-gbt-vse2026", None)
    assert value(r, 31) == "9" and r.convention == "generic"
