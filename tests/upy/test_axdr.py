"""A-XDR decoding: every type, BER lengths, bounds (both interpreters)."""
from han.cosem import Reader
from han.errors import Error
from han.text import iso
from han.values import DateTime, Decimal, Quantity
from support import unhex


def decode(hex_text):
    data = unhex(hex_text)
    reader = Reader(data)
    value = reader.data()
    assert reader.pos == len(data), "left %d bytes" % (len(data) - reader.pos)
    return value


def fails(hex_text):
    try:
        decode(hex_text)
    except Error as fault:
        return fault.code
    return None


def test_integers_signed_and_unsigned():
    assert decode("0f ff") == -1
    assert decode("0f 7f") == 127
    assert decode("11 ff") == 255
    assert decode("10 ff 88") == -120
    assert decode("12 ff 88") == 65416
    assert decode("05 ff ff ff fe") == -2
    assert decode("06 ff ff ff fe") == 4294967294
    assert decode("14 80 00 00 00 00 00 00 00") == -(1 << 63)
    assert decode("15 ff ff ff ff ff ff ff ff") == (1 << 64) - 1
    assert decode("16 1b") == 27
    assert decode("0d 42") == 42
    assert decode("03 01") is True
    assert decode("03 00") is False


def test_strings():
    assert decode("09 06 01 00 01 07 00 ff") == b"\x01\x00\x01\x07\x00\xff"
    assert decode("0a 0e 4b616d73747275705f5630303031") == "Kamstrup_V0001"
    assert decode("0c 03 c2b041") == "\u00b0A"
    assert decode("0a 02 ff fe") == b"\xff\xfe"  # not text: kept as bytes
    assert decode("04 0a c0 40") == "1100000001"


def test_ber_lengths_long_forms():
    long_string = "09 81 80 " + "aa " * 128
    assert decode(long_string) == b"\xaa" * 128
    assert decode("09 82 01 00 " + "bb " * 256) == b"\xbb" * 256
    assert fails("09 84 00 00 00 01 aa") == "malformed"


def test_structures_arrays_and_scaler_unit():
    value = decode("02 03 09 06 0100200700ff 12 0903 02 02 0f ff 16 23")
    assert isinstance(value, tuple) and len(value) == 3
    assert value[1] == 2307
    assert isinstance(value[2], Quantity)  # a scal_unit_type: its scaler and unit, raw value 0
    assert value[2].raw == 0
    assert (value[2].scaler, value[2].unit) == (-1, 35)
    assert decode("01 02 11 01 11 02") == [1, 2]
    assert decode("02 00") == ()
    assert decode("00") is None
    assert decode("ff") is None


def test_date_time_date_time_types():
    value = decode("19 07e40107020e2f14ff800000")
    assert isinstance(value, DateTime) and iso(value) == "2020-01-07T14:47:20"
    assert iso(decode("1a 07e4010702")) == "2020-01-07"
    assert iso(decode("1b 0e2f1400")) == "14:47:20"


def test_floats():
    value = decode("17 43668000")
    assert isinstance(value, Decimal) and (value.raw, value.scaler) == (2305, -1)
    value = decode("18 3ff8000000000000")
    assert (value.raw, value.scaler) == (15, -1)


def test_compact_array():
    # compact-array of long-unsigned: type 12, contents 3 elements in 6 bytes
    assert decode("13 12 06 0001 0002 0003") == [1, 2, 3]
    # compact-array of structure {unsigned, octet-string}
    assert decode("13 02 02 11 09 07 05 02 aabb 07 01 cc") == [(5, b"\xaa\xbb"), (7, b"\xcc")]


def test_damaged_data_is_malformed_not_a_crash():
    assert fails("06 00 00") == "malformed"          # integer cut short
    assert fails("09 10 00") == "malformed"          # string longer than the data
    assert fails("01 82 ff ff 11 01") == "malformed"  # count larger than the bytes left
    assert fails("02 02 11 01") == "malformed"       # structure element missing
    assert fails("42") == "malformed"                # unknown type
    assert fails("01 01 " * 20 + "00") == "malformed"  # nested deeper than the limit
    assert fails("13 00 01 00") == "malformed"       # compact-array of empty elements
