"""A refused request's answer (http.HttpError: the request head's refusals and a page the firmware
lacks, their words here, and the routes' own), the turning away of a connection no slot came for (busy), and the taking in of
what a client sent and was not read before its connection closes (discard): loaded only for one
of those (and unloaded with routes.py's modules, or by server.py once no connection is open), so
that none of this comes with the code every dashboard poll loads."""
import asyncio
import time

from app.web.http import BUFFER

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_DISCARD_MAX = const(8192)  # unread request bytes taken in before closing (discard)
_DISCARD_MS = const(500)  # and for this long at most
_QUEUE_MS = const(3000)  # how long a connection waits for a slot (slot_freed)
_SPARE_MS = const(1000)  # a real client sends its request at once; a browser's spare connection waits
_BUSY = const(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
              b"Content-Type: text/plain\r\n\r\nBusy: too many connections; try again.\n")

# Status line and sentence of each, in the order of http.py's refusal consts, then pages.py's.
REFUSED = (("414 URI Too Long", "the request line is too long"),
           ("400 Bad Request", "not an HTTP/1.x request"),
           ("431 Request Header Fields Too Large", "the request head is too long"),
           ("431 Request Header Fields Too Large", "too many header lines"),
           ("400 Bad Request", "Content-Length is not a size"),
           ("501 Not Implemented", "chunked request bodies are not accepted"),
           ("404 Not Found", "%s is missing from the firmware"))


async def slot_freed(web, limit, waiting):
    """Whether a new connection may take a slot, every one of the `limit` being taken (server.py):
    a spare connection's (nothing sent for _SPARE_MS: it is ended), or one freed within _QUEUE_MS
    (at most `waiting` connections wait; web.waiting counts them)."""
    now = time.ticks_ms()
    for other in web.slots:
        if other.fresh and time.ticks_diff(now, other.since) >= _SPARE_MS:
            other.task.cancel()  # its finally gives the slot up
            await asyncio.sleep_ms(0)
            break
    if len(web.slots) < limit:
        return True
    if web.waiting >= waiting:
        return False
    web.waiting += 1
    try:
        for _ in range(_QUEUE_MS // 50):
            await asyncio.sleep_ms(50)
            if len(web.slots) < limit:
                return True
    finally:
        web.waiting -= 1
    return False


async def busy(stream):
    """Turn a connection away: no slot came for it in time (server.py). The socket takes what it
    can of the 503 now (nobody waits for it); what the client sent is taken in, as http.exchange
    does (TimeoutError if nothing came)."""
    stream.write(_BUSY)
    await asyncio.wait_for_ms(stream.read(BUFFER), _DISCARD_MS)


async def refuse(web, request, stream, refused):
    """Answer a request http.exchange refused (HttpError's args) with routes.py's error answer. A
    MemoryError (no room for routes.py or the answer) is exchange's to answer: the constant 503."""
    if not request.rare:  # its answer is routes.py's: counted, to be unloaded after it
        request.rare = True
        web.rare += 1
    if isinstance(refused[0], int):  # the request head's own, or pages.py's (with the file's name)
        status, sentence = REFUSED[refused[0]]
        refused = status, sentence % refused[1:]
    from app.web.routes import Reply
    out = Reply(stream, request.buf)
    out.error(*refused)
    await out.flush()


async def discard(request, stream):
    """Take in (a bounded amount of) what the client still sends, for _DISCARD_MS at most: closing
    a socket with unread bytes resets the connection, and the client would lose the answer."""
    try:
        await asyncio.wait_for_ms(_take_in(request, stream), _DISCARD_MS)
    except asyncio.TimeoutError:
        pass


async def _take_in(request, stream):
    for _ in range(_DISCARD_MAX // BUFFER):
        got = await stream.readinto(request.buf)
        if got == 0:
            return
