"""Reading a request and answering the dashboard: the request head, the routes.

Loaded by server.py for a request and unloaded once no connection is open (server.LINGER_MS):
between a page's polls the device holds none of this code. See server.py for the limits. What
the pages poll is answered with this code and api.py or history.py (the dashboard: /api/data,
/api/history) or status.py (the status page: /api/status); the rest is loaded for its request
and unloaded after it: pages.py (a browser's GET of a page or its file: a page load loads that
and this code alone), routes.py (status lines and error answers, the headers those requests
need, the config page's login, captive-portal redirects, safe mode), refusals.py (a refused
request's answer, the unread rest of a request taken in before closing), admin.py. A poll
loads this code and api.py, history.py or status.py into whatever room a scattered heap has:
their functions are kept small, none needing a piece of more than 448 bytes
(tests/test_web_heap.py scatters the heap into such pieces).

A connection's buffer (its Request's) holds the request head, read in place: a header line becomes a
string only when a route uses it (a browser sends a dozen others, a kilobyte of text), and its
name is compared where it lies. A header line longer than the buffer is skipped; a longer
request line is refused. Then the buffer holds the response on its way out: responses are
written in pieces as they are made (Out), files BUFFER bytes at a time, JSON item by item.
  * the request head must be complete within _HEAD_TIMEOUT_MS and the client must have taken the
    whole answer within _ANSWER_TIMEOUT_MS: deadlines of the connection's Request, which server.py
    watches (a body must come in time too: admin.py; unread bytes are taken in for a while at
    most: refusals.discard).
Limits: _HEAD_MAX bytes of head, _MAX_HEADERS lines; bodies are limited by the route (admin.py).
"""
import sys
import time

from app import unload

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# A connection's buffer (Request.buf): a scattered heap has few free pieces larger than this (in
# 112K with everything on, a 512-byte buffer found none for a poll in 1 run of 3; this one did in
# 2 runs of 3). The lines a route keeps (Host, Cookie, If-None-Match...) are far shorter; longer
# ones (a browser's Accept or User-Agent) are skipped.
BUFFER = const(256)
_HEAD_MAX = const(4096)
_MAX_HEADERS = const(40)
_HEAD_TIMEOUT_MS = const(5000)
_ANSWER_TIMEOUT_MS = const(15000)
_ROOM_TRIES = const(10)  # an answer that finds no room tries again this often (_answer_in_room)
_ROOM_WAIT_MS = const(100)
FLUSH_AT = const(192)  # JSON writers hand the buffer to the socket past this many bytes
COOKIE = "hanreader"
JSON = "application/json"
# The head of every poll's answer (api.py, history.py, status.py): what routes.Reply.start("200 OK",
# JSON, "Cache-Control: no-store\r\n") puts, as one piece; pages.py sends its first lines too.
OK_JSON = b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n" \
          b"Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n"
# Bytes looked for as ints: a bytes constant is an object made at every load of this module.
_LF = const(0x0A)
_COLON = const(0x3A)
_SP = const(0x20)
_TAB = const(0x09)
# The header names every request is read for, in one bytes constant rather than three, sliced
# where a name of the same length comes (see _header): content-length, transfer-encoding, host.
_NAMES = const(b"content-length transfer-encoding host")
# Request.rare: what answers a request that is not a poll (loaded for it and unloaded after it).
_PAGE = const(1)    # pages.py: a browser's GET of a page or its file
_ROUTES = const(2)  # routes.py: the rest
# The code a poll loads (the server unloads it, and han.text, once no connection is open)
_POLL_CODE = const(("app.web.api", "app.web.history", "app.web.status"))
# The request head's refusals, HttpError(n): their words are refusals.REFUSED[n], loaded only
# to answer one (every poll loads this module: none of that text). (6: pages.py's.)
_LINE_TOO_LONG = const(0)
_NOT_HTTP = const(1)
_HEAD_TOO_LONG = const(2)
_TOO_MANY_LINES = const(3)
_BAD_LENGTH = const(4)
_CHUNKED = const(5)


class HttpError(Exception):
    """A request refused: HttpError(status line, sentence), or HttpError(n[, name]), one of the
    request head's refusals above or a page the firmware lacks (refusals.py has their words)."""


class Request:
    """One connection and the request it carries (each answer closes its connection), made as
    server.py lets the connection in and let go as it ends: the buffer the head is read into and
    the answer written from, where it is in it, the deadline server.py watches; then the request
    line and the headers the routes use, filled in by head(). What did not come keeps the default
    below, a class attribute: an instance holds only what was sent."""
    method = None      # None until the request line has come
    path = ""
    query = ""
    length = 0         # Content-Length
    read = 0           # body bytes read so far
    rare = 0           # a dashboard's poll; else _PAGE or _ROUTES: pages.py or routes.py answers it
    expired = False    # the watcher ended the connection: it was too slow
    host = ""          # the one header a poll keeps (routes.keep, pages.keep: what they need)

    def __init__(self, task, now):
        self.buf = bytearray(BUFFER)
        self.view = memoryview(self.buf)  # slices of a memoryview share the buffer: no copy
        self.task = task      # the connection's task
        self.fresh = True     # nothing received yet (a browser's spare connection)
        self.since = self.deadline = now  # ticks_ms when it came; exchange sets the real deadline
        self.start = 0        # unread bytes are buf[start:end]
        self.end = 0


async def head(request, stream, web):
    """Fill in `request` (a Request) from the request line and the headers; HttpError when they
    are not acceptable. Lines are taken where they lie in the request's buffer; what follows the
    head (a body's start) stays there, at request.buf[request.start:request.end]."""
    buf = request.buf
    keep = None       # routes.header or pages.header for their requests: what they need of a header
    size = 0          # bytes of head so far, line ends included
    lines = 0         # header lines so far
    skipping = False  # in a line longer than the buffer: dropped as it comes
    while True:
        at = buf.find(_LF, request.start, request.end)
        if at < 0 and (skipping or request.end - request.start < len(buf)):  # no whole line yet
            if skipping:  # a long line's bytes are counted as they are dropped
                size += request.end - request.start
                request.start = request.end = 0
            elif request.start:  # the start of a line goes to the front, to make room for the rest
                request.end -= request.start
                buf[:request.end] = request.view[request.start:request.start + request.end]
                request.start = 0
            got = await stream.readinto(request.view[request.end:])
            if got is None:
                continue
            if not got:
                raise EOFError
            request.fresh = False
            request.end += got
            continue
        start = request.start
        if at < 0:  # a line longer than the buffer: counted, and dropped up to its end
            skipping = True
            end = -1
        else:
            request.start = at + 1
            if skipping:  # the end of a long line
                skipping = False
                size += at + 1 - start
                if size > _HEAD_MAX:
                    raise HttpError(_HEAD_TOO_LONG)
                continue
            end = at - 1 if at > start and buf[at - 1] == 13 else at  # without CR LF
        if request.method is None:
            keep = _request_line(request, start, end, web)
            size = end - start
        elif end == start:
            return
        else:
            lines += 1
            if end >= 0:  # (a long line is counted as it is dropped)
                size += end - start + 2
            if size > _HEAD_MAX or lines >= _MAX_HEADERS:
                raise HttpError(_HEAD_TOO_LONG if size > _HEAD_MAX else _TOO_MANY_LINES)
            if end >= 0:
                _header(request, start, end, keep)


def _request_line(request, start, end, web):
    """The request line, b"GET /path?query HTTP/1.1" at request.buf[start:end] (end -1: longer than
    the buffer), into `request` (method, path, query, rare; HttpError when it is not one): None for a
    poll, else the header function of pages.py or routes.py, which answers it (see head). (One
    function: it is read once a request.)"""
    if end < 0:
        raise HttpError(_LINE_TOO_LONG)
    try:  # (as text: its short constants are interned names, where bytes would be objects)
        parts = str(request.view[start:end], "utf-8").split(" ")
    except UnicodeError:
        raise HttpError(_NOT_HTTP)
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(_NOT_HTTP)
    method, target, _ = parts
    if target.startswith("http://"):  # an absolute target (http://host/path, as proxies send): its path
        at = target.find("/", 7)
        target = target[at:] if at > 0 else "/"
    if not method or not target.startswith("/"):
        raise HttpError(_NOT_HTTP)
    request.method = method
    path, _, request.query = target.partition("?")
    request.path = path
    get = method == "GET" and not web.app.safe_mode
    # (The names of the polls' modules, already interned: a tuple of longer paths would hold
    # string objects made at every load of this module. The pages' paths are compared one by
    # one for that reason too: /config, which asks for a login, is routes.py's.)
    if get and path.startswith("/api/") and path[5:] in ("data", "history", "status"):
        return None
    web.rare += 1  # counted until exchange is done with it
    if get and (path == "/" or path == "/status" or path == "/login" or path == "/app.css" or path == "/app.js"):
        request.rare = _PAGE
        from app.web.pages import keep
    else:
        request.rare = _ROUTES
        from app.web.routes import keep
    return keep(request)


def _header(request, start, end, keep):
    """One header line, request.buf[start:end]: its name is lowercased in place and compared where
    it lies, its value found between the spaces; Content-Length and Transfer-Encoding matter to
    every request, and Host; the rest to `keep` (routes.header, pages.header) if there is one
    (while the access point is open, another site's name makes it a captive-portal check)."""
    buf = request.buf
    colon = buf.find(_COLON, start, end)
    if colon < 0:
        return
    for i in range(start, colon):
        if 0x41 <= buf[i] <= 0x5A:  # A-Z
            buf[i] += 0x20
    first = colon + 1
    while first < end and (buf[first] == _SP or buf[first] == _TAB):
        first += 1
    while end > first and (buf[end - 1] == _SP or buf[end - 1] == _TAB):
        end -= 1
    # A name is compared once its length and first letter match: a slice of _NAMES is an object
    # made (Chromium sends three other names of 14 letters, Sec-Fetch-*; If-Modified-Since has 17).
    if colon - start == 14 and buf[start] == 0x63 and buf.startswith(_NAMES[:14], start):  # c
        try:
            request.length = int(str(request.view[first:end], "utf-8"))
        except ValueError:  # UnicodeError is one too
            request.length = -1
        if request.length < 0:
            raise HttpError(_BAD_LENGTH)
    elif colon - start == 17 and buf[start] == 0x74 and buf.startswith(_NAMES[15:32], start):  # t
        raise HttpError(_CHUNKED)
    elif colon - start == 4 and buf.startswith(_NAMES[33:], start):
        try:
            request.host = str(request.view[first:end], "utf-8")
        except UnicodeError:
            pass
    elif keep is not None:
        keep(request, start, colon, first, end)


def foreign_host(host, hostname):
    """Whether a Host header names another site than this device: while the access point is open,
    such a request is a phone's captive-portal check (routes.py redirects it). Ours: none (HTTP/1.0),
    an IPv6 or IPv4 address, localhost, our host name (also in a local domain: NAME.fritz.box)."""
    if not host or host[0] == "[":
        return False
    name = host.rsplit(":", 1)[0].lower()
    hostname = hostname.lower()
    if name == "localhost" or name == hostname or hostname and name.startswith(hostname + "."):
        return False
    for c in name:  # an IPv4 address is digits and dots
        if c != "." and not "0" <= c <= "9":
            return True
    return not name


class Out:
    """A response on its way out: pieces gather in the request's buffer and go to the socket when it
    fills (put) or when the writer can wait (flush). The dashboard's polls put their fixed head
    themselves (api.py), and so do the pages (pages.py); the other answers' status lines and errors
    are routes.Reply's."""

    def __init__(self, stream, buf):
        self.stream = stream
        self.buf = buf
        self.view = memoryview(buf)
        self.n = 0
        self.started = False  # a status line has been put (Reply.start): an error now can only close
        self.sent = False     # bytes have gone to the stream: a failure now can only close

    def put(self, data):
        """Bytes, a str (encoded: constant pieces are best given as bytes), or one byte as an int
        (a bytes constant of one character is an object made at every load of its module)."""
        if isinstance(data, int):
            if self.n == len(self.buf):
                self._send()
            self.buf[self.n] = data
            self.n += 1
            return
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        if self.n + n > len(self.buf):
            self._send()
            if n > len(self.buf):
                self.sent = True
                self.stream.write(data)  # the stream keeps what the socket cannot take yet
                return
        self.buf[self.n:self.n + n] = data
        self.n += n

    def number(self, n):
        """The decimal digits of an int of at most 20 digits, written without making a string (an
        hour of power is 720 numbers)."""
        buf = self.buf
        if self.n + 21 > len(buf):
            self._send()
        if n < 0:
            buf[self.n] = 0x2D  # -
            self.n += 1
            n = -n
        first = self.n
        while True:
            buf[self.n] = 0x30 + n % 10
            self.n += 1
            n //= 10
            if not n:
                break
        last = self.n - 1
        while first < last:  # the digits came least significant first
            buf[first], buf[last] = buf[last], buf[first]
            first += 1
            last -= 1

    def _send(self):
        if self.n:
            self.sent = True
            self.stream.write(self.view[:self.n])  # copied if the socket is full
            self.n = 0

    def flush(self):
        """Send what is gathered; the awaitable that waits until the socket has taken it (a
        plain function rather than a coroutine: one object less a flush)."""
        self._send()
        return self.stream.drain()


async def exchange(web, request, stream):
    """One connection of web (server.Web), its Request: the request, the answer, then what the
    client still sends is taken in before the server closes. The pages' polls are answered by
    api.py, history.py and status.py, the rest by pages.py or routes.py, loaded for them (see head)
    and unloaded once no such request is left; so is a refused request's error answer (routes.Reply)."""
    out = None
    whole = False  # the head has come and been accepted
    request.deadline = time.ticks_add(request.since, _HEAD_TIMEOUT_MS)
    try:
        try:
            try:
                await head(request, stream, web)
                whole = True
                request.deadline = time.ticks_add(time.ticks_ms(), _ANSWER_TIMEOUT_MS)
                app = web.app
                if request.rare != _ROUTES and app.wifi.ap and foreign_host(request.host, app.config["wifi"]["hostname"]):
                    if not request.rare:
                        web.rare += 1
                    request.rare = _ROUTES  # a captive-portal check: routes.py redirects it
                if request.rare == _ROUTES:
                    from app.web.routes import Reply
                    out = Reply(stream, request.buf)
                else:  # a poll or a page (pages.py puts its head itself)
                    out = Out(stream, request.buf)
                await _answer_in_room(web, request, stream, out)
                await out.flush()
            except HttpError as e:  # answered by refusals.py (no room for it: the 503 below)
                if out is not None and out.started:
                    raise
                out = None
                request.deadline = time.ticks_add(time.ticks_ms(), _ANSWER_TIMEOUT_MS)
                from app.web.refusals import refuse
                await refuse(web, request, stream, e.args)
        except MemoryError:
            for name in _POLL_CODE:  # a poll's code whose import found no room: what it had
                if name not in sys.modules:  # loaded goes now (see app.unload)
                    unload(name)
            if out is not None and out.sent:  # the answer has begun: it can only be cut short
                raise
            web.short_of_room(stream)
    finally:
        if request.rare:  # the last request with code loaded for it alone takes that code along
            web.rare -= 1
            if not web.rare:
                # What such a request may have loaded. Named here, not in routes.py: with no room
                # for routes.py, importing it to read them would try again. One string (a tuple of
                # names would be an object each, made at every load of this module), split as read.
                unload("app.config")
                try:
                    for name in "routes pages admin auth settings refusals".split():
                        unload("app.web." + name)
                except MemoryError:  # no room to name them: they go with the last connection (server.py)
                    pass
    web.served += 1
    if not whole or request.length > request.read:
        # What the client sent and we did not read would make closing the socket reset the
        # connection, and the client lose the answer: take (a bounded amount of) it first.
        from app.web.refusals import discard
        await discard(request, stream)


async def _answer_in_room(web, request, stream, out):
    """_answer(); when the heap has no room for its code or its answer before a byte of it went
    out (a push being decoded holds it for a moment), tried again _ROOM_WAIT_MS later, up to
    _ROOM_TRIES times (what a failed import loaded goes as it is tried again: see app.unload)."""
    tries = _ROOM_TRIES
    while True:
        try:
            return await _answer(web, request, stream, out)
        except MemoryError:
            if out.sent or not tries:
                raise
        tries -= 1
        out.n = 0  # what was put is put again
        out.started = False
        from asyncio import sleep_ms
        await sleep_ms(_ROOM_WAIT_MS)


async def _answer(web, request, stream, out):
    """Write the answer: routes.py's or pages.py's for a rare request, else the poll's (status.py,
    api.py, history.py)."""
    if request.rare == _ROUTES:
        from app.web.routes import answer
        await answer(web, request, stream, out)
    elif request.rare:
        from app.web.pages import send
        await send(request, out)
    elif request.path.endswith("status"):  # (one of the three polls: see _request_line)
        from app.web.status import status
        await status(web.app, out, web)
    elif request.path.endswith("data"):
        from app.web.api import data
        await data(web.app, out)
    else:
        from app.web.history import history
        await history(web.app, out, request.query)

