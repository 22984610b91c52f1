"""The words of the request head's refusals, http.HttpError(n), and the turning away of a
connection no slot came for (busy): loaded only to answer one (and unloaded with routes.py's
modules, or by server.py once no connection is open), so that none of this text comes with the
code every dashboard poll loads."""
import asyncio

from app.web.http import BUFFER, DISCARD_MS

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_BUSY = const(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
              b"Content-Type: text/plain\r\n\r\nBusy: too many connections; try again.\n")

# Status line and sentence of each, in the order of http.py's refusal consts.
REFUSED = (("414 URI Too Long", "the request line is too long"),
           ("400 Bad Request", "not an HTTP/1.x request"),
           ("431 Request Header Fields Too Large", "the request head is too long"),
           ("431 Request Header Fields Too Large", "too many header lines"),
           ("400 Bad Request", "Content-Length is not a size"),
           ("501 Not Implemented", "chunked request bodies are not accepted"))


async def busy(stream):
    """Turn a connection away: no slot came for it in time (server.py). The socket takes what it
    can of the 503 now (nobody waits for it); what the client sent is taken in, as http.exchange
    does (TimeoutError if nothing came)."""
    stream.write(_BUSY)
    await asyncio.wait_for_ms(stream.read(BUFFER), DISCARD_MS)
