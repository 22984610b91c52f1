"""Properties of the decoding pipeline, driven by hypothesis (CPython).

Telegrams come from the test-side encoder (tests/upy/encoder.py) with hypothesis making every
random choice, so a failure shrinks to a small telegram. The same properties run on both
interpreters with a fixed generator in tests/upy/test_roundtrip.py; these add arbitrary bytes,
arbitrary damage and memory bounds.
"""
import gc
import os
import random
import tracemalloc

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from encoder import join_frames, random_security, random_telegram, stream
from han.pipeline import Pipeline
from han.values import Reading
from test_memory import assert_buffers_bounded, buffer_sizes
from test_roundtrip import codes, errors, mismatch, norm, readings

# Derandomized: CI runs the same examples every time. Shrinking a failure can take minutes on
# these streams, so it runs only when asked for (HAN_SHRINK=1 python -m pytest ...).
PHASES = tuple(Phase) if os.environ.get("HAN_SHRINK") else (Phase.explicit, Phase.generate)
SETTINGS = dict(deadline=None, derandomize=True, phases=PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class DrawRng:
    """The encoder's random source, with hypothesis deciding every choice."""

    def __init__(self, draw):
        self.draw = draw

    def below(self, n):
        return 0 if n <= 1 else self.draw(st.integers(0, n - 1))

    def between(self, a, b):
        return self.draw(st.integers(a, b))

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def bytes(self, n):
        return self.draw(st.binary(min_size=n, max_size=n))

    def chance(self, percent):
        return self.below(100) < percent


class RandomRng:
    """The encoder's random source over random.Random."""

    def __init__(self, seed):
        self.source = random.Random(seed)

    def below(self, n):
        return self.source.randrange(n) if n > 1 else 0

    def between(self, a, b):
        return self.source.randint(a, b)

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def bytes(self, n):
        return self.source.randbytes(n)

    def chance(self, percent):
        return self.source.randrange(100) < percent


@st.composite
def telegram_streams(draw, link=None, max_telegrams=3, max_segments=4, noise=0, encrypted=None,
                     share_flags=None):
    """(security or None, telegrams, stream bytes)."""
    rng = DrawRng(draw)
    if encrypted is None:
        encrypted = draw(st.booleans())
    security = random_security(rng) if encrypted else None
    count = draw(st.integers(1, max_telegrams))
    telegrams = [random_telegram(rng, security, link=link, max_items=8, max_segments=max_segments)
                 for _ in range(count)]
    return security, telegrams, stream(rng, telegrams, noise=noise, share_flags=share_flags)


chunk_sizes = st.lists(st.integers(1, 4096), min_size=1, max_size=30)


def run(data, keys=None, sizes=None):
    """(pipeline, results): `data` fed in chunks of `sizes` (cycled), or at once; then flush."""
    pipeline = Pipeline(keys=keys)
    sizes_before = buffer_sizes(pipeline)
    out = []
    if sizes:
        at = 0
        i = 0
        while at < len(data):
            n = sizes[i % len(sizes)]
            out += list(pipeline.feed(data[at:at + n]))
            at += n
            i += 1
    else:
        out += list(pipeline.feed(data))
    out += list(pipeline.flush())
    assert_buffers_bounded(pipeline, sizes_before)
    return pipeline, out


def keys_of(security):
    return security.keys() if security is not None else None


def assert_only_encoded_readings(results, telegrams):
    """Every reading holds exactly what one of the telegrams holds (damage may lose telegrams;
    the layers it came through may differ, e.g. an intact APDU found in a damaged frame)."""
    for reading in readings(results):
        problems = [mismatch(reading, t, layers=False) for t in telegrams]
        assert None in problems, "a reading that was never sent: %r\n%r" % (norm(reading), problems)


def assert_exact(results, telegrams):
    got = readings(results)
    assert len(got) == len(telegrams), errors(results)
    for reading, telegram in zip(got, telegrams):
        assert mismatch(reading, telegram) is None, mismatch(reading, telegram)


# ---------------------------------------------------------------------------------------------
# What goes in comes out, whatever the chunking.


@settings(max_examples=200, **SETTINGS)
@given(telegram_streams(), chunk_sizes)
def test_round_trip_in_any_chunking(case, sizes):
    security, telegrams, data = case
    _, whole = run(data, keys_of(security))
    assert_exact(whole, telegrams)
    assert errors(whole) == []
    _, chunked = run(data, keys_of(security), sizes)
    assert [norm(r) for r in chunked] == [norm(r) for r in whole]


@settings(max_examples=100, **SETTINGS)
@given(telegram_streams(noise=60), chunk_sizes)
def test_noise_between_frames_loses_nothing(case, sizes):
    security, telegrams, data = case
    _, whole = run(data, keys_of(security))
    assert_exact(whole, telegrams)
    assert set(codes(whole)) <= {"noise", "checksum", "truncated"}
    _, chunked = run(data, keys_of(security), sizes)
    assert [norm(r) for r in chunked] == [norm(r) for r in whole]


# ---------------------------------------------------------------------------------------------
# Arbitrary input: never an exception, never a reading nobody sent, never a bigger buffer.

frame_like_bytes = st.lists(st.one_of(st.integers(0, 255),
                                      st.sampled_from([0x7E, 0x68, 0xA0, 0xA8, 0x16, 0xE6, 0xE7,
                                                       0x00, 0x0F, 0xDB, 0xE0, 0x13])),
                            max_size=3000).map(bytes)


@settings(max_examples=300, **SETTINGS)
@given(st.one_of(st.binary(max_size=5000), frame_like_bytes), st.one_of(st.none(), chunk_sizes),
       st.booleans())
def test_arbitrary_bytes_never_raise_nor_read(data, sizes, with_keys):
    keys = random_security(RandomRng(1)).keys() if with_keys else None
    _, results = run(data, keys, sizes)
    assert readings(results) == []


mutation = st.tuples(st.sampled_from(("flip", "insert", "delete")), st.integers(0, 1 << 20),
                     st.integers(0, 255))


def mutate(data, mutations):
    out = bytearray(data)
    for kind, where, value in mutations:
        if not out:
            break
        at = where % len(out)
        if kind == "flip":
            out[at] ^= 1 << (value & 7)
        elif kind == "insert":
            out.insert(at, value)
        else:
            del out[at]
    return bytes(out)


@settings(max_examples=300, **SETTINGS)
@given(telegram_streams(link="hdlc", max_segments=1), st.lists(mutation, min_size=1, max_size=8),
       st.one_of(st.none(), chunk_sizes))
def test_damaged_hdlc_streams_never_raise_nor_misread(case, mutations, sizes):
    """Unsegmented HDLC frames (GBT blocks allowed): CRC-16 and GBT block numbers catch
    flipped, inserted and deleted bytes, whatever their number."""
    security, telegrams, data = case
    damaged = mutate(data, mutations)
    _, results = run(damaged, keys_of(security), sizes)
    assert_only_encoded_readings(results, telegrams)


def _flip_one_bit(telegrams, data, where, bit):
    """The stream (frames back to back, no shared flags) with one bit flipped, the index of
    the telegram whose frame holds that bit, and that frame."""
    at = where % len(data)
    offset = 0
    for index, t in enumerate(telegrams):
        for f in t.frames:
            offset += len(f)
            if at < offset:
                damaged = bytearray(data)
                damaged[at] ^= 1 << bit
                return bytes(damaged), index, f
    raise AssertionError("the stream is longer than its frames")


def assert_all_but(results, telegrams, lost, extra=False):
    """Readings hold exactly what the telegrams hold, except that telegram `lost` may be missing
    or, with `extra`, replaced by one reading of unchecked content. (Layers are not compared:
    an intact APDU may be found inside a damaged frame.)"""
    got = readings(results)
    patterns = [telegrams, telegrams[:lost] + telegrams[lost + 1:]]
    if extra:
        patterns.append(telegrams[:lost] + [None] + telegrams[lost + 1:])
    for pattern in patterns:
        if len(pattern) == len(got) and all(
                t is None or mismatch(r, t, layers=False) is None for r, t in zip(got, pattern)):
            return
    assert False, "telegram %d of %d damaged: readings %r, errors %r" % (
        lost, len(telegrams), [norm(r) for r in got], errors(results))


@settings(max_examples=300, **SETTINGS)
@given(telegram_streams(link="mbus", share_flags=False), st.integers(0, 1 << 20), st.integers(0, 7),
       st.one_of(st.none(), chunk_sizes))
def test_one_flipped_bit_in_mbus_streams_loses_one_telegram_at_most(case, where, bit, sizes):
    """The M-Bus checksum is a byte sum: it catches any single flipped bit (not every
    multi-byte change), and segment numbers catch the segment it costs."""
    security, telegrams, data = case
    damaged, lost, _ = _flip_one_bit(telegrams, data, where, bit)
    _, results = run(damaged, keys_of(security), sizes)
    assert errors(results)
    assert_all_but(results, telegrams, lost)


@settings(max_examples=300, **SETTINGS)
@given(telegram_streams(link="hdlc", max_segments=4, share_flags=False), st.integers(0, 1 << 20),
       st.integers(0, 7), st.one_of(st.none(), chunk_sizes))
def test_one_flipped_bit_in_segmented_hdlc_streams_loses_one_telegram_at_most(case, where, bit, sizes):
    """A segment that fails its checksum costs its own message, not the next one. (HDLC
    segments carry no numbers: the segments after a lost one may parse on their own, so one
    reading in place of the damaged telegram is not checked.)"""
    security, telegrams, data = case
    damaged, lost, frame = _flip_one_bit(telegrams, data, where, bit)
    _, results = run(damaged, keys_of(security), sizes)
    assert_all_but(results, telegrams, lost, extra=bool(frame[1] & 0x08))


@settings(max_examples=100, **SETTINGS)
@given(telegram_streams(), st.binary(min_size=1, max_size=300), st.integers(0, 1 << 20))
def test_noise_inside_a_frame_never_misreads(case, noise, where):
    """Bytes spliced into the middle of the stream (a glitch on the line)."""
    security, telegrams, data = case
    at = where % len(data)
    _, results = run(data[:at] + noise + data[at:], keys_of(security))
    assert_only_encoded_readings(results, telegrams)


# ---------------------------------------------------------------------------------------------
# Memory: 1 MB of random bytes does not grow what the pipeline holds.


def _traced():
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_one_megabyte_of_random_bytes_keeps_memory_bounded():
    rng = RandomRng(1234)
    source = rng.source
    security = random_security(rng)
    good = random_telegram(rng, security, "hdlc", gbt=False, max_segments=1)
    frame = join_frames(good.frames)
    tracemalloc.start()
    try:
        pipeline = Pipeline(keys=security.keys())
        sizes = buffer_sizes(pipeline)
        for _ in pipeline.feed(frame + source.randbytes(4096) + frame):  # warm up every path
            pass
        start = _traced()
        marks = []
        fed = 0
        while fed < 1 << 20:
            chunk = source.randbytes(source.randint(1, 4096))
            for result in pipeline.feed(chunk):
                assert not isinstance(result, Reading)
            fed += len(chunk)
            if len(marks) < 4 and fed >= (len(marks) + 1) << 18:
                marks.append(_traced() - start)
        got = [r for r in list(pipeline.feed(frame + frame)) + list(pipeline.flush())
               if isinstance(r, Reading)]
        end = _traced() - start
    finally:
        tracemalloc.stop()
    assert got, "a good frame after the noise must still decode"
    assert_buffers_bounded(pipeline, sizes)
    for grown in marks + [end]:
        assert grown < 16 * 1024, "traced memory grew by %d bytes (%r)" % (grown, marks + [end])
