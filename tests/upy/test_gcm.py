# AES-GCM on both paths: the viper one (MicroPython only) and the pure twin (everywhere).
import gc
import sys

from support import IS_MICROPYTHON, unhex

from han.crypto.gcm import Gcm

# What importing han.crypto.gcm loaded (under MicroPython run.py gives each test module a
# fresh interpreter, so nothing imported han.crypto before).
LOADED_BY_IMPORT = [name for name in sys.modules if name.startswith("han.crypto.")]

from han.crypto import _gcm_pure  # noqa: E402  (the pure path, run on MicroPython too)
from han.crypto.seal import seal  # noqa: E402  (the tests' encryption: not the firmware's)

# The GCM loops of every path this interpreter has: the viper one (MicroPython) and its pure twin.
if IS_MICROPYTHON:
    from han.crypto import _gcm_viper
    PATHS = (_gcm_viper, _gcm_pure)
else:
    PATHS = (_gcm_pure,)

# DLMS Green Book (Ed. 9) general-glo-ciphering example, SC 0x30: authenticated encryption.
DLMS_KEY = unhex("000102030405060708090A0B0C0D0E0F")
DLMS_AK = unhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
DLMS_IV = unhex("4D4D4D0000BC614E 01234567")  # system title || invocation counter
DLMS_AAD = b"\x30" + DLMS_AK  # SC || AK
DLMS_CIPHERTEXT = unhex("411312FF935A47566827C467BC")
DLMS_TAG = unhex("7D825C3BE4A77C3FCC056B6B")
DLMS_PLAINTEXT = unhex("C0 01 00 00 08 00 00 01 00 00 FF 02 00")  # get-request, clock time

# McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 1-4 (AES-128, 96-bit IV).
NIST_KEY = unhex("feffe9928665731c6d6a8f9467308308")
NIST_IV = unhex("cafebabefacedbaddecaf888")
NIST_PLAINTEXT = unhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
NIST_CIPHERTEXT = unhex(
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985")
NIST_AAD = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
NIST_CASES = (
    # key, iv, plaintext, aad, ciphertext, tag
    (bytes(16), bytes(12), b"", b"", b"", unhex("58e2fccefa7e3061367f1d57a4e7455a")),
    (bytes(16), bytes(12), bytes(16), b"",
     unhex("0388dace60b6a392f328c2b971b2fe78"), unhex("ab6e47d42cec13bdf53a67b21257bddf")),
    (NIST_KEY, NIST_IV, NIST_PLAINTEXT, b"", NIST_CIPHERTEXT,
     unhex("4d5c2af327cd64a62cf35abd2ba6fab4")),
    (NIST_KEY, NIST_IV, NIST_PLAINTEXT[:60], NIST_AAD, NIST_CIPHERTEXT[:60],
     unhex("5bc94fbc3221a5db94fae95ae7121a47")),
)


# A real frame: Kamstrup Omnipower (DK) general-glo-ciphering APDU, SC 0x30, 447 bytes of
# ciphertext (two keystream chunks). Frame and keys are from a public Danish decrypt script,
# as in frames/kamstrup-dk-script/; the tag was checked with CPython `cryptography`.
KAMSTRUP_KEY = unhex("5AD84121D9D20B364B7A11F3C1B5827F")
KAMSTRUP_AK = unhex("AFB3F93E3E7204EDB3C27F96DBD51AE0")
KAMSTRUP_APDU = unhex(
    "DB084B414D4501A4DC528201D030000788E1A039B2D14C712DD4D8C8440D5368E433BD70B73681E9A9EFFE38"
    "F175A37DE9CDE64E8F780D8F18B43FC059D87902F3D747B814BCD06A4700687801BD5D06612054507D44E766"
    "98CC3E35CC9DE62C284C0DEEA635B9BFC56CE1FE5A3A1E5E270B0C181ACF02151FCC592134D04F0292B5A353"
    "38D7B781BB1F2A7E4071815CEED5D4BAC6EFAAAFF979EF969D0DB46F51E5E0FC00F5AD105FBEF95FC5F88546"
    "0B5632554AC05D9EB4F65FF223972A47CFD434B5F5E2D853EA4C14727586F0E21C6EE125268CB4DC7EC5B10F"
    "8483C010C8E688DF86584D7C29D81731A4E0969141B6ADD942E40A96E3E2DC2F9020BF9D5802A18DC985BB54"
    "22F470C0629D22DB6F16B6647DB3C9F727C170C2DB4C9A230F828346E86F56D347B62BFE28A507AE2A219ACC"
    "63AD5EE06ECB949DC4FDC2D2F808027A4A4C677C93C4C8909D7336D8B8B3791836C5555E74E25482A44A5F6D"
    "358DCE8450478F8B2C5D5666C2CF8BD190D4874E707F5D4BCDE94E91355A8139C3E41CD5F08899B65EE9B59F"
    "C60372E4F92BC99826B8C147F2095FB38A891409AA81E227076C21CB7CAF73B3E8A4E256C70D9547A914F39C"
    "169376BF922B08064EC4FB31D44ECD721D1A151E4E684F0B2685C4B69D96F5FB52D0B81279")


def pattern(length, seed):
    out = bytearray(length)
    for i in range(length):
        out[i] = (seed + 131 * i + (i >> 8)) & 0xFF
    return out


# Three chunks of keystream (600 B) with AAD; made with CPython `cryptography`'s AESGCM.
LONG_TAG = unhex("1b9335a2fb0ede13a07f754c40ba0a5a")
LONG_CIPHERTEXT_HEAD = unhex("3e93a9333ea03cd5f18275afcfec39ef")
LONG_CIPHERTEXT_TAIL = unhex("d63a93af3aaafdf196e918c6f03cb52f")


def test_paths_available():
    # Under MicroPython the viper path is the default, or the fast code would go untested.
    print("gcm paths:", ", ".join(Gcm(DLMS_KEY, ops).ops.__name__ for ops in PATHS))
    assert Gcm(DLMS_KEY).ops is PATHS[0]
    assert Gcm(DLMS_KEY, _gcm_pure).ops is _gcm_pure


def test_dlms_green_book_open():
    for ops in PATHS:
        data = bytearray(DLMS_CIPHERTEXT)
        assert Gcm(DLMS_KEY, ops).open(DLMS_IV, data, DLMS_AAD, DLMS_TAG)
        assert bytes(data) == DLMS_PLAINTEXT


def test_dlms_green_book_seal():
    for ops in PATHS:
        data = bytearray(DLMS_PLAINTEXT)
        tag = seal(Gcm(DLMS_KEY, ops), DLMS_IV, data, DLMS_AAD)
        assert bytes(data) == DLMS_CIPHERTEXT
        assert tag[:12] == DLMS_TAG and len(tag) == 16


def test_the_firmware_s_gcm_only_opens():
    # Sealing is the tests' and the simulated meters' (han.crypto.seal): the Gcm a meter that
    # encrypts keeps for good does not carry that code (nor does importing it load han.crypto.seal:
    # test_micropython_import_loads_only_the_viper_code).
    assert not hasattr(Gcm, "seal")


def test_nist_vectors():
    for ops in PATHS:
        for key, iv, plaintext, aad, ciphertext, tag in NIST_CASES:
            gcm = Gcm(key, ops)
            data = bytearray(plaintext)
            assert seal(gcm, iv, data, aad) == tag
            assert bytes(data) == ciphertext
            for tag_length in (16, 12, 4):
                data = bytearray(ciphertext)
                assert gcm.open(iv, data, aad, tag[:tag_length])
                assert bytes(data) == plaintext


def test_long_data_spans_several_chunks():
    for ops in PATHS:
        gcm = Gcm(pattern(16, 1), ops)
        data = pattern(600, 4)
        tag = seal(gcm, pattern(12, 2), data, pattern(20, 3))
        assert tag == LONG_TAG
        assert bytes(data[:16]) == LONG_CIPHERTEXT_HEAD
        assert bytes(data[-16:]) == LONG_CIPHERTEXT_TAIL
        assert gcm.open(pattern(12, 2), data, pattern(20, 3), LONG_TAG[:12])
        assert data == pattern(600, 4)


def test_decrypt_without_tag():
    for ops in PATHS:
        data = bytearray(DLMS_CIPHERTEXT)
        # AAD is irrelevant without a tag: encryption-only frames have none.
        assert Gcm(DLMS_KEY, ops).open(DLMS_IV, data)
        assert bytes(data) == DLMS_PLAINTEXT
        data = bytearray(NIST_CIPHERTEXT)
        assert Gcm(NIST_KEY, ops).open(NIST_IV, data, NIST_AAD)
        assert bytes(data) == NIST_PLAINTEXT


def test_wrong_tag_leaves_data_untouched():
    for ops in PATHS:
        gcm = Gcm(DLMS_KEY, ops)
        for i in range(len(DLMS_TAG)):
            tag = bytearray(DLMS_TAG)
            tag[i] ^= 0x01
            data = bytearray(DLMS_CIPHERTEXT)
            assert not gcm.open(DLMS_IV, data, DLMS_AAD, tag)
            assert bytes(data) == DLMS_CIPHERTEXT
        # Corrupted ciphertext, wrong AAD (authentication key), wrong IV.
        data = bytearray(DLMS_CIPHERTEXT)
        data[5] ^= 0x80
        assert not gcm.open(DLMS_IV, data, DLMS_AAD, DLMS_TAG)
        data = bytearray(DLMS_CIPHERTEXT)
        assert not gcm.open(DLMS_IV, data, b"\x30" + bytes(16), DLMS_TAG)
        assert not gcm.open(DLMS_IV, data, None, DLMS_TAG)
        assert not gcm.open(DLMS_IV[:11] + b"\x68", data, DLMS_AAD, DLMS_TAG)
        assert bytes(data) == DLMS_CIPHERTEXT
        # The same instance still works after failures.
        assert gcm.open(DLMS_IV, data, DLMS_AAD, DLMS_TAG)
        assert bytes(data) == DLMS_PLAINTEXT


def test_wrong_key_fails_the_tag():
    for ops in PATHS:
        wrong = bytearray(DLMS_KEY)
        wrong[15] ^= 0x01
        data = bytearray(DLMS_CIPHERTEXT)
        assert not Gcm(wrong, ops).open(DLMS_IV, data, DLMS_AAD, DLMS_TAG)
        assert bytes(data) == DLMS_CIPHERTEXT


def test_round_trip_lengths_0_to_300():
    key = pattern(16, 9)
    aad = pattern(17, 10)
    gcms = [Gcm(key, ops) for ops in PATHS]
    for length in range(301):
        iv = pattern(12, length)
        plaintext = pattern(length, 77)
        sealed = []
        for gcm in gcms:
            data = bytearray(plaintext)
            tag = seal(gcm, iv, data, aad)
            assert length == 0 or data != plaintext
            sealed.append((bytes(data), tag))
            assert gcm.open(iv, data, aad, tag[:12])
            assert data == plaintext
        # Both paths agree byte for byte.
        assert sealed[0] == sealed[-1]


def test_slice_in_middle_of_frame_buffer():
    for ops in PATHS:
        gcm = Gcm(DLMS_KEY, ops)
        frame = bytearray(b"\x7e" * 7 + DLMS_CIPHERTEXT + b"\x7e" * 9)
        view = memoryview(frame)[7:7 + len(DLMS_CIPHERTEXT)]
        assert not gcm.open(DLMS_IV, view, DLMS_AAD, b"\x00" * 12)
        assert bytes(frame) == b"\x7e" * 7 + DLMS_CIPHERTEXT + b"\x7e" * 9
        assert gcm.open(DLMS_IV, view, DLMS_AAD, memoryview(DLMS_TAG))
        assert bytes(frame) == b"\x7e" * 7 + DLMS_PLAINTEXT + b"\x7e" * 9
        # Several chunks at an odd offset: every chunk must land at the right place.
        gcm = Gcm(pattern(16, 1), ops)
        frame = bytearray(3) + pattern(600, 4) + bytearray(5)
        view = memoryview(frame)[3:603]
        tag = seal(gcm, pattern(12, 2), view, memoryview(pattern(20, 3)))
        assert tag == LONG_TAG
        assert bytes(frame[:3]) == bytes(3) and bytes(frame[603:]) == bytes(5)
        assert bytes(view[:16]) == LONG_CIPHERTEXT_HEAD
        assert gcm.open(pattern(12, 2), view, pattern(20, 3), LONG_TAG)
        assert frame == bytearray(3) + pattern(600, 4) + bytearray(5)


def test_bad_arguments():
    for ops in PATHS:
        gcm = Gcm(DLMS_KEY, ops)
        for call, says in (
            (lambda: gcm.open(DLMS_IV[:8], bytearray(4)), "GCM IV must be 12 bytes"),
            (lambda: gcm.open(DLMS_IV, bytearray(4), None, b"abc"), "GCM tag must be 4..16 bytes"),
            (lambda: gcm.open(DLMS_IV, bytearray(4), None, bytes(17)), "GCM tag must be 4..16 bytes"),
            (lambda: seal(gcm, DLMS_IV + b"\x00", bytearray(4)), "GCM IV must be 12 bytes"),
        ):
            try:
                call()
                assert False, "expected ValueError"
            except ValueError as refused:
                assert str(refused) == says, refused
        try:
            gcm.open(DLMS_IV, DLMS_CIPHERTEXT)
            assert False, "expected TypeError"
        except TypeError as refused:
            assert str(refused) == "GCM data must be a writable buffer", refused


def test_the_reasons_for_refusing_a_call_load_only_for_a_refused_call():
    # The firmware's calls are right: their messages (han.crypto.arguments) take no heap.
    sys.modules.pop("han.crypto.arguments", None)
    gcm = Gcm(DLMS_KEY)
    data = bytearray(DLMS_CIPHERTEXT)
    assert gcm.open(DLMS_IV, data, DLMS_AAD, DLMS_TAG) and bytes(data) == DLMS_PLAINTEXT
    assert gcm.open(DLMS_IV, data) is not None
    seal(gcm, DLMS_IV, data, DLMS_AAD)
    assert "han.crypto.arguments" not in sys.modules


def test_real_kamstrup_frame():
    # DB 08 <system title> 82 01 D0 <SC> <IC> <ciphertext> <12-byte tag>
    iv = KAMSTRUP_APDU[2:10] + KAMSTRUP_APDU[14:18]
    aad = KAMSTRUP_APDU[13:14] + KAMSTRUP_AK
    for ops in PATHS:
        gcm = Gcm(KAMSTRUP_KEY, ops)
        frame = bytearray(KAMSTRUP_APDU)
        body = memoryview(frame)[18:-12]
        tag = memoryview(frame)[-12:]
        assert len(body) == 447
        forged = bytearray(tag)
        forged[0] ^= 1
        assert not gcm.open(iv, body, aad, forged)
        assert bytes(frame) == KAMSTRUP_APDU
        assert gcm.open(iv, body, aad, tag)
        # data-notification, date-time 2020-01-07 14:47:20
        assert bytes(body[:20]) == unhex("0f000000000c07e40107020e2f14ff8000000241")
        assert bytes(frame[:18]) == KAMSTRUP_APDU[:18] and bytes(tag) == KAMSTRUP_APDU[-12:]


def test_micropython_import_loads_only_the_viper_code():
    # The pure twin (and aes.py's CPython adapter) stay off the board's heap unless asked for;
    # so does the encryption (han.crypto.seal).
    if IS_MICROPYTHON:
        assert sorted(LOADED_BY_IMPORT) == ["han.crypto._gcm_viper", "han.crypto.gcm"], (
            LOADED_BY_IMPORT)
    else:
        assert "han.crypto._gcm_pure" in LOADED_BY_IMPORT


def live_heap():
    gc.collect()
    return gc.mem_alloc()


def test_viper_instance_is_small_and_open_allocates_nothing():
    if not IS_MICROPYTHON:
        return  # gc.mem_alloc() is MicroPython's
    key = pattern(16, 5)
    Gcm(key)  # first-use caches (qstrs, method lookups) out of the figure
    before = live_heap()
    gcms = [Gcm(key) for _ in range(4)]
    per_instance = (live_heap() - before) // 4
    print("Gcm instance: %d B of live heap" % per_instance)
    assert per_instance < 1024, per_instance  # about 700 B on the 64-bit unix port
    gcm = gcms[0]
    aad = pattern(17, 6)
    for length in (0, 13, 47, 48, 49, 240, 447, 1000):
        data = pattern(length, 7)
        iv = pattern(12, length)
        tag = seal(gcm, iv, data, aad)[:12]
        ciphertext = bytes(data)
        frame = bytearray(length + 3)
        body = memoryview(frame)[3:]  # the views a caller cuts from its frame buffer
        forged = bytearray(tag)
        forged[0] ^= 1
        body[:] = ciphertext
        gcm.open(iv, body, aad, tag)  # warm up
        body[:] = ciphertext
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            ok = gcm.open(iv, body, aad, tag)
            refused = gcm.open(iv, body, aad, forged)
            untagged = gcm.open(iv, body)
            allocated = gc.mem_alloc() - before
        finally:
            gc.enable()
        assert ok and not refused and untagged
        assert allocated == 0, (length, allocated)


def test_parse_key_takes_pasted_keys_and_names_what_is_wrong():
    from han.key_text import parse_key
    key = bytes.fromhex("5AD84121D9D20B364B7A11F3C1B5827F")
    for text in ("5AD84121D9D20B364B7A11F3C1B5827F", " 0x5ad84121d9d20b364b7a11f3c1b5827f ",
                 "5A:D8:41:21:D9:D2:0B:36:4B:7A:11:F3:C1:B5:82:7F", "5AD84121 D9D20B36-4B7A11F3 C1B5827F"):
        assert parse_key(text) == key, text
    for text in ("5AD84121D9D20B364B7A11F3C1B5827", "5AD84121D9D20B364B7A11F3C1B5827F0",
                 "5AD84121D9D20B364G7A11F3C1B5827F", "5AD84121D9D20B36.B7A11F3C1B5827F"):
        try:
            parse_key(text, "auth_key")
        except ValueError as e:
            assert str(e).startswith("auth_key must be 32 hex digits"), e
        else:
            raise AssertionError(text)
