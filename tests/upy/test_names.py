"""Friendly names match C.D.E only and never a longer code's tail (both interpreters)."""
from han.text import name


def test_names_ignore_a_and_b():
    assert name(bytes((1, 1, 1, 7, 0, 255))) == "power_import"   # Kamstrup: B = 1
    assert name(bytes((1, 0, 1, 7, 0, 255))) == "power_import"
    assert name(bytes((1, 0, 2, 8, 0, 255))) == "energy_export"
    assert name(bytes((1, 1, 0, 0, 5, 255))) == "meter_id"


def test_a_code_is_not_matched_inside_a_longer_one():
    assert name(bytes((1, 0, 21, 7, 0, 255))) == "power_import_l1"  # not "power_import"
    assert name(bytes((1, 0, 41, 7, 0, 255))) == "power_import_l2"
    assert name(bytes((1, 0, 99, 7, 0, 255))) is None
    assert name(bytes((1, 0, 1, 8, 3, 255))) is None
    assert name(bytes((0, 0, 42, 0, 0, 255))) == "device_name"       # the last entry
