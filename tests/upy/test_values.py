"""Exact numbers, COSEM date-times and units, and their text (both interpreters)."""
import sys

from han.floats import decimal_from_float_bits
from han.text import decimal_text, iso, symbol
from han.values import DateTime, Quantity
from encoder import CLOCK, array, date_time, double_long_unsigned, obis
from support import FRAMES, read_bytes


def test_counters_above_float32_precision_render_exactly():
    # 85823280 Wh does not fit a float32 (24-bit mantissa): it must survive as text.
    assert decimal_text(8582328, 1) == "85823280"
    assert decimal_text(16777217, 0) == "16777217"  # 2^24 + 1
    assert decimal_text(4294967295, 1) == "42949672950"
    assert decimal_text(18446744073709551615, -3) == "18446744073709551.615"
    q = Quantity(99999999, -1, 30)
    assert decimal_text(q.raw, q.scaler) == "9999999.9"


def test_negative_scalers_keep_the_meters_resolution():
    assert decimal_text(2274, -1) == "227.4"
    assert decimal_text(0, -2) == "0.00"
    assert decimal_text(5, -3) == "0.005"
    assert decimal_text(-5, -3) == "-0.005"
    assert decimal_text(-2088, 0) == "-2088"
    assert decimal_text(1000, -3) == "1.000"


def test_units_use_dlms_symbols():
    for code, text in ((27, "W"), (30, "Wh"), (32, "varh"), (35, "V"), (33, "A"), (44, "Hz"), (8, "°"),
                       (39, "Ωm²/m"), (72, "dB"), (0, ""), (255, ""), (254, ""), ("GJ", "GJ")):
        assert symbol(code) == text, code


def _dt(hex_text):
    return DateTime(bytes.fromhex(hex_text))


def test_date_time_with_unspecified_deviation_is_local():
    # Kamstrup: deviation 0x8000 ("not specified"), as Nordic meters send local time.
    assert iso(_dt("07e40107020e2f14ff800000")) == "2020-01-07T14:47:20"


def test_date_time_deviation_is_minutes_to_utc():
    # Netz NÖ sample: deviation -120 (FF88) = local time is UTC+02:00.
    assert iso(_dt("07e5091b01092f0f00ff8880")) == "2021-09-27T09:47:15+02:00"
    assert iso(_dt("07e509160311231effffc400")) == "2021-09-22T17:35:30+01:00"
    assert iso(_dt("07e4011502100000ff000000")) == "2020-01-21T16:00:00+00:00"
    assert iso(_dt("07e4011502100000ff003c00")) == "2020-01-21T16:00:00-01:00"
    assert iso(_dt("07e4011502100000ff038400")) == "2020-01-21T16:00:00-15:00"  # 900 minutes: the limit
    assert iso(_dt("07e4011502100000fffc7c00")) == "2020-01-21T16:00:00+15:00"
    assert iso(_dt("07e4011502100000ff038500")) == "2020-01-21T16:00:00"  # 901: no offset told
    assert iso(_dt("07e4011502100000fffc7b00")) == "2020-01-21T16:00:00"


def test_date_time_to_the_second_and_partial_values():
    assert iso(_dt("07e4011502100000328000ff")) == "2020-01-21T16:00:00"  # hundredths dropped
    assert iso(_dt("07e40115ffffffffff8000ff")) == "2020-01-21"
    assert iso(_dt("ffffffffff0c1e00ff8000ff")) == "12:30:00"
    assert iso(_dt("ffffffffffffffffff8000ff")) is None


def test_plausible_date_times_and_ascii_meter_numbers():
    assert _dt("07e5091b01092f0f00ff8880").plausible()
    assert not DateTime(b"181220000009").plausible()  # Netz NÖ meter number, 12 ASCII digits
    assert _dt("07e4011502100000ff038400").plausible() and _dt("07e4011502100000fffc7c00").plausible()
    assert not _dt("07e4011502100000ff038500").plausible()  # a deviation beyond ±15 h
    assert not _dt("07e4011502100000fffc7b00").plausible()


def _float(bits, size):
    d = decimal_from_float_bits(bits, size)
    return decimal_text(d.raw, d.scaler)


def test_floats_become_exact_decimals_without_float_arithmetic():
    assert _float(0x3F800000, 4) == "1"
    assert _float(0x43668000, 4) == "230.5"
    assert _float(0x3DCCCCCD, 4) == "0.1"          # float32 0.1 rounded to 7 digits
    assert _float(0xC2F6E979, 4) == "-123.456"
    assert _float(0x4B800001, 4) == "16777220"     # 2^24+2 rounded to float32 precision
    assert _float(0x3FB999999999999A, 8) == "0.1"
    assert _float(0x0, 4) == "0"
    assert decimal_from_float_bits(0x7F800000, 4) is None  # infinity: no value


def test_multipliers_make_transformer_readings_primary():
    from han.multipliers import apply
    values = [Quantity(150, 0, 27), Quantity(12, 3, 30), Quantity(2301, -1, 35), Quantity(52, -2, 33),
              Quantity(500, -1, 44), Quantity(7, 0, "GJ"), "text"]
    apply(values, 40, 2, 30, 100)  # power, voltage, current, energy (the config's order)
    assert [(v.raw, v.scaler, v.unit) for v in values[:6]] == [
        (6000, 0, 27), (1200, 3, 30), (4602, -1, 35), (1560, -2, 33), (500, -1, 44), (7, 0, "GJ")]
    assert values[6] == "text"


def test_quantities_read_the_same_whatever_their_instance_keeps():
    # A Quantity keeps only a raw value or scaler other than 0 (the class has the zeros).
    for raw, scaler, unit in ((0, 0, 27), (0, -2, 33), (224, 0, 35), (866636, 1, 30), (-5, -3, 255)):
        q = Quantity(raw, scaler, unit)
        assert (q.raw, q.scaler, q.unit) == (raw, scaler, unit)
        assert q == Quantity(raw, scaler, unit)
    for q, text in ((Quantity(0, 0, 27), "0"), (Quantity(0, -2, 33), "0.00")):
        assert decimal_text(q.raw, q.scaler) == text
    assert Quantity(0, 0, 27) != Quantity(0, 0, 29) and Quantity(0, 1, 30) == Quantity(0, 0, 30)


def _reading(items, header_time):
    """The reading han.cosem makes of a list of encoded items (flat runs of code, value) with
    this header time."""
    from han.cosem import build_reading, new_cache, parse
    cache = new_cache()
    body = parse(array(items), False, cache)[1]
    return build_reading(body, header_time, None, None, cache)


def test_a_header_time_equal_to_the_clock_item_is_that_item():
    raw = bytes.fromhex("07e40107020e2f14ff800000")
    items = [obis(CLOCK), date_time(raw), obis(b"\x01\x00\x01\x07\x00\xff"), double_long_unsigned(5)]
    reading = _reading(items, DateTime(raw))
    assert reading.time is reading.values[0] and iso(reading.time) == "2020-01-07T14:47:20"
    assert reading.codes == CLOCK + b"\x01\x00\x01\x07\x00\xff"
    later = DateTime(bytes.fromhex("07e40107020e2f15ff800000"))
    assert _reading(items, later).time is later  # the header's time wins


def test_a_header_time_that_says_no_date_nor_time_is_not_the_readings():
    # han.cosem tests the fields han.text.iso renders (the decoder does not load it).
    items = [obis(b"\x01\x00\x01\x07\x00\xff"), double_long_unsigned(5)]
    assert _reading(items, _dt("ffffffffffffffffff8000ff")).time is None
    assert _reading(items, _dt("07e40d20ff1800ffff8000ff")).time is None  # month 13, hour 24
    for when in ("ffffffffff0c1e00ff8000ff", "07e40115ffffffffff8000ff"):  # a time alone, a date alone
        header = _dt(when)
        assert _reading(items, header).time is header


def test_decoding_does_not_load_the_text_of_values():
    # The decoder's modules loaded afresh (module-level imports too), then put back as they were:
    # the other tests hold their classes.
    kept = {}
    for name in list(sys.modules):
        if name == "han" or name.startswith("han."):
            kept[name] = sys.modules.pop(name)
    try:
        from han.pipeline import Pipeline
        from han.values import Reading
        readings = []
        for capture in ("/amshan/kamstrup-se-list-3phase-hdlc.bin",  # a date-time in the header
                        "/amsreader-frames/Kaifa-TN-3p-list2-MA304H3E.bin", "/dsmr/telegram_v5.bin"):
            pipeline = Pipeline()
            readings += [e for e in pipeline.feed(read_bytes(FRAMES + capture)) if isinstance(e, Reading)]
            readings += [e for e in pipeline.flush() if isinstance(e, Reading)]
        assert len(readings) == 3 and all(r.time is not None and r.values for r in readings), readings
        assert "han.cosem" in sys.modules and "han.dsmr" in sys.modules
        assert "han.text" not in sys.modules
    finally:
        for name in list(sys.modules):
            if name == "han" or name.startswith("han."):
                del sys.modules[name]
        sys.modules.update(kept)
