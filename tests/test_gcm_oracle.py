"""han.crypto against the `cryptography` package as oracle (CPython only, so the pure path).

The viper path is checked against the pure one byte for byte by tests/upy/test_gcm.py
under MicroPython.
"""
import random
import sys

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from han.crypto import _gcm_pure, aes, gcm
from han.crypto.gcm import Gcm
from han.crypto.seal import seal

# Lengths where chunking could go wrong: the first keystream chunk holds one block less of
# data than the later ones (its block 0 masks the tag).
CHUNK = gcm._CHUNK_BYTES
EDGE_LENGTHS = sorted(
    {0, 1, 15, 16, 17, 255, 256, 257, 600, 2048}
    | {CHUNK - 16 + k * CHUNK + d for k in range(4) for d in (-1, 0, 1)}
)


def oracle_seal(key, iv, plaintext, aad):
    sealed = AESGCM(key).encrypt(iv, plaintext, aad or None)
    return sealed[:-16], sealed[-16:]


def check_against_oracle(gcm, key, iv, plaintext, aad, tag_length):
    ciphertext, tag = oracle_seal(key, iv, plaintext, aad)
    data = bytearray(plaintext)
    assert seal(gcm, iv, data, aad) == tag
    assert bytes(data) == ciphertext
    assert gcm.open(iv, data, aad, tag[:tag_length])
    assert bytes(data) == plaintext
    forged = bytearray(tag[:tag_length])
    forged[len(plaintext) % tag_length] ^= 0x40
    data = bytearray(ciphertext)
    assert not gcm.open(iv, data, aad, bytes(forged))
    assert bytes(data) == ciphertext
    assert gcm.open(iv, data)  # decrypt only
    assert bytes(data) == plaintext


def test_the_pure_path_runs_on_cpython():
    assert Gcm(bytes(16)).ops is _gcm_pure


@given(
    key=st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=12, max_size=12),
    plaintext=st.binary(max_size=600),
    aad=st.sampled_from([None, 0, 17, 20]).flatmap(
        lambda n: st.none() if n is None else st.binary(min_size=n, max_size=n)),
    tag_length=st.sampled_from([16, 12]),
)
@settings(max_examples=300, deadline=None)
def test_matches_oracle(key, iv, plaintext, aad, tag_length):
    check_against_oracle(Gcm(key, _gcm_pure), key, iv, plaintext, aad, tag_length)


@pytest.mark.parametrize("length", EDGE_LENGTHS)
def test_chunk_edges(length):
    rng = random.Random(length)
    key, iv = rng.randbytes(16), rng.randbytes(12)
    check_against_oracle(Gcm(key), key, iv, rng.randbytes(length), rng.randbytes(17), 12)


def test_one_instance_serves_many_frames():
    # The per-instance buffers are reused: a long frame must not leak into the next short one.
    rng = random.Random(7)
    key = rng.randbytes(16)
    gcm = Gcm(key)
    for length in [600, 3, 300, 0, 2048, 16, 241] * 3:
        iv = rng.randbytes(12)
        check_against_oracle(gcm, key, iv, rng.randbytes(length), rng.randbytes(17), 12)


def test_ecb_matches_oracle_in_place_and_on_views():
    key = bytes(range(16))
    plain = bytes(range(256)) * 2
    expected = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(plain)
    encryptor = aes.ecb(key)
    buf = bytearray(plain)
    encryptor.encrypt(buf, buf)
    assert bytes(buf) == expected
    frame = bytearray(3) + bytearray(plain) + bytearray(3)
    view = memoryview(frame)[3:-3]
    encryptor.encrypt(view, view)
    assert bytes(view) == expected and frame[:3] == bytes(3) and frame[-3:] == bytes(3)
    out = bytearray(32)
    encryptor.encrypt(plain[:32], out)
    assert bytes(out) == expected[:32]
    with pytest.raises(ValueError):
        encryptor.encrypt(bytes(20), bytearray(20))


def test_ecb_names_the_missing_package(monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were absent.
    for name in list(sys.modules):
        if name == "cryptography" or name.startswith("cryptography."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(ImportError, match="AES needs the 'cryptography' package on CPython"):
        aes.ecb(bytes(16))
