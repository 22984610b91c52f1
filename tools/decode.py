"""Decode meter data: raw captures or telnet hex dumps in, one JSON line per telegram out.

    decode.py [--key HEX32] [--auth-key HEX32] [--hex] [FILE]      (FILE or stdin)
    decode.py --diagnose [...]    one line {"diagnosis": code, "detail": sentence} instead

Runs under CPython and MicroPython with identical output. Exit 0 when the input was read,
whatever was rejected; 2 for bad arguments (e.g. a key that is not 32 hex digits).
"""
import sys

try:  # a precompiled library on the path wins (MICROPYPATH=build/host: small heaps, like the board)
    import han  # noqa: F401
except ImportError:
    sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../firmware/lib")

import han.pipeline  # noqa: E402,F401  (the largest import first, while the heap is empty)
from han.key_text import HEX_DIGITS, parse_key  # noqa: E402
from han.keys import cipher  # noqa: E402

USAGE = "usage: decode.py [--key HEX32] [--auth-key HEX32] [--hex] [--diagnose] [FILE]"
MESSAGE_STARTS = (0x0F, 0xDB, 0xDF, 0xE0, 0x01, 0x02)  # an APDU without link framing
CHUNK = 512
MESSAGE_PEEK = 8  # enough to recognise an LLC header, an APDU tag or a DLMS wrapper header


class UsageError(Exception):
    pass


def parse_args(argv):
    options = {"key": None, "auth": None, "hex": False, "diagnose": False, "file": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--key", "--auth-key"):
            if i + 1 >= len(argv):
                raise UsageError(arg + " needs a value")
            name = "key" if arg == "--key" else "auth"
            try:
                options[name] = parse_key(argv[i + 1], arg)
            except ValueError as e:
                raise UsageError(e.args[0])
            i += 2
            continue
        if arg == "--hex":
            options["hex"] = True
        elif arg == "--diagnose":
            options["diagnose"] = True
        elif arg in ("-h", "--help"):
            raise UsageError(USAGE)
        elif arg.startswith("-") and arg != "-":
            raise UsageError("unknown option " + arg)
        elif options["file"] is None:
            options["file"] = arg
        else:
            raise UsageError("only one input file")
        i += 1
    return options


def hex_tokens(text):
    """Every whitespace-separated two-hex-digit token is a byte; everything else is ignored."""
    out = bytearray()
    for token in text.split():
        if len(token) == 2 and token[0] in HEX_DIGITS and token[1] in HEX_DIGITS:
            out.append(int(token, 16))
    return bytes(out)


def open_input(path):
    if path is None or path == "-":
        return sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    return open(path, "rb")


def chunks(stream):
    """The input in bounded chunks (a capture may be larger than the heap)."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = stream.readinto(buf)
        if not n:
            return
        yield view[:n]


def hex_chunks(stream):
    """Bytes from a text hex dump, chunk by chunk; a token cut by a chunk edge is carried over."""
    carry = b""
    for chunk in chunks(stream):
        text = carry + bytes(chunk)
        cut = len(text)
        while cut and text[cut - 1] not in b" \t\r\n":
            cut -= 1
        carry = text[cut:]
        yield hex_tokens(text[:cut].decode())
    if carry:
        yield hex_tokens(carry.decode())


def is_bare_message(data):
    if data[:3] in (b"\xe6\xe7\x00", b"\xe6\xe6\x00"):
        return True
    return len(data) > 0 and data[0] in MESSAGE_STARTS


def write_reading(r, write):
    """A reading as JSON, written in small pieces (no long string is built)."""
    from han.report import string, value
    from han.text import iso, obis_text
    time = iso(r.time) if r.time is not None else None
    write('{"time": ')
    write(string(time) if time else "null")
    write(', "obis": {')
    first = True
    for i in range(len(r.values)):
        code = r.codes[6 * i:6 * i + 6]
        write('"%s": ' % obis_text(code) if first else ', "%s": ' % obis_text(code))
        write(value(r.values[i]))
        first = False
    write("}")
    first = True
    for key, v in (("manufacturer", r.manufacturer), ("model", r.model), ("id", r.meter_id),
                   ("list", r.list_id), ("system_title", r.system_title and bytes(r.system_title).hex())):
        if v:
            write(', "meter": {' if first else ", ")
            write('"%s": %s' % (key, string(v)))
            first = False
    if not first:
        write("}")
    write(', "layers": [')
    write(", ".join(string(x) for x in r.layers))
    write("]}")


def write_error(e, write):
    from han.report import string
    write('{"error": %s, "detail": %s' % (string(e.code), string(e.detail)))
    if e.data:
        write(', "hex": "%s"' % bytes(e.data).hex())
    write("}")


def write_event(event, write):
    """One JSON line for a Reading or an Error, written in pieces."""
    if hasattr(event, "code"):
        write_error(event, write)
    else:
        write_reading(event, write)
    write("\n")


def render(event):
    """The JSON of a Reading or an Error, as one string (without the line end)."""
    parts = []
    (write_error if hasattr(event, "code") else write_reading)(event, parts.append)
    return "".join(parts)


def decode_stream(pieces, keys, out):
    """Decode an input given as an iterator of byte chunks; `out` gets every event."""
    from han import report  # noqa: F401  (imported before the pipeline's buffers, not after)
    from han.framing import wrapper
    from han.pipeline import Pipeline
    pipeline = Pipeline(keys)
    first = b""
    for piece in pieces:
        if not first and piece:
            first = bytes(piece[:MESSAGE_PEEK])
            if wrapper.starts(first) or is_bare_message(first):
                # A message without link framing has no length of its own: take it whole.
                whole = bytearray(piece)
                for more in pieces:
                    whole += more
                data = wrapper.payload(whole)
                layer = "wrapper" if data is not None else "message"
                for event in wrapper.decode_message(pipeline, whole if data is None else data, layer):
                    out(event)
                return pipeline
        for event in pipeline.feed(piece):
            out(event)
    for event in pipeline.flush():
        out(event)
    return pipeline


def decode(data, keys, out):
    """Decode bytes already in memory (tests, tools)."""
    return decode_stream(iter((memoryview(data)[i:i + CHUNK] for i in range(0, len(data), CHUNK))),
                         keys, out)


def tapped(pieces, diagnosis):
    """The chunks unchanged; the diagnosis sees each one first."""
    for piece in pieces:
        diagnosis.observe_bytes(len(piece), piece)
        yield piece


def diagnose(pieces, keys, write):
    """Decode the whole input, then write one line: the diagnosis of everything it held."""
    from han.diagnosis import Diagnosis
    from han.report import string
    diagnosis = Diagnosis(window=1 << 29)  # the whole input is the window
    decode_stream(tapped(pieces, diagnosis), keys, diagnosis.observe)
    code, sentence = diagnosis.verdict()
    write('{"diagnosis": %s, "detail": %s}\n' % (string(code), string(sentence)))


def main(argv):
    try:
        options = parse_args(argv)
    except UsageError as e:
        sys.stderr.write("decode.py: %s\n" % e.args[0])
        return 2
    try:
        stream = open_input(options["file"])
    except OSError as e:
        sys.stderr.write("decode.py: cannot read %s: %s\n" % (options["file"], e))
        return 2
    if options["diagnose"]:
        import han.diagnosis  # noqa: F401  (before the key's tables take their block)
    keys = cipher(options["key"], options["auth"])
    stdout = sys.stdout
    pieces = hex_chunks(stream) if options["hex"] else chunks(stream)
    if options["diagnose"]:
        diagnose(pieces, keys, stdout.write)
        return 0
    decode_stream(pieces, keys, lambda event: write_event(event, stdout.write))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
