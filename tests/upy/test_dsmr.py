"""P1/DSMR ASCII telegrams: CRC check and parser (both interpreters).

The corpus telegrams (frames/dsmr, and the plain and decrypted DSMR captures elsewhere in
frames/) are compared with their sidecars exactly: each expected value is compared as the text
the sidecar writes, so 609.30 must come out as 609.30 and not 609.3.
"""
import json
import os
import sys

from han import dsmr, report
from han import framing
from han.p1 import crc16_arc
from han.details import text
from han.errors import Error
from han.units import VAR, VAR_HOUR, VOLT_AMPERE, WATT, WATT_HOUR
from han.text import iso, obis_text, symbol
from han.values import DateTime, Quantity, Reading
from support import FRAMES, ROOT, pairs, read_bytes, value_of

sys.path.insert(0, ROOT + "/tools")
import decode as cli  # noqa: E402  (the decoder CLI: a whole reading as JSON)


def crc_problem(buf, start, end):
    """What the P1 framing says of buf[start:end]: None (CRC right or absent) or why not."""
    size = framing.measure(framing.NAMES.index("dsmr"), buf, start, end)
    if size <= 0 or start + size != end:
        return "not one whole telegram"
    problem = framing.check(framing.NAMES.index("dsmr"), buf, start, size)  # a line of han.details
    return None if problem is None else text(problem)


def telegram(body, header=b"/ISk5\\2MT382-1000", crc=True, digits=4):
    """A telegram around `body` (data lines, each ending in CR LF) with a correct CRC."""
    data = header + b"\r\n\r\n" + body + b"!"
    if crc:
        data += (("%0" + str(digits) + "X") % crc16_arc(data, 0, len(data))).encode()
    return data + b"\r\n"


def rendered(value):
    return report.value(value)


def one(line):
    """The value of the single object in a telegram holding `line`."""
    reading = dsmr.parse(telegram(line + b"\r\n"))
    assert len(reading.values) == 1, reading.values
    return reading.values[0]


def malformed(data):
    try:
        dsmr.parse(data)
    except Error as fault:
        assert fault.code == "malformed", fault.code
        return fault.detail
    raise AssertionError("parsed: %r" % data)


def telegram_end(data):
    """Offset just past the "!CRC\\r\\n" line of the first telegram in data."""
    bang = data.find(b"\r\n!") + 2
    return data.find(b"\n", bang) + 1


# --- corpus ---------------------------------------------------------------------------------

def sidecar_texts(text):
    """The sidecar's first expected reading as [(obis key, value as written)], in order."""
    pairs = []
    inside = False
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith('"obis": {'):
            inside = True
            continue
        if not inside:
            continue
        if line.startswith("}"):
            break
        key, _, rest = line.partition('": ')
        if rest.endswith(","):
            rest = rest[:-1]
        pairs.append((key[1:], rest))
    return pairs


def check_reading(reading, sidecar_path, expected):
    with open(sidecar_path) as f:
        texts = sidecar_texts(f.read())
    got = [(obis_text(code), rendered(v)) for code, v in pairs(reading)]
    for i in range(max(len(got), len(texts))):
        g = got[i] if i < len(got) else None
        e = texts[i] if i < len(texts) else None
        assert g == e, "%s item %d: %r, expected %r" % (sidecar_path, i, g, e)
    decoded = json.loads(cli.render(reading))  # the CLI's JSON form, as test_corpus reads it
    assert decoded["time"] == expected["time"], (sidecar_path, decoded["time"], expected["time"])
    assert decoded["obis"] == expected["obis"], sidecar_path
    assert decoded["layers"] == ["dsmr"]


def check_telegram(data, sidecar_path):
    with open(sidecar_path) as f:
        expected = json.load(f)["expected"][0]
    end = telegram_end(data)
    problem = crc_problem(data, 0, end)
    if expected.get("error") == "checksum":
        assert problem and problem.startswith("DSMR telegram checksum mismatch"), problem
        return
    assert problem is None, (sidecar_path, problem)
    reading = dsmr.parse(memoryview(data)[:end])
    check_reading(reading, sidecar_path, expected)
    return reading


def test_corpus_dsmr_telegrams():
    folder = FRAMES + "/dsmr/"
    names = sorted(n for n in os.listdir(folder) if n.endswith(".bin"))
    assert len(names) >= 13, names
    for name in names:
        check_telegram(read_bytes(folder + name), folder + name[:-4] + ".json")


def test_corpus_amsreader_plain_telegram():
    check_telegram(read_bytes(FRAMES + "/amsreader-frames/dsmr.bin"), FRAMES + "/amsreader-frames/dsmr.json")


def decrypted(base, key):
    """The DSMR telegram inside a general-glo-ciphering APDU (DB 08 title 82 LLLL SC FC ... tag)."""
    from han.crypto.gcm import Gcm
    data = read_bytes(base + ".bin")
    assert data[0] == 0xDB and data[1] == 8 and data[10] == 0x82
    length = (data[11] << 8) | data[12]
    assert 13 + length == len(data)
    security = data[13]
    end = len(data) - (12 if security & 0x10 else 0)
    text = bytearray(data[18:end])
    Gcm(bytes.fromhex(key)).open(data[2:10] + data[14:18], text)  # decrypt only
    return bytes(text)


def test_corpus_decrypted_telegrams():
    for base in ("go-smarty-reader/sagemcom-t210d-smarty-lu-ggc-dsmr",
                 "shrdzm/sagemcom-t210d-steiermark-ggc-dsmr"):
        with open(FRAMES + "/" + base + ".json") as f:
            key = json.load(f)["keys"]["encryption"]
        check_telegram(decrypted(FRAMES + "/" + base, key), FRAMES + "/" + base + ".json")


def test_decrypted_telegram_with_unverified_tag_still_parses():
    # The sidecar expects "auth" (its tag does not verify); its notes give three decrypted values.
    base = FRAMES + "/energy-decrypter-tests/sagemcom-t210d-p1-ggc-dsmr-text"
    data = decrypted(base, "A8C74F67ECA8EF9C55C4743FF6F4F031")
    end = telegram_end(data)
    assert crc_problem(data, 0, end) is None
    reading = dsmr.parse(data[:end])
    assert iso(reading.time) == "2023-08-17T15:24:25"
    assert rendered(value_of(reading, b"\x01\x00\x01\x08\x00\xff")) == '[7112944, "Wh"]'
    assert rendered(value_of(reading, b"\x01\x00\x02\x08\x00\xff")) == '[33153972, "Wh"]'


def test_corpus_identification():
    reading = dsmr.parse(read_bytes(FRAMES + "/dsmr/telegram_fluvius_v171.bin"))
    assert reading.manufacturer == "Fluvius"
    assert reading.model == "53769484_A"
    assert reading.meter_id == "1SAG3101021605"  # 0-0:96.1.1 sent as hex of ASCII
    assert reading.list_id is None
    assert reading.layers == ["dsmr"]
    reading = dsmr.parse(read_bytes(FRAMES + "/dsmr/telegram_iskra_ie.bin"))
    assert (reading.manufacturer, reading.model, reading.meter_id) == ("Iskraemeco", "MIE5T-200", "09610")
    reading = dsmr.parse(read_bytes(FRAMES + "/dsmr/telegram_unpadded_crc.bin"))
    assert (reading.manufacturer, reading.model) == ("NWA", "WARMTELINK")
    assert reading.meter_id == "ADC3100000158491"  # hex, but not of printable ASCII: as sent
    data = read_bytes(FRAMES + "/dsmr/telegram_esy5q3da1004_v304.bin")
    reading = dsmr.parse(data[:telegram_end(data)])
    assert (reading.manufacturer, reading.model, reading.meter_id) == \
        ("EasyMeter", "Q3DA1004 V3.04", "1ESY1336001560")
    reading = dsmr.parse(read_bytes(FRAMES + "/dsmr/telegram_v4_2.bin"))
    assert (reading.manufacturer, reading.model) == ("Kaifa", "KAIFA-METER")


# --- CRC ------------------------------------------------------------------------------------

def test_crc_check_value():
    assert crc16_arc(b"123456789", 0, 9) == 0xBB3D
    assert crc16_arc(b"xx123456789yy", 2, 11) == 0xBB3D


def test_crc_correct_and_offsets():
    data = telegram(b"1-0:1.8.1(000004.426*kWh)\r\n")
    assert crc_problem(data, 0, len(data)) is None
    framed = b"noise" + data + b"/next"
    assert crc_problem(framed, 5, 5 + len(data)) is None
    assert crc_problem(bytearray(framed), 5, 5 + len(data)) is None
    lower = data[:-6] + data[-6:-2].lower() + b"\r\n"
    assert crc_problem(lower, 0, len(lower)) is None


def test_crc_absent_accepted():
    data = telegram(b"1-0:1.8.1(000004.426*kWh)\r\n", crc=False)
    assert data.endswith(b"\r\n!\r\n")
    assert crc_problem(data, 0, len(data)) is None
    assert dsmr.parse(data).codes[:6] == b"\x01\x00\x01\x08\x01\xff"


def test_crc_wrong_detected():
    data = bytearray(telegram(b"1-0:1.8.1(000004.426*kWh)\r\n"))
    good = crc16_arc(data, 0, len(data) - 6)
    data[20] ^= 0x01  # one flipped bit in the body
    problem = crc_problem(data, 0, len(data))
    computed = crc16_arc(data, 0, len(data) - 6)
    assert problem == "DSMR telegram checksum mismatch (sent %04X, computed %04X)" % (good, computed), problem
    data[20] ^= 0x01
    data[-3] = ord("0") if data[-3] != ord("0") else ord("1")  # a wrong CRC digit
    assert crc_problem(data, 0, len(data)).startswith("DSMR telegram checksum mismatch")


def test_crc_unpadded():
    data = read_bytes(FRAMES + "/dsmr/telegram_unpadded_crc.bin")
    assert b"\r\n!B9F\r\n" in data
    assert crc_problem(data, 0, len(data)) is None
    # vary two characters of a text until the CRC is below 0x100, then send it with 2, 3, 4 digits
    crc = 0x10000
    for i in range(0x20 * 0x100 + 0x20, 0x7F * 0x100):
        body = b"0-0:96.13.0(" + bytes((i >> 8, 0x20 + (i & 0xFF) % 0x5F)) + b")\r\n"
        plain = telegram(body, crc=False)[:-2]
        crc = crc16_arc(plain, 0, len(plain))
        if crc < 0x100:
            break
    assert crc < 0x100, crc
    assert dsmr.parse(plain + b"\r\n").codes[:6] == b"\x00\x00\x60\x0d\x00\xff"
    for text in (b"%X" % crc, b"%03X" % crc, b"%04X" % crc):
        data = plain + text + b"\r\n"
        assert crc_problem(data, 0, len(data)) is None, text
    data = plain + (b"%X" % (crc ^ 1)) + b"\r\n"
    assert crc_problem(data, 0, len(data)).startswith("DSMR telegram checksum mismatch")


def test_crc_not_a_checksum():
    body = b"1-0:1.8.1(000004.426*kWh)\r\n"
    plain = telegram(body, crc=False)[:-2]
    for tail in (b"12G4\r\n", b"12345\r\n"):  # "!" not followed by 0-4 hex digits: no end yet
        data = plain + tail
        assert crc_problem(data, 0, len(data)) == "not one whole telegram"
    data = plain[:-1] + b"\r\n"  # no "!" line at all
    assert crc_problem(data, 0, len(data)) == "not one whole telegram"
    assert crc_problem(b"(!)\r\n", 0, 5) == "not one whole telegram"
    assert crc_problem(b"", 0, 0) == "not one whole telegram"


# --- values ---------------------------------------------------------------------------------

def test_exact_large_counters():
    v = one(b"1-0:1.8.1(999999999.999*kWh)")
    assert isinstance(v, Quantity) and v.unit == WATT_HOUR
    assert (v.raw, v.scaler) == (999999999999, 0)
    assert rendered(v) == '[999999999999, "Wh"]'
    v = one(b"1-0:1.8.0(00032549.5061662*kWh)")
    assert rendered(v) == '[32549506.1662, "Wh"]'
    v = one(b"1-0:1.8.0(123456789012345678.901*kWh)")
    assert rendered(v) == '[123456789012345678901, "Wh"]'
    v = one(b"1-0:1.8.0(2147583646*s)")
    assert rendered(v) == '[2147583646, "s"]'
    assert rendered(one(b"1-0:1.8.0(006545766*Wh)")) == '[6545766, "Wh"]'


def test_kilo_units_become_base_units():
    cases = (
        (b"1-0:1.7.0(01.193*kW)", WATT, '[1193, "W"]'),
        (b"0-0:17.0.0(999.9*kW)", WATT, '[999900, "W"]'),
        (b"0-0:17.0.0(90.000*kW)", WATT, '[90000, "W"]'),
        (b"1-0:1.7.0(00.000*kW)", WATT, '[0, "W"]'),
        (b"1-0:3.8.0(000000.123*kvarh)", VAR_HOUR, '[123, "varh"]'),
        (b"1-0:7.7.0(00.504*kvar)", VAR, '[504, "var"]'),
        (b"1-0:9.7.0(1.5*kVA)", VOLT_AMPERE, '[1500, "VA"]'),
        (b"1-0:1.7.0(1.2345*kW)", WATT, '[1234.5, "W"]'),
        (b"1-0:1.7.0(0.0001*kW)", WATT, '[0.1, "W"]'),
        (b"1-0:1.7.0(286*W)", WATT, '[286, "W"]'),
    )
    for line, unit, text in cases:
        v = one(line)
        assert v.unit == unit, line
        assert rendered(v) == text, (line, rendered(v))


def test_other_units():
    assert rendered(one(b"1-0:32.7.0(0230.0*V)")) == '[230.0, "V"]'
    assert rendered(one(b"1-0:31.7.0(000.00*A)")) == '[0.00, "A"]'
    assert rendered(one(b"1-0:14.7.0(50.00*Hz)")) == '[50.00, "Hz"]'
    v = one(b"0-1:24.2.1(00981.443*m3)")
    assert v.unit == 13 and rendered(v) == '[981.443, "m\u00b3"]'
    v = one(b"0-1:24.2.1(240.860*GJ)")  # no DLMS code: the unit stays as sent
    assert v.unit == "GJ" and symbol(v.unit) == "GJ" and rendered(v) == '[240.860, "GJ"]'
    assert v == Quantity(240860, -3, "GJ") and v != Quantity(240860, -3, 13)


def test_signs_and_missing_integer_part():
    assert rendered(one(b"1-0:1.7.0(-0.5*kW)")) == '[-500, "W"]'
    assert rendered(one(b"1-0:31.7.0(-001.25*A)")) == '[-1.25, "A"]'
    assert rendered(one(b"1-0:31.7.0(-.05*A)")) == '[-0.05, "A"]'
    assert rendered(one(b"1-0:32.7.0(.5*V)")) == '[0.5, "V"]'
    assert rendered(one(b"1-0:32.7.0(+3*V)")) == '[3, "V"]'
    assert rendered(one(b"1-0:32.7.0(7.*V)")) == '[7, "V"]'
    assert rendered(one(b"1-0:1.8.0(-123456789012.345*kWh)")) == '[-123456789012345, "Wh"]'
    # not numbers: text as sent
    for text in (b"-*V", b".*V", b"1.2.3*V", b"12*", b"*V", b"1 2*V", b"0x12*V", b"--1*V"):
        v = one(b"1-0:32.7.0(" + text + b")")
        assert v == text.decode(), (text, v)


def test_text_values():
    assert one(b"0-0:96.14.0(0001)") == "0001"
    assert one(b"0-0:96.13.0()") == ""
    assert one(b"1-0:13.7.0(4.556)") == "4.556"  # no unit: text as sent
    assert one(b"0-1:24.4.0(1)") == "1"
    assert one(b"0-0:96.13.0(caf\xc3\xa9)") == "caf\u00e9"
    assert one(b"0-0:96.13.0(\xff\xfe)") == b"\xff\xfe"  # not text: bytes, rendered as hex
    assert rendered(b"\xff\xfe") == '"fffe"'


def test_timestamps_summer_and_winter():
    summer = one(b"0-0:1.0.0(200512135409S)")
    assert isinstance(summer, DateTime)
    assert summer.raw == bytes((0x07, 0xE4, 5, 12, 0xFF, 13, 54, 9, 0xFF, 0x80, 0x00, 0x80))
    assert iso(summer) == "2020-05-12T13:54:09"  # (deviation 0x8000: not specified)
    winter = one(b"0-0:1.0.0(161113205757W)")
    assert winter.raw == bytes((0x07, 0xE0, 11, 13, 0xFF, 20, 57, 57, 0xFF, 0x80, 0x00, 0x00))
    reading = dsmr.parse(telegram(b"1-3:0.2.8(50)\r\n0-0:1.0.0(221006155014S)\r\n"))
    assert iso(reading.time) == "2022-10-06T15:50:14"
    assert iso(dsmr.value(b"700101010000W")) == "1970-01-01T01:00:00"
    assert dsmr.value(b"690101000000W").raw[:2] == b"\x07\xb1"  # 1969
    assert dsmr.value(b"681231235959W").raw[:2] == b"\x08\x14"  # 2068
    assert iso(dsmr.value(b"000229000000W")) == "2000-02-29T00:00:00"
    assert isinstance(dsmr.value(b"240229120000W"), DateTime)
    for text in (b"632525252525W", b"230229120000W", b"230431120000S", b"230101240000W",
                 b"230101236000W", b"230101235960W", b"230100120000W", b"230001120000W",
                 b"230101120000X", b"2301011200 0W", b"230101120000", b"2301011200000W"):
        v = one(b"0-0:98.1.0(" + text + b")")
        assert v == text.decode(), (text, v)
    # an invalid clock value gives no reading time
    assert dsmr.parse(telegram(b"0-0:1.0.0(632525252525W)\r\n")).time is None


def test_multi_value_lines():
    v = one(b"0-1:24.2.1(161129200000W)(00981.443*m3)")
    assert isinstance(v, list) and len(v) == 2
    assert rendered(v) == '["2016-11-29T20:00:00", [981.443, "m\u00b3"]]'
    v = one(b"1-0:99.97.0(2)(0-0:96.7.19)(000104180320W)(0000237126*s)(000101000001W)(2147583646*s)")
    assert rendered(v) == ('["2", "0-0:96.7.19", "2000-01-04T18:03:20", [237126, "s"], '
                           '"2000-01-01T00:00:01", [2147583646, "s"]]')
    v = one(b"1-0:99.97.0(0)(0-0:96.7.19)")
    assert v == ["0", "0-0:96.7.19"]
    v = one(b"0-0:98.1.0(230701000000S)(000040.777*kWh)(03.564*kW)")
    assert rendered(v) == '["2023-07-01T00:00:00", [40777, "Wh"], [3564, "W"]]'
    v = one(b"0-1:24.2.1(700101010000W)(00000000)")
    assert rendered(v) == '["1970-01-01T01:00:00", "00000000"]'
    assert one(b"0-0:96.13.0()()") == ["", ""]
    assert one(b"1-0:1.8.1(1*kWh)  ") == Quantity(1000, 0, WATT_HOUR)  # trailing blanks


def test_continuation_lines():
    body = (b"0-1:24.1.0(3)\r\n"
            b"0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n"
            b"(00001.001)\r\n"
            b"0-1:24.4.0(1)\r\n")
    reading = dsmr.parse(telegram(body, crc=False))
    assert [obis_text(c) for c, _ in pairs(reading)] == ["0.1.24.1.0.255", "0.1.24.3.0.255", "0.1.24.4.0.255"]
    assert reading.values[1] == ["090212160000", "00", "60", "1", "0-1:24.2.1", "m3", "00001.001"]
    # a single-value object continued becomes a list; several continuation lines all append
    reading = dsmr.parse(telegram(b"0-1:24.3.0(1)\r\n(2*m3)\r\n(3)(4)\r\n"))
    assert rendered(reading.values[0]) == '["1", [2, "m\u00b3"], "3", "4"]'
    assert len(reading.values) == 1


def test_obis_codes():
    reading = dsmr.parse(telegram(b"1-0:0.0.0*255(1336001560)\r\n0-0:96.1.255*255(1ESY)\r\n"
                                  b"1-0:1.8.0*101(5*Wh)\r\n255-255:255.255.255(x)\r\n"
                                  b"1-0:1.8.0(1)\r\n"))
    assert [obis_text(c) for c, _ in pairs(reading)] == [
        "1.0.0.0.0.255", "0.0.96.1.255.255", "1.0.1.8.0.101", "255.255.255.255.255.255", "1.0.1.8.0.255"]
    assert isinstance(reading.codes, bytes) and len(reading.codes) == 6 * len(reading.values)
    assert value_of(reading, b"\x01\x00\x01\x08\x00\x65") == Quantity(5, 0, WATT_HOUR)
    for bad in (b"1-0:1.8(1)", b"1-0:1.8.0.0(1)", b"1-0:1.8.256(1)", b"1-0:1.8.0*(1)",
                b"1-0:1.8.0*1.2(1)", b"1:0-1.8.0(1)", b"1-0:1..0(1)", b"1-0:1.8.0000(1)",
                b"a-0:1.8.0(1)", b"1-0:1.8.0 (1)", b"(1)", b"1-0:1.8.0", b"1-0:1.8.0*1*2(1)"):
        malformed(telegram(b"1-0:1.8.1(1)\r\n" + bad + b"\r\n") if bad != b"(1)" else telegram(bad + b"\r\n"))
    assert dsmr.obis(b"1-0:1.8.0", 9) == b"\x01\x00\x01\x08\x00\xff"
    assert dsmr.obis(b"0-1:24.2.1*3", 12) == b"\x00\x01\x18\x02\x01\x03"
    assert dsmr.obis(b"1-0:1.8", 7) is None


def test_identification():
    cases = (
        (b"/ISk5\\2MT382-1000", "Iskraemeco", "MT382-1000"),
        (b"/ISK5\\2M550T-1012", "Iskraemeco", "M550T-1012"),
        (b"/KFM5KAIFA-METER", "Kaifa", "KAIFA-METER"),
        (b"/XMX5LGBBFFB231215493", "Xemex", "LGBBFFB231215493"),
        (b"/Ene5\\T210-D ESMR5.0", "Sagemcom", "T210-D ESMR5.0"),
        (b"/KAM5 MCB1", "Kamstrup", "MCB1"),
        (b"/LGF5E360", "Landis+Gyr", "E360"),
        (b"/ISk5\x02MIE5T-200", "Iskraemeco", "MIE5T-200"),
        (b"/NWA-WARMTELINK", "NWA", "WARMTELINK"),
        (b"/ABC5", "ABC", None),
    )
    for header, manufacturer, model in cases:
        reading = dsmr.parse(telegram(b"1-0:1.8.1(1)\r\n", header=header))
        assert (reading.manufacturer, reading.model) == (manufacturer, model), header
    for header in (b"/AB5", b"/A1C5x", b"/ABC\x01x", b"/\xc3\xa9C5x"):
        malformed(telegram(b"1-0:1.8.1(1)\r\n", header=header))


def test_meter_id():
    def meter(lines):
        return dsmr.parse(telegram(lines)).meter_id
    assert meter(b"0-0:96.1.1(4B384547303034303436333935353037)\r\n") == "K8EG004046395507"
    assert meter(b"0-0:96.1.0(383930303832323030303032313630)\r\n") == "890082200002160"
    assert meter(b"0-0:96.1.1(00000000000000)\r\n") == "00000000000000"  # hex of NULs: as sent
    assert meter(b"0-0:96.1.1(ABC)\r\n") == "ABC"
    assert meter(b"0-0:96.1.1(41 42)\r\n") == "41 42"
    assert meter(b"0-0:96.1.1()\r\n") is None
    assert meter(b"0-1:96.1.0(4819243993)\r\n") is None  # the gas meter's id is not the meter's
    assert meter(b"0-0:96.1.0(3130)\r\n0-0:96.1.1(3131)\r\n") == "11"  # 96.1.1 first
    assert meter(b"1-0:1.8.1(1)\r\n") is None


def test_telegram_forms():
    body = b"1-0:1.8.1(000004.426*kWh)\r\n1-0:1.7.0(00.244*kW)\r\n"
    reference = cli.render(dsmr.parse(telegram(body)))
    lf = telegram(body).replace(b"\r\n", b"\n")
    assert cli.render(dsmr.parse(lf)) == reference
    assert cli.render(dsmr.parse(bytearray(telegram(body)))) == reference
    assert cli.render(dsmr.parse(memoryview(b"xx" + telegram(body))[2:])) == reference
    # without the final CR LF, or with another telegram after the end line
    assert cli.render(dsmr.parse(telegram(body)[:-2])) == reference
    assert cli.render(dsmr.parse(telegram(body) + b"/ISk5 next")) == reference
    # blank lines in between are skipped
    assert cli.render(dsmr.parse(telegram(body.replace(b"\r\n", b"\r\n\r\n", 1)))) == reference
    # an empty telegram is a reading without values
    reading = dsmr.parse(b"/ISk5\\2MT382-1000\r\n\r\n!\r\n")
    assert isinstance(reading, Reading) and reading.values == [] and reading.codes == b"" and reading.time is None


def test_malformed_raises_fault():
    good = b"1-0:1.8.1(000004.426*kWh)\r\n"
    cases = (
        b"", b"/", b"/ISk5", b"garbage\r\n!\r\n", b"\r\n/ISk5\r\n\r\n!\r\n",
        b"/ISk5\\2MT382-1000\r\n\r\n" + good,           # no "!" end line
        b"/ISk5\\2MT382-1000\r\n\r\n" + good[:-2],      # ends inside a line
        telegram(b"(00001.001)\r\n" + good),           # continuation without object
        telegram(b"1-0:1.8.1(000004.426*kWh\r\n"),      # "(" without ")"
        telegram(b"1-0:1.8.1(1)x\r\n"),                 # text after the values
        telegram(b"1-0:1.8.1(1) (2)\r\n"),
        telegram(b"hello\r\n"),
        telegram(b"1-0:1.8.1)1(\r\n"),
    )
    for data in cases:
        detail = malformed(data)
        assert isinstance(detail, str) and detail, data


def _rng(seed):
    state = [seed & 0x7FFFFFFF or 1]

    def next_int(n):
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return (state[0] >> 8) % n
    return next_int


SPECIAL = b"()*!/\r\n.:-0123456789SWk\\ \x00\xff"


def mutate(data, rand):
    for _ in range(1 + rand(4)):
        kind = rand(6)
        at = rand(len(data)) if data else 0
        if kind == 0 and data:
            data = data[:at] + bytes((rand(256),)) + data[at + 1:]
        elif kind == 1 and data:
            data = data[:at] + SPECIAL[rand(len(SPECIAL)):][:1] + data[at + 1:]
        elif kind == 2:
            data = data[:at] + SPECIAL[rand(len(SPECIAL)):][:1] + data[at:]
        elif kind == 3 and data:
            data = data[:at] + data[at + 1 + rand(8):]
        elif kind == 4 and data:
            data = data[:at]
        else:
            data = data[:at] + data[at:at + 1 + rand(20)] + data[at:]
    return data


def test_fuzz_only_readings_or_malformed():
    folder = FRAMES + "/dsmr/"
    seeds = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".bin"):
            data = read_bytes(folder + name)
            seeds.append(data[:telegram_end(data)])
    rand = _rng(20240611)
    parsed = faults = 0
    for i in range(400):
        data = mutate(seeds[i % len(seeds)], rand)
        problem = crc_problem(data, 0, len(data))
        assert problem is None or isinstance(problem, str)
        try:
            reading = dsmr.parse(data)
        except Error as fault:
            assert fault.code == "malformed", (fault.code, data)
            faults += 1
            continue
        parsed += 1
        json.loads(cli.render(reading))  # everything parsed renders as JSON
    assert parsed > 50 and faults > 50, (parsed, faults)


def test_line_search_agrees_with_its_pure_twin_on_a_telegram():
    from han._pure import find_marked as find_marked_pure
    data = read_bytes(FRAMES + "/dsmr/telegram_v5_eon_hu.bin")
    for start in (0, 1, 17, 500, len(data) - 3):
        assert dsmr.find_marked(data, start, len(data), dsmr._LF) == \
            find_marked_pure(data, start, len(data), dsmr._LF)
    assert dsmr.find_marked(b"abc", 0, 3, dsmr._LF) == -1
