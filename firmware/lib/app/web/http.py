"""Reading a request and answering it: the request head, routes, pages and files, error answers.

Loaded by server.py while connections are served and unloaded when none has come for a while
(server.LINGER_MS): an idle device holds none of this code. See server.py for the limits.

A connection's slot buffer holds the request head, one line at a time (a longer header line is
skipped; a longer request line is refused), then the response on its way out. Responses are
written in pieces as they are made: files BUFFER bytes at a time from flash, JSON item by item.
  * the request head must be complete within HEAD_TIMEOUT_MS, a body within BODY_TIMEOUT_MS,
    and the client must have taken the whole answer within ANSWER_TIMEOUT_MS (one timer for the
    whole answer, not one per piece: each timer is a task on the heap).
Limits: HEAD_MAX bytes of head, MAX_HEADERS lines; bodies are limited by the route (admin.py).

Pages and files come from the www folder next to lib/: www/NAME.gz, sent with Content-Encoding:
gzip, when the build made one, else www/NAME. While the access point is open, phones' captive-
portal checks are sent to the config page (portal.py). In safe mode only the config page, the
status page and the admin API are served.
"""
import asyncio
import os

from app import unload
from app.web.server import BUFFER, DISCARD_MS

HEAD_MAX = 4096
MAX_HEADERS = 40
HEAD_TIMEOUT_MS = 5000
BODY_TIMEOUT_MS = 5000
ANSWER_TIMEOUT_MS = 15000
DISCARD_MAX = 8192      # unread request bytes taken in before closing (see exchange)
FLUSH_AT = 384  # JSON writers hand the buffer to the socket past this many bytes
COOKIE = "hanreader"
JSON = "application/json"
PAGES = ("/", "/status", "/config", "/login")  # www/index.html, www/status.html ...
FILES = ("/app.css", "/app.js")
_BASE = "Connection: close\r\nX-Content-Type-Options: nosniff\r\n"
_HTML = "X-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'; img-src 'self' data:; " \
        "frame-ancestors 'none'\r\n"
# Loaded for an admin request, unloaded when no admin request is left (the settings page is rare).
_ADMIN = ("app.web.admin", "app.web.auth", "app.web.settings", "app.config")


class HttpError(Exception):
    """A request refused before it reached a route: status line and a sentence."""

    def __init__(self, status, detail):
        super().__init__(status)
        self.status = status
        self.detail = detail


def parse_request_line(line):
    """(method, path, query) from b"GET /path?query HTTP/1.1"; None if it is not a request line.

    An absolute target (http://host/path, as proxies send) is reduced to its path."""
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    try:
        method = parts[0].decode()
        target = parts[1].decode()
    except UnicodeError:
        return None
    if target.startswith("http://"):
        at = target.find("/", 7)
        target = target[at:] if at > 0 else "/"
    if not method or not target.startswith("/"):
        return None
    path, _, query = target.partition("?")
    return method, path, query


def cookie_value(header, name):
    """The value of cookie `name` in a Cookie header, or None."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def content_type(name):
    if name.endswith(".html"):
        return "text/html; charset=utf-8"
    if name.endswith(".css"):
        return "text/css"
    if name.endswith(".js"):
        return "text/javascript"
    return "application/octet-stream"


def www_folder(module_file=None):
    """The folder of the pages: www/ next to lib/ ("/www" on the board, firmware/www or
    build/.../www on the unix port)."""
    here = module_file or __file__
    at = here.rfind("/lib/")
    if at >= 0:
        return here[:at] + "/www"
    return "www"  # frozen, or run from lib/ itself: relative to the working folder ("/" on the board)


class Request:
    def __init__(self, method, path, query):
        self.method = method
        self.path = path
        self.query = query
        self.host = ""
        self.origin = None
        self.site = None        # Sec-Fetch-Site
        self.session = None     # our cookie's value
        self.auth = None        # the Authorization header
        self.csrf = None        # X-CSRF-Token
        self.length = 0         # Content-Length
        self.read = 0           # body bytes read so far
        self.type = ""          # Content-Type
        self.etag = None        # If-None-Match
        self.expect = False     # Expect: 100-continue

    def header(self, name, value):
        """Keep what the routes need from one header (name in lowercase); drop the rest."""
        if name == "host":
            self.host = value
        elif name == "content-length":
            try:
                self.length = int(value)
            except ValueError:
                self.length = -1
            if self.length < 0:
                raise HttpError("400 Bad Request", "Content-Length is not a size")
        elif name == "content-type":
            self.type = value
        elif name == "cookie":
            self.session = cookie_value(value, COOKIE) or self.session
        elif name == "authorization":
            self.auth = value
        elif name == "x-csrf-token":
            self.csrf = value
        elif name == "origin":
            self.origin = value
        elif name == "sec-fetch-site":
            self.site = value
        elif name == "if-none-match":
            self.etag = value
        elif name == "expect":
            self.expect = value.lower() == "100-continue"
        elif name == "transfer-encoding":
            raise HttpError("501 Not Implemented", "chunked request bodies are not accepted")


async def line(slot, stream):
    """The next line in a slot (server.Slot) without its line end (bytes), or None for a line
    longer than the buffer (skipped). Raises EOFError when the client has gone."""
    buf = slot.buf
    skipping = False
    while True:
        at = buf.find(b"\n", slot.start, slot.end)
        if at >= 0:
            text = None if skipping else bytes(memoryview(buf)[slot.start:at])
            slot.start = at + 1
            if text and text[-1] == 13:
                text = text[:-1]
            return text
        if skipping or (slot.start == 0 and slot.end == len(buf)):
            skipping = True
            slot.start = slot.end = 0
        elif slot.start:
            slot.end -= slot.start
            buf[:slot.end] = memoryview(buf)[slot.start:slot.start + slot.end]
            slot.start = 0
        got = await stream.readinto(memoryview(buf)[slot.end:])
        if got is None:
            continue
        if not got:
            raise EOFError
        slot.fresh = False
        slot.end += got


async def body(slot, stream, request):
    """The request body (what came with the head first, then the rest)."""
    length = request.length
    request.read = length
    data = bytearray(length)
    have = min(slot.end - slot.start, length)
    data[:have] = memoryview(slot.buf)[slot.start:slot.start + have]
    slot.start += have
    view = memoryview(data)
    while have < length:
        got = await stream.readinto(view[have:])
        if got is None:
            continue
        if not got:
            raise EOFError
        have += got
    return data


class Out:
    """A response on its way out: pieces gather in the slot's buffer and go to the socket when it
    fills (put) or when the writer can wait (flush)."""

    def __init__(self, stream, buf):
        self.stream = stream
        self.buf = buf
        self.n = 0
        self.started = False  # a status line has been put: an error now can only close

    def put(self, data):
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        if self.n + n > len(self.buf):
            self._send()
            if n > len(self.buf):
                self.stream.write(data)  # the stream keeps what the socket cannot take yet
                return
        self.buf[self.n:self.n + n] = data
        self.n += n

    def number(self, n):
        """The decimal digits of an int, written without making a string (an hour of power is
        720 numbers)."""
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
            self.stream.write(memoryview(self.buf)[:self.n])  # copied if the socket is full
            self.n = 0

    async def flush(self):
        self._send()
        await self.stream.drain()

    def start(self, status, kind=None, headers=""):
        """The status line and headers (each line of `headers` ends with CRLF)."""
        self.started = True
        self.put("HTTP/1.1 ")
        self.put(status)
        self.put("\r\n" + _BASE)
        if kind:
            self.put("Content-Type: ")
            self.put(kind)
            self.put("\r\n")
            if kind[:9] == "text/html":
                self.put(_HTML)
        self.put(headers)
        self.put("\r\n")

    def json(self, status, body, headers=""):
        """A whole small JSON response (`body` is JSON text)."""
        self.start(status, JSON, "Cache-Control: no-store\r\n" + headers)
        self.put(body)

    def error(self, status, detail, headers=""):
        from json import dumps
        self.json(status, '{"error": %s}' % dumps(detail), headers)

    def redirect(self, location, status="303 See Other"):
        self.start(status, None, "Location: " + location + "\r\nContent-Length: 0\r\n")


async def exchange(web, slot, stream):
    """One connection of web (server.Web) in its slot: the request, the answer, then what the
    client still sends is taken in before the server closes."""
    out = Out(stream, slot.buf)
    request = None
    try:
        request = await asyncio.wait_for_ms(head(slot, stream), HEAD_TIMEOUT_MS)
        await asyncio.wait_for_ms(_answer(web, request, slot, stream, out), ANSWER_TIMEOUT_MS)
    except HttpError as e:
        if out.started:
            raise
        out.n = 0
        out.error(e.status, e.detail)
        await asyncio.wait_for_ms(out.flush(), ANSWER_TIMEOUT_MS)
    web.served += 1
    if request is None or request.length > request.read:
        # What the client sent and we did not read would make closing the socket reset the
        # connection, and the client lose the answer: take (a bounded amount of) it first.
        try:
            await asyncio.wait_for_ms(_discard(slot, stream), DISCARD_MS)
        except asyncio.TimeoutError:
            pass


async def head(slot, stream):
    """The request line and the headers the routes use (a Request); HttpError when they are not
    acceptable."""
    text = await line(slot, stream)
    if text is None:
        raise HttpError("414 URI Too Long", "the request line is too long")
    parsed = parse_request_line(text)
    if parsed is None:
        raise HttpError("400 Bad Request", "not an HTTP/1.x request")
    request = Request(*parsed)
    size = len(text)
    for _ in range(MAX_HEADERS):
        text = await line(slot, stream)
        size += BUFFER if text is None else len(text) + 2
        if size > HEAD_MAX:
            raise HttpError("431 Request Header Fields Too Large", "the request head is too long")
        if text is None:
            continue
        if not text:
            return request
        name, _, value = text.partition(b":")
        try:
            request.header(name.strip().lower().decode(), value.strip().decode())
        except UnicodeError:
            pass  # not text: not a header the routes use
    raise HttpError("431 Request Header Fields Too Large", "too many header lines")


async def _answer(web, request, slot, stream, out):
    app = web.app
    path = request.path
    captive = False
    if app.wifi.ap:  # phones checking for a captive portal are sent to the config page
        from app.web.portal import captive as portal_check
        captive = portal_check(request.host, path, app.config["wifi"]["hostname"])
    if captive:
        out.redirect("http://%s/config" % (app.hal.address(True) or "192.168.4.1"), "302 Found")
    elif app.safe_mode and (path == "/" or path in ("/api/data", "/api/history")):
        if path == "/":
            out.redirect("/config")
        else:
            out.error("503 Service Unavailable", "safe mode: only the config and status pages work")
    elif path.startswith("/api/"):
        await _api(web, request, slot, stream, out)
    else:
        await _page(web, request, out, path)
    await out.flush()


async def _api(web, request, slot, stream, out):
    app = web.app
    name = request.path[5:]
    if request.method == "GET" and name in ("data", "history", "status"):
        from app.web import api
        if name == "data":
            await api.data(app, out)
        elif name == "history":
            await api.history(app, out, request.query)
        else:
            await api.status(app, out, web)
        return
    web.admin += 1
    try:
        from app.web import admin
        await admin.handle(web, request, slot, stream, out)
    finally:
        web.admin -= 1
        if not web.admin:
            _forget(_ADMIN)


async def _page(web, request, out, path):
    name = ("index.html" if path == "/" else path[1:] + ".html") if path in PAGES else \
        path[1:] if path in FILES else None
    if name is None:
        out.start("404 Not Found", "text/plain", "Content-Length: 10\r\n")
        out.put("Not found\n")
    elif request.method != "GET":
        out.error("405 Method Not Allowed", "only GET", "Allow: GET\r\n")
    elif path == "/config" and not logged_in(web, request):
        out.redirect("/login?next=/config")
    else:
        await _file(request, out, name)


def logged_in(web, request):
    if request.session is None or not web.sessions:
        return False
    from app.web.auth import find
    try:
        return find(web.sessions, request.session) is not None
    finally:
        if not web.admin:
            _forget(_ADMIN)


async def _file(request, out, name):
    path = www_folder() + "/" + name
    gzip = True
    try:
        info = os.stat(path + ".gz")
        path += ".gz"
    except OSError:
        gzip = False
        try:
            info = os.stat(path)
        except OSError:
            out.error("404 Not Found", name + " is missing from the firmware")
            return
    etag = '"%x-%x"' % (info[6], info[8])
    if request.etag == etag:
        out.start("304 Not Modified", None, "ETag: " + etag + "\r\n")
        return
    out.start("200 OK", content_type(name), "Content-Length: %d\r\nETag: %s\r\nCache-Control: no-cache\r\n%s"
              % (info[6], etag, "Content-Encoding: gzip\r\n" if gzip else ""))
    await out.flush()
    buf = out.buf
    view = memoryview(buf)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            out.stream.write(view[:n])
            await out.stream.drain()


def _forget(names):
    """Unload modules (their heap comes back once nothing uses them; the next import reloads)."""
    for name in names:
        unload(name)


async def _discard(slot, stream):
    for _ in range(DISCARD_MAX // BUFFER):
        got = await stream.readinto(slot.buf)
        if got == 0:
            return
