# The pipeline allocates its buffers once: noise and frames, however many, must not grow the
# live heap. MicroPython: gc.mem_alloc() after gc.collect(); CPython: tracemalloc.
import gc
import sys

from encoder import Rng, Security, join_frames, random_telegram
from han.pipeline import Pipeline
from han.values import Reading

MICROPYTHON = sys.implementation.name == "micropython"
NOISE_BYTES = 200 * 1024
FRAMES = 1000
MAX_MESSAGE = 2048  # han.pipeline's largest reassembled APDU (a private const there)
SLACK = 4096  # bytes: counters, the last error kept for diagnosis, interpreter caches


try:
    import tracemalloc
except ImportError:
    tracemalloc = None


def live():
    gc.collect()
    if MICROPYTHON:
        return gc.mem_alloc()
    return tracemalloc.get_traced_memory()[0]


def buffer_sizes(pipeline):
    """(size, capacity) of the pipeline's buffers; a lazily made buffer (or a reassembler made
    lazily, like the GBT one) has size None."""
    out = []
    for holder in (pipeline.scanner, pipeline.segments, pipeline.blocks):
        if holder is None:
            out.append((None, MAX_MESSAGE))
            continue
        buf = holder.buf
        capacity = getattr(holder, "capacity", None) or len(buf)
        out.append((None if buf is None else len(buf), capacity))
    return out


def assert_buffers_bounded(pipeline, before):
    """Every buffer still has the size it had, or (made lazily) exactly its capacity, or (grown
    for a long frame: the scanner's) a larger size within its capacity."""
    after = buffer_sizes(pipeline)
    for (size, capacity), (size_before, capacity_before) in zip(after, before):
        assert capacity == capacity_before, (before, after)
        assert size == size_before or size == capacity or \
            (size_before is not None and size_before < size <= capacity), (before, after)


def _noise_chunk(rng, size):
    return bytes(rng.next32() & 0xFF for _ in range(size))


def _drain(generator):
    """Consume results without keeping them; count readings."""
    n = 0
    for result in generator:
        if isinstance(result, Reading):
            n += 1
    return n


def _telegrams(rng, security):
    """Unsegmented single-frame telegrams (one frame = one reading), plain and encrypted."""
    found = []
    while len(found) < 8:
        t = random_telegram(rng, security if len(found) % 2 else None, max_items=16, max_segments=1,
                            gbt=False)
        if len(t.frames) == 1:
            found.append(t)
    return found


def _run(pipeline, rng, telegrams, report):
    noise_left = NOISE_BYTES
    while noise_left:
        size = min(noise_left, rng.between(1, 4096))
        chunk = _noise_chunk(rng, size)
        readings = _drain(pipeline.feed(chunk))
        assert readings == 0, "random bytes gave a reading"
        noise_left -= size
        chunk = None
    _drain(pipeline.flush())  # the line goes idle after the burst of noise
    report("noise")
    readings = 0
    for i in range(FRAMES):
        readings += _drain(pipeline.feed(telegrams[i % len(telegrams)].frames[0]))
    readings += _drain(pipeline.flush())
    report("frames")
    return readings


def test_noise_and_frames_keep_the_heap_bounded():
    rng = Rng(20)
    security = Security(rng.bytes(16), rng.bytes(16))
    telegrams = _telegrams(rng, security)
    if tracemalloc is not None:
        tracemalloc.start()
    try:
        pipeline = Pipeline(keys=security.keys())
        sizes = buffer_sizes(pipeline)
        # warm up: the first encrypted frame builds the GCM tables, the first errors fill the counters
        _drain(pipeline.feed(join_frames([t.frames[0] for t in telegrams])))
        _drain(pipeline.feed(_noise_chunk(rng, 4096)))
        _drain(pipeline.flush())
        start = live()
        growth = []
        readings = _run(pipeline, rng, telegrams, lambda stage: growth.append((stage, live() - start)))
    finally:
        if tracemalloc is not None:
            tracemalloc.stop()
    assert readings == FRAMES, "%d of %d frames decoded" % (readings, FRAMES)
    assert_buffers_bounded(pipeline, sizes)
    for stage, grown in growth:
        assert grown < SLACK, "live heap grew by %d bytes after the %s" % (grown, stage)
