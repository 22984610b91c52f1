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


# Every code with a name (han.text makes them from the codes' parts): the table they were kept in.
NAMED = (
    "1.7.0 power_import 2.7.0 power_export 3.7.0 reactive_power_import 4.7.0 reactive_power_export "
    "21.7.0 power_import_l1 41.7.0 power_import_l2 61.7.0 power_import_l3 "
    "22.7.0 power_export_l1 42.7.0 power_export_l2 62.7.0 power_export_l3 "
    "31.7.0 current_l1 51.7.0 current_l2 71.7.0 current_l3 "
    "32.7.0 voltage_l1 52.7.0 voltage_l2 72.7.0 voltage_l3 "
    "13.7.0 power_factor 33.7.0 power_factor_l1 53.7.0 power_factor_l2 73.7.0 power_factor_l3 "
    "14.7.0 frequency "
    "1.8.0 energy_import 2.8.0 energy_export 3.8.0 reactive_energy_import 4.8.0 reactive_energy_export "
    "1.8.1 energy_import_tariff_1 1.8.2 energy_import_tariff_2 "
    "2.8.1 energy_export_tariff_1 2.8.2 energy_export_tariff_2 "
    "21.8.0 energy_import_l1 41.8.0 energy_import_l2 61.8.0 energy_import_l3 "
    "96.1.0 meter_id 96.1.1 meter_id 0.0.5 meter_id 96.1.7 meter_type "
    "0.2.129 list_version 1.0.0 meter_time 42.0.0 device_name").split()


def named_codes():
    """{(C, D, E): name} of every code han.text names, C 0-99 and 128, 255, D 0-9 and 128, 255, E
    0-9 and 129, 255 (where the names are, and around them)."""
    found = {}
    for c in list(range(100)) + [128, 255]:
        for d in list(range(10)) + [128, 255]:
            for e in list(range(10)) + [129, 255]:
                text = name(bytes((1, 0, c, d, e, 255)))
                if text is not None:
                    found[(c, d, e)] = text
    return found


def test_exactly_the_named_codes_have_a_name():
    expected = {}
    for i in range(0, len(NAMED), 2):
        expected[tuple(int(part) for part in NAMED[i].split("."))] = NAMED[i + 1]
    assert named_codes() == expected
    assert name(b"\x09\x01\x00" + bytes((1, 1, 31, 7, 0, 255)), 3) == "current_l1"  # the code at an offset
