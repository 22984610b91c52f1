"""The decoding pipeline: bytes in, readings and errors out.

    bytes -> Scanner (HDLC, M-Bus frames; noise) -> Reassembly (link segments, if any)
          -> LLC -> GBT -> ciphering -> data-notification -> Reading

Pure and bounded: the buffers are allocated once here; nothing does I/O. `feed` and `flush`
are generators: each yields the Readings and Errors the new bytes complete.
"""
from han.cosem import build_reading, new_cache, parse
from han.errors import Error
from han.framing import NAMES, Scanner, payload

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_GENERAL_BLOCK_TRANSFER = const(0xE0)
_GENERAL_GLO_CIPHERING = const(0xDB)
_GENERAL_DED_CIPHERING = const(0xDF)
_DSMR_START = const(0x2F)  # "/": a P1 telegram (plain, or the plaintext of an encrypted one)
_DATA_NOTIFICATION = const(0x0F)
_EXCERPT = const(32)  # bytes of the offending data kept with an error, as han.errors._EXCERPT
# han.details lines
_LAST_SEGMENT = const(36)
_LAST_BLOCK = const(37)
# (38, 39: han.framing.segments)
_EMPTY = const(40)
_UNTRUSTED = const(41)
_NOT_PARSED = const(42)
_NOT_DLMS = const(43)
_NOT_NOTIFICATION = const(44)
_NESTED = const(45)
_MAX_MESSAGE = const(2048)  # largest reassembled APDU (segments or GBT blocks)
_MAX_LAYERS = const(6)      # GBT, ciphering, GBT inside ciphering ...: no real meter nests deeper


class Pipeline:
    """Also what the pipeline has seen, as counters the diagnosis and the status page read:
    bytes, frames, readings, errors (code -> count). They are read as `pipeline.counters.bytes`
    ...: `counters` is the pipeline itself (a separate object would cost the board's heap a
    class and an instance). The last error is not kept: it is yielded, and whoever shows it keeps
    what it shows (an Error kept here held its excerpt and sentence for good, ~300 B)."""

    # Reassembly, made for the meters that need it; until then the class's None stands for it
    # (a pipeline's 13th attribute would double its table: 96 B more heap).
    segments = None  # link segments, made at the first message in segments
    blocks = None  # GBT blocks (L&G)

    def __init__(self, keys=None, hint=None, trace=None):
        self.keys = keys  # han.keys.cipher() of the meter's keys, or None
        self.hint = hint
        self.trace = trace  # trace(layer name, bytes view) for debug dumps, or None
        self.scanner = Scanner()  # every format
        self.counters = self
        self.bytes = 0
        self.frames = 0
        self.readings = 0
        self.errors = {}  # error code -> count
        self.meter = new_cache()  # the meter convention, kept between readings

    def feed(self, data):
        """Bytes as they arrive from the meter, in chunks of any size: an iterator over the
        Readings and Errors they complete, and MemoryError (the class) for a frame the heap had
        no room to decode."""
        self.bytes += len(data)
        return self._events(self.scanner.feed(data))

    def flush(self):
        """The input ended or the line went idle: decide what is still buffered."""
        scanner = self.scanner
        if scanner.start < scanner.end or scanner.noise:
            yield from self._events(scanner.flush())
        else:  # nothing is (as after most pushes: the app flushes every 250 ms of quiet), and
            scanner.gap()  # no generators are made for nothing
        if self.segments is not None and self.segments.active:
            self.segments.abandon("")
            yield self._count(Error("truncated", _LAST_SEGMENT))
        if self.blocks is not None and self.blocks.abandon():
            yield self._count(Error("truncated", _LAST_BLOCK))

    def _count(self, event):
        """Count a Reading or an Error; returns it."""
        if isinstance(event, Error):
            self.errors[event.code] = self.errors.get(event.code, 0) + 1
        else:
            self.readings += 1
        return event

    def _events(self, source):
        """What the scanner's frames and errors come to."""
        scanner = self.scanner
        for event in source:
            segments = self.segments
            if event is not scanner:  # an Error; else the frame the scanner found
                yield self._count(event)
                if segments is not None and segments.active:
                    lost = segments.rejected(event)
                    if lost:
                        yield self._count(lost)
                continue
            self.frames += 1
            try:
                fmt = event.format
                buf = event.buf
                at = event.at
                view = memoryview(buf)
                if self.trace:
                    self.trace(NAMES[fmt], view[at:at + event.size])
                try:
                    start, end, more, sequence = payload(fmt, buf, at, event.size)
                except Error as fault:  # (with the frame's first bytes)
                    yield self._count(fault)
                    continue
                if segments is None and (more or sequence):  # the first message in segments
                    from han.framing.segments import Reassembly
                    segments = self.segments = Reassembly(_MAX_MESSAGE)
                if segments is None:
                    message = view[start:end]  # one frame, one message
                else:
                    lost = segments.follow(buf, at, start, end, more, sequence)
                    if lost:
                        yield self._count(lost)
                    message = segments.add(NAMES[fmt], view[start:end], more, sequence)
                    if segments.lost:
                        yield self._count(segments.lost)
                        segments.lost = None
                if message is not None:
                    result = self._message(message, NAMES[fmt])
                    if self.blocks is not None and self.blocks.lost:
                        yield self._count(self.blocks.lost)
                        self.blocks.lost = None
                    if result is not None:
                        yield self._count(result)
            except MemoryError:  # no room for this frame's steps: it is lost, the frames after it
                yield MemoryError  # in the chunk are not (the scanner goes on); the class: no room needed

    def _message(self, view, layer):
        """Peel LLC, GBT and ciphering: a Reading, an Error, or None while GBT blocks are missing.
        `layer` names the link it came in (a han.framing format's name, or what a caller without
        link framing calls it).

        A message from a link without checksum (a bare ciphered frame) is trusted only when its
        authentication tag or its inner telegram's CRC proves it intact.
        """
        layers = [layer]
        title = None     # system title, once deciphered
        verified = None  # None: not ciphered; else whether the authentication tag was checked
        try:
            plain = view
            if len(view) >= 3 and view[0] == 0xE6 and view[1] | 1 == 0xE7 and view[2] == 0x00:
                plain = view[3:]  # the LLC header E6 E6|E7 00 (a command or a response)
                layers.append("llc")
            if self.trace:
                self.trace("apdu", plain)
            for _ in range(_MAX_LAYERS):
                if not len(plain):
                    raise Error("malformed", _EMPTY)
                tag = plain[0]
                if tag == _GENERAL_BLOCK_TRANSFER:
                    layers.append("gbt")
                    if self.blocks is None:
                        from han.gbt import BlockTransfer
                        self.blocks = BlockTransfer(_MAX_MESSAGE)
                    plain = self.blocks.add(plain)
                    if plain is None:
                        return None
                elif tag == _GENERAL_GLO_CIPHERING or tag == _GENERAL_DED_CIPHERING:
                    layers.append("glo-ciphering" if tag == _GENERAL_GLO_CIPHERING else "ded-ciphering")
                    from han.keys import decipher
                    plain, title, verified = decipher(plain, self.keys)
                    if self.trace:
                        self.trace("plaintext", plain)
                elif tag == _DSMR_START:
                    from han.p1 import peel  # only P1 meters pay for telegrams
                    found = peel(plain, verified, layers, self.keys)
                    if not isinstance(found, tuple):
                        return found  # the telegram's Reading
                    plain, title, verified = found  # Elgama's ciphered APDU, deciphered
                elif tag == _DATA_NOTIFICATION or tag == 0x01 or tag == 0x02:
                    layers.append("data-notification" if tag == _DATA_NOTIFICATION else "data")
                    if layer == "ciphered" and not verified:
                        raise Error("auth", _UNTRUSTED)
                    try:
                        header_time, body = parse(plain, tag == _DATA_NOTIFICATION, self.meter)
                    except Error as fault:
                        if verified is False:
                            raise Error("decrypt", (_NOT_PARSED, fault.detail))
                        raise
                    reading = build_reading(body, header_time, title, self.hint, self.meter)
                    reading.layers = layers
                    return reading
                elif verified is False:
                    raise Error("decrypt", (_NOT_DLMS, tag))
                else:
                    raise Error("unknown", (_NOT_NOTIFICATION, tag))
            raise Error("malformed", (_NESTED, _MAX_LAYERS))
        except Error as fault:
            fault.data = bytes(view[:_EXCERPT])
            return fault

