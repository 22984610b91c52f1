"""Decode meter data: raw captures or telnet hex dumps in, one JSON line per telegram out.

    decode.py [--key HEX32] [--auth-key HEX32] [--hex] [FILE]      (FILE or stdin)

Runs under CPython and MicroPython with identical output. Exit 0 when the input was read,
whatever was rejected; 2 for bad arguments (e.g. a key that is not 32 hex digits).
"""
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../firmware/lib")

from han.apdu import Keys  # noqa: E402
from han.framing import wrapper  # noqa: E402
from han.pipeline import Pipeline  # noqa: E402
from han import report  # noqa: E402

USAGE = "usage: decode.py [--key HEX32] [--auth-key HEX32] [--hex] [FILE]"
MESSAGE_STARTS = (0x0F, 0xDB, 0xDF, 0xE0, 0x01, 0x02)  # an APDU without link framing
CHUNK = 4096
HEX_DIGITS = "0123456789abcdefABCDEF"


class UsageError(Exception):
    pass


def parse_key(text, name):
    cleaned = text.strip()
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    for sep in (" ", ":", "-"):
        cleaned = cleaned.replace(sep, "")
    if len(cleaned) != 32 or any(c not in HEX_DIGITS for c in cleaned):
        raise UsageError("%s must be 32 hex digits (16 bytes), got %d characters: %r"
                         % (name, len(cleaned), text))
    return bytes.fromhex(cleaned)


def parse_args(argv):
    options = {"key": None, "auth": None, "hex": False, "file": None}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--key", "--auth-key"):
            if i + 1 >= len(argv):
                raise UsageError(arg + " needs a value")
            name = "key" if arg == "--key" else "auth"
            options[name] = parse_key(argv[i + 1], arg)
            i += 2
            continue
        if arg == "--hex":
            options["hex"] = True
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


def read_input(path):
    if path is None or path == "-":
        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
        return stream.read()
    with open(path, "rb") as f:
        return f.read()


def is_bare_message(data):
    if data[:3] in (b"\xe6\xe7\x00", b"\xe6\xe6\x00"):
        return True
    return len(data) > 0 and data[0] in MESSAGE_STARTS


def render(event):
    """One JSON line for a Reading or an Error."""
    return report.error(event) if hasattr(event, "code") else report.reading(event)


def decode(data, keys, out):
    pipeline = Pipeline(keys)
    wrapped = wrapper.payload(data)
    if wrapped is not None:
        for event in pipeline.decode_message(wrapped, "wrapper"):
            out(event)
        return pipeline
    if is_bare_message(data):
        for event in pipeline.decode_message(data):
            out(event)
        return pipeline
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        for event in pipeline.feed(view[start:start + CHUNK]):
            out(event)
    for event in pipeline.flush():
        out(event)
    return pipeline


def main(argv):
    try:
        options = parse_args(argv)
    except UsageError as e:
        sys.stderr.write("decode.py: %s\n" % e.args[0])
        return 2
    try:
        data = read_input(options["file"])
    except OSError as e:
        sys.stderr.write("decode.py: cannot read %s: %s\n" % (options["file"], e))
        return 2
    if options["hex"]:
        data = hex_tokens(data.decode() if isinstance(data, bytes) else data)
    elif isinstance(data, str):
        data = data.encode()
    keys = Keys(options["key"], options["auth"]) if options["key"] or options["auth"] else None
    stdout = sys.stdout
    decode(data, keys, lambda event: stdout.write(render(event) + "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
