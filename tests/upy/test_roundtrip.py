# Round trip: telegrams built by the test-side encoder (encoder.py) go through the Pipeline and
# must come back exactly as they went in, however the bytes are chunked; damaged, truncated or
# incomplete input must give errors, never readings. Runs under CPython and MicroPython.
from encoder import (CLOCK, FLAG, LIST_ID, LLC, TIME_ABSENT, TIME_BARE, TIME_FORMS, TIME_TAGGED,
                     VALUE_KINDS, Rng, Security, Telegram, aidon_list, array, bcd, ber_length,
                     bit_string, boolean, chunkings, chunks, cosem_date, cosem_datetime, cosem_time,
                     crc16_x25, data_notification, date, date_time, dont_care, double_long,
                     double_long_unsigned, enum, expected_value, float32, float64, frame, gbt_blocks,
                     gcm_encrypt, glo_ciphering, hdlc_address, hdlc_frame, hdlc_frames, integer,
                     join_frames, kamstrup_list, long, long64, long64_unsigned, long_unsigned,
                     mbus_frame, mbus_frames, null, obis, octet_string, random_datetime,
                     random_notification, random_obis, random_security, random_telegram,
                     random_value, scaler_unit, stream, structure, time, triples_list, unsigned,
                     utf8_string, visible_string, wrap)
from han.errors import Error
from han.pipeline import Pipeline
from han.values import DateTime, Quantity, Reading
from support import unhex

# Random cases per test (x SCALE): the same cases on both interpreters, about 1500 in all.
SCALE = 5


# ---------------------------------------------------------------------------------------------
# Running the pipeline and comparing what it gives with what went in.


def decode(data, keys=None, rng=None, limit=0):
    """Every Reading and Error for `data` fed at once (limit 0) or in random chunks of at most
    `limit` bytes, flushed at the end."""
    pipeline = Pipeline(keys=keys)
    out = []
    if limit:
        for chunk in chunks(rng, data, limit):
            out += list(pipeline.feed(chunk))
    else:
        out += list(pipeline.feed(data))
    out += list(pipeline.flush())
    return out


def readings(results):
    return [r for r in results if isinstance(r, Reading)]


def errors(results):
    return [r for r in results if isinstance(r, Error)]


def codes(results):
    return [r.code for r in errors(results)]


def norm_value(value):
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, Quantity):
        return ("num", value.raw, value.scaler, value.unit)
    if isinstance(value, DateTime):
        return ("dt", value.raw)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, bytes):
        return ("bytes", value)
    if isinstance(value, list):
        return ("list", [norm_value(v) if not isinstance(v, int) else v for v in value])
    return ("other", repr(value))


def norm(result):
    """A Reading or Error as plain comparable data."""
    if isinstance(result, Reading):
        return ("reading", result.time.raw if result.time is not None else None,
                [(result.codes[6 * i:6 * i + 6], norm_value(result.values[i])) for i in range(len(result.values))],
                bytes(result.system_title) if result.system_title is not None else None,
                result.list_id, list(result.layers))
    return ("error", result.code, result.detail)


def same_number(raw1, scaler1, raw2, scaler2):
    """raw1 × 10^scaler1 == raw2 × 10^scaler2, exactly."""
    low = min(scaler1, scaler2)
    return raw1 * 10 ** (scaler1 - low) == raw2 * 10 ** (scaler2 - low)


def value_mismatch(got, want):
    if want[0] == "num":
        if got[0] != "num":
            return "want a number, got %r" % (got,)
        _, raw, scaler, unit, exact = want
        if got[3] != unit:
            return "unit %d, want %d" % (got[3], unit)
        if exact and (got[1], got[2]) != (raw, scaler):
            return "raw, scaler %r, want %r" % (got[1:3], (raw, scaler))
        if not same_number(got[1], got[2], raw, scaler):
            return "%d e%d, want %d e%d" % (got[1], got[2], raw, scaler)
        return None
    if want[0] == "list":
        want = ("list", list(want[1]))
    return None if got == want else "got %r, want %r" % (got, want)


def mismatch(reading, telegram, layers=True):
    """None if the Reading holds exactly what `telegram` encoded, else what differs; with
    layers=False only the content counts (time, items, system title, list id)."""
    got = norm(reading)
    _, time_raw, items, title, list_id, got_layers = got
    if time_raw != telegram.time:
        return "time %r, want %r" % (time_raw, telegram.time)
    if title != telegram.system_title:
        return "system title %r, want %r" % (title, telegram.system_title)
    if list_id != telegram.list_id:
        return "list id %r, want %r" % (list_id, telegram.list_id)
    if layers and got_layers != telegram.layers:
        return "layers %r, want %r" % (got_layers, telegram.layers)
    if len(items) != len(telegram.items):
        return "%d items, want %d: %r" % (len(items), len(telegram.items), items)
    for i in range(len(items)):
        code, value = items[i]
        want_code, want_value = telegram.items[i]
        if code != want_code:
            return "item %d: OBIS %s, want %s" % (i, code.hex(), want_code.hex())
        problem = value_mismatch(value, want_value)
        if problem:
            return "item %d (%s): %s" % (i, code.hex(), problem)
    return None


def assert_readings(results, telegrams, context=""):
    got = readings(results)
    assert len(got) == len(telegrams), "%s: %d readings, want %d; errors %r" % (
        context, len(got), len(telegrams), errors(results))
    for i in range(len(got)):
        problem = mismatch(got[i], telegrams[i])
        assert problem is None, "%s: reading %d: %s" % (context, i, problem)


def assert_chunking_invariant(data, keys, rng, reference, count=2, context=""):
    """Random chunkings give exactly the results of feeding everything at once."""
    want = [norm(r) for r in reference]
    for limit in chunkings(rng, count):
        got = [norm(r) for r in decode(data, keys, rng, limit)]
        assert got == want, "%s: chunks of <= %d bytes differ:\n%r\n%r" % (context, limit, got, want)


def keys_of(security):
    return security.keys() if security is not None else None


# ---------------------------------------------------------------------------------------------
# The encoder against published vectors (an encoder wrong in the decoder's way proves nothing).


def test_encoder_matches_published_bytes():
    assert crc16_x25(b"123456789") == 0x906E  # CRC-16/X.25 check value
    assert crc16_x25(b"\x03\x3f") == 0xEC5B   # Green Book: FCS bytes 5B EC
    assert crc16_x25(unhex("A0E2 2B21 13")) == 0x9A23  # Kamstrup header -> HCS 23 9A
    assert ber_length(0x7F) == b"\x7f" and ber_length(0x80) == b"\x81\x80"
    assert ber_length(0xF8) == b"\x81\xf8" and ber_length(0x1D0) == b"\x82\x01\xd0"
    # Aidon: {OBIS 1.0.32.7.0.255, long-unsigned 2307, {-1, V}}
    assert structure([obis(b"\x01\x00\x20\x07\x00\xff"), long_unsigned(0x0903), scaler_unit(-1, 35)]) \
        == unhex("0203 0906 0100200700FF 12 0903 0202 0FFF 1623")
    # Netz NÖ header date-time: 27.09.2021 09:47:15, deviation -120, DST
    assert cosem_datetime(2021, 9, 27, 1, 9, 47, 15, 0, -120, 0x80) == unhex("07E5091B01092F0F00FF8880")
    assert data_notification(b"\x02\x00", None, TIME_ABSENT) == unhex("0F40000000 00 0200")
    raw = unhex("07E5091B01092F0F00FF8880")
    assert data_notification(b"\x02\x00", raw, TIME_BARE, 1) == unhex("0F00000001 0C") + raw + b"\x02\x00"
    assert data_notification(b"\x02\x00", raw, TIME_TAGGED, 1) == unhex("0F00000001 090C") + raw + b"\x02\x00"
    assert bit_string("1010000011") == unhex("040A A0C0")
    assert long64(-2) == unhex("14 FFFFFFFFFFFFFFFE") and long64_unsigned(1 << 63) == unhex("15 8000000000000000")
    assert double_long(-1) == unhex("05FFFFFFFF") and double_long_unsigned(0x7E68) == unhex("0600007E68")
    assert integer(-1) == b"\x0f\xff" and long(-300) == unhex("10FED4") and unsigned(200) == b"\x11\xc8"
    assert enum(35) == b"\x16\x23" and bcd(42) == b"\x0d\x42" and boolean(True) == b"\x03\x01"
    assert float32(1.5) == unhex("17 3FC00000") and float64(-2.0) == unhex("18 C000000000000000")
    assert visible_string("Kamstrup_V0001") == b"\x0a\x0e" + b"Kamstrup_V0001"
    assert utf8_string("ø") == unhex("0C02 C3B8") and octet_string(b"") == b"\x09\x00"
    assert date(cosem_date(2024, 2, 29, 4)) == unhex("1A 07E8021D04")
    assert time(cosem_time(23, 59, 58, 0)) == unhex("1B 173B3A00")
    assert date_time(bytes(12))[0] == 0x19 and null() == b"\x00" and dont_care() == b"\xff"
    assert array([unsigned(1)] * 200)[:3] == unhex("0181C8")
    # HDLC: Kamstrup addresses 2B (client 21) and 21 (server 16), UI frame, LLC response
    f = hdlc_frame(LLC + b"\x0f", hdlc_address([21]), hdlc_address([16]))
    assert f[:6] == unhex("7EA00D2B2113")  # 13 bytes between the flags and f[-1] == FLAG
    assert hdlc_address([1, 0x41]) == unhex("0283") and len(hdlc_address([1, 2, 3, 4])) == 4
    segs = hdlc_frames(b"abcdefgh", b"\x41", b"\x03", [3, 5])
    assert [s[1] & 0x08 for s in segs] == [0x08, 0]
    # M-Bus: single frame CI 0x10, STSAP 01, DTSAP 67, CS = sum from C
    m = mbus_frame(b"\xdb", 0x10)
    assert m == unhex("68 06 06 68 53 FF 10 01 67 DB") + bytes([(0x53 + 0xFF + 0x10 + 1 + 0x67 + 0xDB) & 0xFF]) + b"\x16"
    assert [f[6] for f in mbus_frames(bytes(600), [250, 250, 100])] == [0x00, 0x01, 0x12]
    # GBT: E0 40 0001 0000 len data ... last block 0x80
    blocks = gbt_blocks(b"0123456789", [4, 6])
    assert blocks == [unhex("E040 0001 0000 04") + b"0123", unhex("E080 0002 0000 06") + b"456789"]


def test_gcm_oracle_matches_nist_vector():
    # NIST GCM test case 4 (AES-128, 96-bit IV, AAD, 60 bytes).
    key = unhex("feffe9928665731c6d6a8f9467308308")
    iv = unhex("cafebabefacedbaddecaf888")
    plain = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
    aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    cipher, tag = gcm_encrypt(key, iv, plain, aad)
    assert cipher == unhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091")
    assert tag == unhex("5bc94fbc3221a5db94fae95ae7121a47")
    # general-glo-ciphering layout: DB 08 title len SC FC ciphertext tag(12), AAD = SC || AK
    title = b"KAMxxxxx"
    apdu = glo_ciphering(b"\x0f\x00", title, 0x01020304, 0x30, key, bytes(range(16)))
    assert apdu[:10] == b"\xdb\x08" + title and apdu[10] == 5 + 2 + 12 and apdu[11:16] == unhex("3001020304")
    assert len(apdu) == 11 + 5 + 2 + 12
    sealed, tag = gcm_encrypt(key, title + unhex("01020304"), b"\x0f\x00", b"\x30" + bytes(range(16)))
    assert apdu[16:18] == sealed and apdu[18:] == tag[:12]
    enc_only = glo_ciphering(b"\x0f\x00", title, 0x01020304, 0x20, key)
    assert len(enc_only) == 11 + 5 + 2 and enc_only[16:] == sealed  # CTR keystream is the same



def test_each_way_a_ciphered_apdu_is_refused_names_it():
    from han.keys import cipher, decipher
    key, ak, title = bytes(range(16)), bytes(range(16, 32)), b"KAM\x01\x02\x03\x04\x05"
    keys = cipher(key, ak)
    good = glo_ciphering(b"\x0f\x00", title, 7, 0x30, key, ak)

    def refused(apdu, keys=keys):
        try:
            decipher(memoryview(bytearray(apdu)), keys)
        except Error as fault:
            return fault.code, fault.detail
        raise AssertionError("deciphered: %r" % apdu)

    plain, said_title, verified = decipher(memoryview(bytearray(good)), keys)
    assert bytes(plain) == b"\x0f\x00" and said_title == title and verified is True
    assert refused(good[:-1]) == ("malformed", "ciphered APDU says 19 bytes, carries 18")
    assert refused(good[:10] + b"\x84" + good[11:]) == (
        "malformed", "unsupported length form 0x84 at byte 10")
    for security, says in ((0xB0, ("unknown", "compressed ciphered APDU (security control 0xB0)")),
                           (0x00, ("unknown", "ciphered APDU with security control 0x00"))):
        assert refused(good[:11] + bytes((security,)) + good[12:]) == says
    assert refused(good[:10] + b"\x0f" + good[11:26]) == ("malformed", "ciphered APDU too short for its tag")
    no_key = ("no_key", "encrypted frame, no key configured (system title 4B414D0102030405 (KAM))")
    assert refused(good, None) == no_key and cipher(None, ak) is None  # (no key: nothing to open)
    short_title = b"\xdb\x07" + title[:7] + good[10:]
    assert refused(short_title) == ("unknown", "system title of 7 bytes: cannot form the GCM IV")
    assert refused(good, cipher(key, bytes(16)))[0] == "auth"  # decrypts to a notification
    assert refused(good, cipher(bytes(16), ak))[0] == "decrypt"  # decrypts to garbage
    # Authentication only: the plaintext is in clear, its tag not checked.
    clear = b"\xdb\x08" + title + b"\x13\x10" + bytes(4) + b"\x0f\x00" + bytes(12)
    plain, said_title, verified = decipher(memoryview(bytearray(clear)), None)
    assert bytes(plain) == b"\x0f\x00" and verified is False


# ---------------------------------------------------------------------------------------------
# Round trips.


def _cases(seed, count, **options):
    rng = Rng(seed)
    for case in range(count):
        security = random_security(rng) if rng.chance(40) else None
        telegrams = [random_telegram(rng, security, **options) for _ in range(rng.between(1, 3))]
        yield case, rng, security, telegrams


def test_random_telegrams_round_trip_in_any_chunking():
    for case, rng, security, telegrams in _cases(1, 60 * SCALE):
        data = stream(rng, telegrams)
        keys = keys_of(security)
        results = decode(data, keys)
        context = "case %d (%s)" % (case, ", ".join("/".join(t.layers) for t in telegrams))
        assert_readings(results, telegrams, context)
        assert errors(results) == [], "%s: %r" % (context, errors(results))
        assert_chunking_invariant(data, keys, rng, results, 2, context)


def test_every_value_type_with_and_without_scaler_round_trips():
    rng = Rng(2)
    for kind in VALUE_KINDS:
        for layout in ("aidon", "kamstrup", "triples"):
            for link in ("hdlc", "mbus"):
                t = Telegram()
                entries = []
                for n in range(4):
                    labelled = layout != "kamstrup" and n % 2 == 0
                    code, unit = random_obis(rng, labelled)
                    su = (rng.between(-9, 9), rng.below(256)) if labelled else None
                    encoded, description = random_value(rng, kind)
                    entries.append((code, encoded, su))
                    value = expected_value(description, su, unit)
                    if value is not None:
                        t.items.append((code, value))
                if layout == "aidon":
                    body = aidon_list(entries)
                elif layout == "kamstrup":
                    t.list_id = "TEST_LIST"
                    t.items.insert(0, (LIST_ID, ("str", t.list_id)))
                    body = kamstrup_list(t.list_id, entries)
                else:
                    body = triples_list(entries)
                t.time = random_datetime(rng)
                t.apdu = data_notification(body, t.time, TIME_BARE)
                t.layers = ["data-notification"]
                wrap(rng, t, None, False)
                frame(rng, t, link)
                context = "%s in %s over %s" % (kind, layout, link)
                results = decode(join_frames(t.frames))
                assert_readings(results, [t], context)


def test_notification_time_in_all_three_encodings():
    rng = Rng(3)
    for form in TIME_FORMS:
        for link in ("hdlc", "mbus"):
            for with_clock in (False, True):
                t = random_notification(rng, "aidon", 6)
                clocks = [v[1] for c, v in t.items if c == CLOCK]
                while bool(clocks) != with_clock:
                    t = random_notification(rng, "aidon", 6)
                    clocks = [v[1] for c, v in t.items if c == CLOCK]
                header = random_datetime(rng)
                t.apdu = data_notification(t.body, header, form)
                # without a header time the reading's time is the meter clock in the list
                t.time = header if form != TIME_ABSENT else (clocks[0] if clocks else None)
                wrap(rng, t, None, False)
                frame(rng, t, link)
                assert_readings(decode(join_frames(t.frames)), [t], "%s %s clock %s" % (form, link, with_clock))


def test_long_ber_lengths_round_trip():
    """0x81 and 0x82 length forms in strings, counts, GBT blocks, ciphering and segments."""
    rng = Rng(4)
    security = Security(rng.bytes(16), rng.bytes(16))
    for size, count, su in ((0x80, 3, (0, 255)), (0xFF, 2, None), (0x100, 1, (3, 30)),
                            (0x3E8, 1, None), (0, 0x90, None), (1, 0x7F, None)):
        t = Telegram()
        entries = []
        for i in range(count):
            code, unit = random_obis(rng, True)
            raw = rng.bytes(size)
            entries.append((code, octet_string(raw), su))
            t.items.append((code, ("bytes", raw)))
        t.apdu = data_notification(aidon_list(entries))
        for gbt in (False, True):
            for link in ("hdlc", "mbus"):
                t.layers = ["data-notification"]
                wrap(rng, t, security, gbt)
                frame(rng, t, link)
                results = decode(join_frames(t.frames), security.keys())
                assert_readings(results, [t], "%d x %d bytes, gbt %s, %s" % (count, size, gbt, link))


def test_every_address_size_and_ciphering_option():
    rng = Rng(5)
    for size in (1, 2, 4):
        for sc in (None, 0x20, 0x21, 0x30, 0x31):
            for give_ak in (True, False):
                security = None if sc is None else Security(rng.bytes(16), rng.bytes(16), give_ak)
                t = random_notification(rng)
                t2 = random_notification(rng)
                for tel in (t, t2):
                    wrap(rng, tel, security, rng.chance(50))
                    frame(rng, tel, "hdlc", size)
                assert_readings(decode(join_frames(t.frames + t2.frames, True), keys_of(security)),
                                [t, t2], "address %d, sc %r" % (size, sc))


# ---------------------------------------------------------------------------------------------
# Streams: shared flags, noise, false starts.


def test_back_to_back_frames_sharing_one_flag():
    rng = Rng(6)
    for case in range(10 * SCALE):
        telegrams = [random_telegram(rng, link="hdlc") for _ in range(rng.between(2, 4))]
        data = stream(rng, telegrams, share_flags=True)
        frames = [f for t in telegrams for f in t.frames]
        assert len(data) == sum(len(f) for f in frames) - (len(frames) - 1)  # flags really shared
        results = decode(data)
        assert_readings(results, telegrams, "shared flags %d" % case)
        assert errors(results) == []
        assert_chunking_invariant(data, None, rng, results, 2, "shared flags %d" % case)


def test_frames_separated_by_noise():
    for case, rng, security, telegrams in _cases(7, 25 * SCALE):
        gaps = []
        data = stream(rng, telegrams, noise=40, gaps=gaps)
        keys = keys_of(security)
        results = decode(data, keys)
        context = "noise case %d" % case
        assert_readings(results, telegrams, context)
        for code in codes(results):
            assert code in ("noise", "checksum", "truncated"), (context, errors(results))
        if any(b != FLAG for gap in gaps for b in gap):
            assert errors(results), context + ": noise went unreported"
        else:
            assert errors(results) == [], context
        assert_chunking_invariant(data, keys, rng, results, 2, context)


def _false_starts(rng, before):
    """Bytes that look like the start of a frame but are not one, placed before `before`."""
    size = rng.choice((1, 2, 4))
    server = hdlc_address([rng.below(128) for _ in range(size)])
    length = rng.between(len(before) + 8, 0x7FF) if rng.chance(50) else rng.between(12, 0x7FF)
    header = bytearray([0xA0 | (length >> 8), length & 0xFF]) + b"\x21" + server + b"\x13"
    hcs = crc16_x25(header)
    valid_hcs = bytes([FLAG]) + header + bytes([hcs & 0xFF, hcs >> 8])
    n = rng.between(6, 250)
    return rng.choice((
        valid_hcs,                                  # header with a valid HCS, long length
        valid_hcs + rng.bytes(rng.below(30)),       # ... and some body
        bytes([FLAG, 0xA0 | rng.below(8)]),        # flag and format byte only
        bytes([FLAG]) + header[:3],                # header cut short
        bytes([0x68, n, n, 0x68]),                  # M-Bus start, no frame
        bytes([0x68, n, n, 0x68, 0x53, 0xFF, 0x10, 0x01, 0x67]),
        bytes([0x68]),
    ))


def test_false_start_before_a_real_frame():
    for case, rng, security, telegrams in _cases(8, 25 * SCALE):
        keys = keys_of(security)
        out = bytearray()
        for t in telegrams:
            for f in t.frames:
                out += _false_starts(rng, f) + f
        data = bytes(out)
        results = decode(data, keys)
        context = "false start case %d" % case
        assert_readings(results, telegrams, context)
        assert errors(results), context + ": the false starts went unreported"
        for code in codes(results):
            assert code in ("noise", "checksum", "truncated"), (context, errors(results))
        assert_chunking_invariant(data, keys, rng, results, 2, context)


# ---------------------------------------------------------------------------------------------
# Damage: bit flips, truncation, missing segments and blocks.


def _flip(frame_bytes, bit):
    damaged = bytearray(frame_bytes)
    damaged[bit >> 3] ^= 1 << (bit & 7)
    return bytes(damaged)


def test_one_flipped_bit_loses_only_its_frame():
    """good, damaged, good, good: the damaged frame gives no reading (its telegram is lost),
    the telegrams after it decode. The bit is anywhere from the opening flag to the checksum
    (an HDLC frame ends where its length says, so its closing flag carries no information)."""
    rng = Rng(9)
    for case in range(30 * SCALE):
        security = random_security(rng) if rng.chance(40) else None
        good1, bad, good2, good3 = [random_telegram(rng, security) for _ in range(4)]
        index = rng.below(len(bad.frames))
        victim = bad.frames[index]
        protected = len(victim) - (1 if bad.link == "hdlc" else 0)
        bad.frames = bad.frames[:index] + [_flip(victim, rng.below(8 * protected))] + bad.frames[index + 1:]
        data = stream(rng, [good1, bad, good2, good3], share_flags=False)
        results = decode(data, keys_of(security))
        context = "bit flip case %d: %s frame %d of %d" % (case, "/".join(bad.layers), index, len(bad.frames))
        assert errors(results), context
        got = readings(results)
        if len(got) == 4 and mismatch(got[1], bad, layers=False) is None:
            # the damaged byte was outside an APDU that a bare-APDU format found intact
            results = [r for r in results if r is not got[1]]
        elif len(got) == 4 and hdlc_segment_not_last(bad.link, victim):
            # HDLC segments carry no numbers: the segments after a lost one may parse as a
            # message of their own. That reading is not the damaged frame's; skip it.
            results = [r for r in results if r is not got[1]]
        assert_readings(results, [good1, good2, good3], context)


def hdlc_segment_not_last(link, frame_bytes):
    """Is this an HDLC frame with the segmentation bit (more segments follow)?"""
    return link == "hdlc" and bool(frame_bytes[1] & 0x08)


def test_truncated_final_frame_is_reported():
    rng = Rng(10)
    for case in range(30 * SCALE):
        security = random_security(rng) if rng.chance(40) else None
        good = [random_telegram(rng, security) for _ in range(rng.below(3))]
        last = random_telegram(rng, security)
        final = last.frames[-1]
        if last.link == "hdlc":
            header = 1 + 2 + 1 + 1
            while not final[header - 1] & 1:
                header += 1
            # cut after the HCS (the frame is recognisable) and before the FCS is complete
            keep = rng.between(header + 3, len(final) - 2)
        else:
            keep = rng.between(4, len(final) - 1)
        data = stream(rng, good, share_flags=False) + join_frames(last.frames[:-1]) + final[:keep]
        results = decode(data, keys_of(security))
        context = "truncated case %d (%s, %d of %d bytes)" % (case, last.link, keep, len(final))
        assert_readings(results, good, context)
        assert "truncated" in codes(results), (context, errors(results))
        assert_chunking_invariant(data, keys_of(security), rng, results, 1, context)


def test_missing_mbus_segment_is_a_sequence_error():
    rng = Rng(11)
    for case in range(15 * SCALE):
        t = random_telegram(rng, link="mbus", max_segments=5, gbt=False)
        while len(t.frames) < 3:
            t = random_telegram(rng, link="mbus", max_segments=5, gbt=False)
        after = random_telegram(rng, link="mbus")
        missing = rng.between(1, len(t.frames) - 2)
        frames = t.frames[:missing] + t.frames[missing + 1:]
        results = decode(join_frames(frames + after.frames))
        context = "missing M-Bus segment %d of %d" % (missing, len(t.frames))
        assert "sequence" in codes(results), (context, errors(results))
        assert_readings(results, [after], context)


def _gbt_telegram(rng, link, security=None):
    t = random_telegram(rng, security, link, gbt=True)
    while len(t.messages) < 3:
        t = random_telegram(rng, security, link, gbt=True)
    return t


def _frames_without_block(rng, t, missing):
    """t's frames with GBT block `missing` (0-based) left out, framed anew block by block."""
    frames = []
    for i in range(len(t.messages)):
        if i != missing:
            one = Telegram()
            one.messages = [t.messages[i]]
            frame(rng, one, t.link)
            frames += one.frames
    return frames


def test_missing_gbt_block_is_a_sequence_error():
    rng = Rng(12)
    for case in range(15 * SCALE):
        link = rng.choice(("hdlc", "mbus"))
        security = random_security(rng) if rng.chance(40) else None
        t = _gbt_telegram(rng, link, security)
        after = random_telegram(rng, security, link, gbt=False)
        missing = rng.below(len(t.messages) - 1)  # any block but the last
        results = decode(join_frames(_frames_without_block(rng, t, missing) + after.frames), keys_of(security))
        context = "GBT block %d of %d missing over %s" % (missing + 1, len(t.messages), link)
        assert "sequence" in codes(results), (context, errors(results))
        assert_readings(results, [after], context)


def test_missing_last_gbt_block_is_a_sequence_error_when_the_next_message_starts():
    """The last block of one message never arrives; the next message's block 1 must not
    silently swallow that loss."""
    rng = Rng(13)
    for case in range(10 * SCALE):
        link = rng.choice(("hdlc", "mbus"))
        t = _gbt_telegram(rng, link)
        after = _gbt_telegram(rng, link)
        frames = _frames_without_block(rng, t, len(t.messages) - 1)
        results = decode(join_frames(frames + after.frames))
        context = "last GBT block of %d missing over %s" % (len(t.messages), link)
        assert_readings(results, [after], context)
        assert "sequence" in codes(results), (context, errors(results))


def test_missing_hdlc_segment_does_not_disturb_the_next_message():
    """HDLC segments carry no numbers: a segment that vanishes without a trace can only show
    as a message that does not parse (or, rarely, parses into other values: an HDLC limit,
    not the pipeline's). The message after it must decode as sent."""
    rng = Rng(14)
    spliced = 0
    for case in range(15 * SCALE):
        security = random_security(rng) if rng.chance(40) else None
        t = random_telegram(rng, security, "hdlc", gbt=False, max_segments=5)
        while len(t.frames) < 3:
            t = random_telegram(rng, security, "hdlc", gbt=False, max_segments=5)
        after = random_telegram(rng, security, "hdlc")
        missing = rng.between(1, len(t.frames) - 2)
        frames = t.frames[:missing] + t.frames[missing + 1:]
        results = decode(join_frames(frames + after.frames), keys_of(security))
        context = "missing HDLC segment %d of %d" % (missing, len(t.frames))
        got = readings(results)
        assert 1 <= len(got) <= 2, (context, results)
        assert mismatch(got[-1], after) is None, (context, mismatch(got[-1], after))
        if len(got) == 2:
            spliced += 1
            assert mismatch(got[0], t) is not None, context  # bytes are missing: not what was sent
        else:
            assert errors(results), context
    assert spliced < 5 * SCALE, "most spliced messages must fail to parse"


def test_hdlc_segment_lost_to_a_checksum_error_is_a_sequence_error():
    """A segment that fails its checksum is a lost segment: a message already begun is dropped
    with a `sequence` error, not spliced with the frames that follow; the next message decodes."""
    rng = Rng(15)
    for case in range(10 * SCALE):
        t = random_telegram(rng, None, "hdlc", gbt=False, max_segments=4)
        while len(t.frames) < 2:
            t = random_telegram(rng, None, "hdlc", gbt=False, max_segments=4)
        after = random_telegram(rng, None, "hdlc")
        index = rng.between(1, len(t.frames) - 1)  # segments before it wait for the rest
        victim = t.frames[index]
        frames = list(t.frames)
        frames[index] = _flip(victim, rng.between(8 * 3, 8 * (len(victim) - 1) - 1))  # after the format
        results = decode(join_frames(frames + after.frames))
        context = "HDLC segment %d of %d damaged" % (index, len(t.frames))
        assert "checksum" in codes(results), (context, errors(results))
        assert "sequence" in codes(results), (context, errors(results))
        got = readings(results)
        if len(got) == 2 and hdlc_segment_not_last("hdlc", victim):
            results = [r for r in results if r is not got[0]]  # see hdlc_segment_not_last's use above
        assert_readings(results, [after], context)


def test_wrong_keys_never_give_a_reading():
    rng = Rng(16)
    for case in range(15 * SCALE):
        security = random_security(rng)
        t = random_telegram(rng, security)
        if rng.chance(50):
            wrong = Security(rng.bytes(16), security.authentication, security.give_authentication)
        elif t.security_control & 0x10:  # right encryption key, wrong authentication key
            wrong = Security(security.encryption, rng.bytes(16), True)
        else:
            continue  # encryption only: the authentication key plays no part
        results = decode(join_frames(t.frames), wrong.keys())
        context = "wrong key case %d (%s, SC %02X)" % (case, "/".join(t.layers), t.security_control)
        assert readings(results) == [], context
        assert errors(results), context
