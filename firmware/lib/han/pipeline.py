"""The decoding pipeline: bytes in, readings and errors out.

    bytes -> Scanner (HDLC, M-Bus frames; noise) -> Reassembly (link segments)
          -> LLC -> GBT -> ciphering -> data-notification -> Reading

Pure and bounded: the buffers are allocated once here; nothing does I/O. `feed` and `flush`
are generators: each yields the Readings and Errors the new bytes complete.
"""
from han import cosem
from han.errors import Error, Fault, AUTH, DECRYPT, MALFORMED, TRUNCATED, UNKNOWN
from han.framing import cipher, dsmr, hdlc, mbus
from han.framing.scanner import Frame, Scanner
from han.framing.segments import Reassembly

FORMATS = (hdlc, mbus, dsmr, cipher)
GENERAL_BLOCK_TRANSFER = 0xE0
GENERAL_GLO_CIPHERING = 0xDB
GENERAL_DED_CIPHERING = 0xDF
DSMR_START = 0x2F  # "/": a P1 telegram (plain, or the plaintext of an encrypted one)
MAX_MESSAGE = 2048  # largest reassembled APDU (segments or GBT blocks)
MAX_LAYERS = 6      # GBT, ciphering, GBT inside ciphering ...: no real meter nests deeper


class Counters:
    """What the pipeline has seen; the diagnosis and the status page read these."""

    def __init__(self):
        self.bytes = 0
        self.frames = 0
        self.readings = 0
        self.errors = {}  # error code -> count
        self.noise_bytes = 0
        self.last_error = None

    def error(self, error):
        self.errors[error.code] = self.errors.get(error.code, 0) + 1
        if error.code == "noise":
            self.noise_bytes += getattr(error, "size", 0)
        self.last_error = error


class Pipeline:
    def __init__(self, keys=None, hint=None, trace=None, formats=FORMATS, max_message=MAX_MESSAGE):
        self.keys = keys
        self.hint = hint
        self.trace = trace  # trace(layer name, bytes view) for debug dumps, or None
        self.scanner = Scanner(formats)
        self.segments = Reassembly(max_message)
        self.max_message = max_message
        self.blocks = None  # GBT reassembly, made for the meters that use it (L&G)
        self.segment_sender = None  # addresses and control byte of a pending HDLC chain
        self.counters = Counters()

    def feed(self, data):
        """Bytes as they arrive from the meter, in chunks of any size."""
        self.counters.bytes += len(data)
        for event in self.scanner.feed(data):
            yield from self._event(event)

    def flush(self):
        """The input ended or the line went idle: decide what is still buffered."""
        for event in self.scanner.flush():
            yield from self._event(event)
        if self.segments.active:
            self.segments.abandon("")
            yield self._count(Error(TRUNCATED, "input ended before the last segment of a message"))
        if self.blocks is not None and self.blocks.abandon():
            yield self._count(Error(TRUNCATED, "input ended before the last GBT block"))

    def decode_message(self, data, layer="message"):
        """One message without framing (starts at the LLC header or the APDU tag)."""
        view = memoryview(bytearray(data))  # decryption works in place
        self.counters.bytes += len(view)
        yield from self._message(view, layer)

    def _count(self, error):
        self.counters.error(error)
        return error

    def _event(self, event):
        if isinstance(event, Frame):
            yield from self._frame(event)
            return
        yield self._count(event)
        if self.segments.active and self._lost_a_segment(event):
            yield self._count(self.segments.abandon("a segment was lost to a damaged frame"))

    def _lost_a_segment(self, error):
        """Was the rejected frame part of the pending message? (Only asked for HDLC segments,
        which carry no numbers; M-Bus segments are numbered and checked as they come.)

        It was if it is a frame of the same link carrying the addresses and control byte of
        the message's first segment, allowing one flipped bit among them: a false start from
        noise does not, a damaged segment does.
        """
        sender = self.segment_sender
        if sender is None or getattr(error, "format", None) != self.segments.owner:
            return False
        data = error.data
        if data is None or len(data) < 3 + len(sender):
            return False
        differing = 0
        for i in range(len(sender)):
            x = data[3 + i] ^ sender[i]
            while x:
                differing += x & 1
                x >>= 1
        return differing <= 1

    def _frame(self, frame):
        self.counters.frames += 1
        fmt = frame.format
        buf = frame.buf
        view = memoryview(buf)
        if self.trace:
            self.trace(fmt.NAME, view[frame.start:frame.start + frame.size])
        try:
            start, end, more, sequence = fmt.payload(buf, frame.start, frame.size)
        except Fault as fault:
            yield self._count(Error(fault.code, fault.detail, view[frame.start:frame.start + frame.size]))
            return
        if self.segments.active and sequence is None and _starts_llc(buf, start, end):
            # Unnumbered (HDLC) segments: only a message's first frame starts with the LLC header,
            # so the pending message lost its last segment (damaged beyond recognition).
            yield self._count(self.segments.abandon("a new message began before the last segment"))
        if more and not self.segments.active:  # a chain begins: remember who sends it
            self.segment_sender = bytes(view[frame.start + 3:start - 2]) if sequence is None else None
        message = self.segments.add(fmt.NAME, view[start:end], more, sequence)
        if self.segments.lost:
            yield self._count(self.segments.lost)
            self.segments.lost = None
        if message is not None:
            yield from self._message(message, fmt.NAME, fmt.CHECKED)

    def _message(self, view, layer, checked=True):
        layers = [layer]
        try:
            reading = self._unwrap(view, layers, checked)
        except Fault as fault:
            reading = Error(fault.code, fault.detail, view)
        if self.blocks is not None and self.blocks.lost:
            yield self._count(self.blocks.lost)
            self.blocks.lost = None
        if isinstance(reading, Error):
            yield self._count(reading)
        elif reading is not None:
            self.counters.readings += 1
            yield reading

    def _unwrap(self, view, layers, checked=True):
        """Peel LLC, GBT and ciphering; returns a Reading, or None while GBT blocks are missing.

        A message from a link without checksum (`checked` False) is trusted only when its
        authentication tag or its inner telegram's CRC proves it intact.
        """
        plain = view
        if _starts_llc(view, 0, len(view)):
            plain = view[3:]
            layers.append("llc")
        if self.trace:
            self.trace("apdu", plain)
        ciphered = None
        for _ in range(MAX_LAYERS):
            if not len(plain):
                raise Fault(MALFORMED, "empty APDU")
            tag = plain[0]
            if tag == GENERAL_BLOCK_TRANSFER:
                layers.append("gbt")
                if self.blocks is None:
                    from han.gbt import BlockTransfer
                    self.blocks = BlockTransfer(self.max_message)
                plain = self.blocks.add(plain)
                if plain is None:
                    return None
            elif tag == GENERAL_GLO_CIPHERING or tag == GENERAL_DED_CIPHERING:
                layers.append("glo-ciphering" if tag == GENERAL_GLO_CIPHERING else "ded-ciphering")
                from han.ciphering import Ciphered, decipher
                ciphered = Ciphered()
                plain = decipher(plain, self.keys, ciphered)
                if self.trace:
                    self.trace("plaintext", plain)
            elif tag == DSMR_START:
                from han import p1  # only P1 meters pay for telegrams
                body = p1.binary_body(plain)
                if body >= 0:  # Elgama: a P1 header, then a ciphered APDU without its tag byte
                    layers.append("dsmr-header")
                    layers.append("glo-ciphering")
                    from han.ciphering import Ciphered, decipher
                    ciphered = Ciphered()
                    plain = decipher(plain[body - 1:p1.closing_mark(plain)], self.keys, ciphered)
                    continue
                return p1.reading(plain, ciphered, layers)
            elif tag == cosem.DATA_NOTIFICATION or tag in (0x01, 0x02):
                layers.append("data-notification" if tag == cosem.DATA_NOTIFICATION else "data")
                if not checked and (ciphered is None or not ciphered.verified):
                    raise Fault(AUTH, "a ciphered frame sent without checksum cannot be trusted unless "
                                      "its tag is verified: configure the authentication key (GAK, GPK61)")
                return self._reading(plain, tag, ciphered, layers)
            elif ciphered is not None and not ciphered.verified:
                raise Fault(DECRYPT, "wrong encryption key (GUEK, GPK60): the decrypted data is not "
                                     "DLMS (starts 0x%02X)" % tag)
            else:
                raise Fault(UNKNOWN, "APDU tag 0x%02X is not a data-notification" % tag)
        raise Fault(MALFORMED, "more than %d nested layers" % MAX_LAYERS)

    def _reading(self, plain, tag, ciphered, layers):
        try:
            if tag == cosem.DATA_NOTIFICATION:
                header_time, body = cosem.parse_notification(plain)
            else:
                header_time, body = None, cosem.parse_body(plain)
        except Fault as fault:
            if ciphered is not None and not ciphered.verified:
                raise Fault(DECRYPT, "wrong encryption key (GUEK, GPK60): the decrypted data does "
                                     "not parse (%s)" % fault.detail)
            raise
        reading = cosem.build_reading(body, header_time, ciphered.system_title if ciphered else None,
                                      self.hint)
        reading.layers = layers
        return reading


def _starts_llc(buf, start, end):
    return end - start >= 3 and buf[start] == 0xE6 and buf[start + 2] == 0x00 and buf[start + 1] in (0xE6, 0xE7)
