"""The hex dumps of log level V: the bytes of every layer of a frame (app/meter.py's trace, while
`dump` is on in telnet) and those of unknown data, 16 a line as the peer firmware prints them.
Loaded for a dump and unloaded after: at the other levels none of this takes heap."""
from binascii import hexlify

try:
    from micropython import const
except ImportError:
    const = lambda value: value  # CPython: the value itself

# What the log calls each layer's bytes, as ",layer:title" (one string: a dict takes more heap)
_TITLES = const(",hdlc:HDLC frame:,mbus:M-Bus frame:,dsmr:P1 telegram:,ciphered:Ciphered frame:"
                ",apdu:APDU:,plaintext:Decrypted APDU:,")


def dump_layer(log, layer, data):
    """The bytes of the pipeline's `layer` ("hdlc", "apdu" ...) under the title the log gives them."""
    at = _TITLES.find("," + layer + ":")
    dump(log, _TITLES[at + len(layer) + 2:_TITLES.find(",", at + 1)] if at >= 0 else layer + ":", data)


def dump(log, title, data):
    """`title`, then the bytes, 16 a line, at level V (app.log.Log)."""
    log.write("V", title)
    view = memoryview(data)
    for start in range(0, len(data), 16):
        log.write("V", hexlify(view[start:start + 16], " ").decode().upper())
