"""Push lists that describe themselves with a capture-object list (L&G/Iskraemeco customer
interface): values are matched to objects by position, and a register's scaler-unit sent as
attribute 3 in the same push is applied to its value (both interpreters)."""
from encoder import (array, data_notification, double_long_unsigned, integer, long_unsigned,
                     obis, octet_string, scaler_unit, structure, unsigned)
from han.framing.wrapper import decode_message
from han.pipeline import Pipeline
from han.text import decimal_text, symbol
from support import value_of

PUSH_SETUP = "0.8.25.9.0.255"


def code(text):
    return bytes(int(part) for part in text.split("."))


def capture(class_id, text, attribute):
    return structure([long_unsigned(class_id), obis(code(text)), integer(attribute), long_unsigned(0)])


def decode(body):
    readings = [e for e in decode_message(Pipeline(), data_notification(body)) if not hasattr(e, "code")]
    assert len(readings) == 1
    return readings[0]


def value(reading, text):
    q = value_of(reading, code(text))
    return None if q is None else (decimal_text(q.raw, q.scaler), symbol(q.unit))


def test_attribute_3_scales_the_register_value():
    objects = [capture(40, PUSH_SETUP, 2), capture(40, PUSH_SETUP, 1),
               capture(3, "1.0.32.7.0.255", 2), capture(3, "1.0.32.7.0.255", 3),
               capture(3, "1.0.1.8.0.255", 2), capture(3, "1.0.1.8.0.255", 3),
               capture(3, "1.0.31.7.0.255", 2)]
    body = structure([array(objects), octet_string(bytes((0, 8, 25, 9, 0, 255))),
                      long_unsigned(2347), scaler_unit(-1, 35),
                      double_long_unsigned(123456), scaler_unit(3, 30),
                      unsigned(12)])
    r = decode(body)
    assert value(r, "1.0.32.7.0.255") == ("234.7", "V")
    assert value(r, "1.0.1.8.0.255") == ("123456000", "Wh")
    assert value(r, "1.0.31.7.0.255") == ("12", "A")  # no attribute 3 sent: raw, unit from its code
    assert value_of(r, bytes((0, 8, 25, 9, 0, 255))) is None  # the push setup object is not a value
    assert len(r.values) == 3


def test_a_list_whose_length_differs_from_its_objects_is_not_taken_for_one():
    objects = [capture(40, PUSH_SETUP, 2), capture(3, "1.0.1.7.0.255", 2)]
    body = structure([array(objects), long_unsigned(5), long_unsigned(6)])
    errors = [e for e in decode_message(Pipeline(), data_notification(body)) if hasattr(e, "code")]
    assert [e.code for e in errors] == ["unknown"]
