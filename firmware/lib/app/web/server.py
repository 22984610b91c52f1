"""The web server: pages and the JSON API over a small HTTP/1.1 server on asyncio.

Hand-rolled rather than a framework: the board has about 110 KB of heap for everything. This
module is all that stays loaded while nobody changes settings; api.py comes with the first
dashboard or status request; admin.py, auth.py and settings.py (log in, settings, reboot) are
loaded for an admin request and dropped again when no admin request is left.

Connections. At most MAX_CONNECTIONS at once, each in a slot with a BUFFER-byte buffer made at
start. It holds the request head, one line at a time (a longer header line is skipped; a longer
request line is refused), then the response on its way out. Every response closes its connection
(Connection: close): nothing is kept for a client between requests but its session. Responses are
written in pieces as they are made: files BUFFER bytes at a time from flash, JSON item by item.
Whoever is slow waits alone:
  * the request head must be complete within HEAD_TIMEOUT_MS, a body within BODY_TIMEOUT_MS,
    and the client must have taken the whole answer within ANSWER_TIMEOUT_MS (one timer for the
    whole answer, not one per piece: each timer is a task on the heap);
  * when every slot is taken, a connection that has not sent a byte for SPARE_MS (browsers open
    spare ones) gives its slot up to the newcomer; otherwise the newcomer waits up to QUEUE_MS
    for a slot (at most MAX_WAITING of them wait), then gets 503.
Limits: HEAD_MAX bytes of head, MAX_HEADERS lines; bodies are limited by the route (admin.py).

Pages and files come from the www folder next to lib/: www/NAME.gz, sent with Content-Encoding:
gzip, when the build made one, else www/NAME. While the access point is open, phones' captive-
portal checks are sent to the config page (portal.py). In safe mode only the config page, the
status page and the admin API are served.
"""
import asyncio
import os
import time

from app import unload
from app.streams import close

MAX_CONNECTIONS = 3
MAX_WAITING = 4
QUEUE_MS = 3000
SPARE_MS = 1000  # a real client sends its request at once; a browser's spare connection waits
BUFFER = 512
HEAD_MAX = 4096
MAX_HEADERS = 40
HEAD_TIMEOUT_MS = 5000
BODY_TIMEOUT_MS = 5000
ANSWER_TIMEOUT_MS = 15000
DISCARD_MAX = 8192      # unread request bytes taken in before closing (see _exchange)
DISCARD_MS = 500
FLUSH_AT = 384  # JSON writers hand the buffer to the socket past this many bytes
COOKIE = "hanreader"
JSON = "application/json"
PAGES = ("/", "/status", "/config", "/login")  # www/index.html, www/status.html ...
FILES = ("/app.css", "/app.js")
_BASE = "Connection: close\r\nX-Content-Type-Options: nosniff\r\n"
_HTML = "X-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'; img-src 'self' data:; " \
        "frame-ancestors 'none'\r\n"
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n" \
        b"Content-Type: text/plain\r\n\r\nBusy: too many connections; try again.\n"
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


class Slot:
    """One connection's place: its buffer and where it is in it."""

    def __init__(self):
        self.buf = bytearray(BUFFER)
        self.task = None     # the connection's task while the slot is taken
        self.fresh = False   # nothing received yet (a browser's spare connection)
        self.since = 0       # ticks_ms when the connection took the slot
        self.start = 0       # unread bytes are buf[start:end]
        self.end = 0

    async def line(self, stream):
        """The next line without its line end (bytes), or None for a line longer than the buffer
        (skipped). Raises EOFError when the client has gone."""
        buf = self.buf
        skipping = False
        while True:
            at = buf.find(b"\n", self.start, self.end)
            if at >= 0:
                line = None if skipping else bytes(memoryview(buf)[self.start:at])
                self.start = at + 1
                if line and line[-1] == 13:
                    line = line[:-1]
                return line
            if skipping or (self.start == 0 and self.end == len(buf)):
                skipping = True
                self.start = self.end = 0
            elif self.start:
                self.end -= self.start
                buf[:self.end] = memoryview(buf)[self.start:self.start + self.end]
                self.start = 0
            got = await stream.readinto(memoryview(buf)[self.end:])
            if got is None:
                continue
            if not got:
                raise EOFError
            self.fresh = False
            self.end += got

    async def body(self, stream, request):
        """The request body (what came with the head first, then the rest)."""
        length = request.length
        request.read = length
        data = bytearray(length)
        have = min(self.end - self.start, length)
        data[:have] = memoryview(self.buf)[self.start:self.start + have]
        self.start += have
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


class Web:
    def __init__(self, app):
        self.app = app
        self.slots = [Slot() for _ in range(MAX_CONNECTIONS)]
        self.waiting = 0       # connections waiting for a slot
        self.www = www_folder()
        self.sessions = []     # logged-in browsers: [token, csrf token, last used] (auth.py)
        self.checking = False  # a password is being checked: one at a time
        self.admin = 0         # admin requests under way (their code stays loaded meanwhile)
        self.served = 0        # requests answered
        self.refused = 0       # connections turned away (no slot in time)
        self.timeouts = 0      # connections closed for being too slow
        self.server = None

    async def start(self, port):
        self.server = await asyncio.start_server(self._serve, "0.0.0.0", port, MAX_CONNECTIONS + MAX_WAITING)
        return self.server

    def _free(self):
        for slot in self.slots:
            if slot.task is None:
                return slot
        return None

    async def _slot(self):
        """A slot for a new connection: a free one, a spare connection's, or one freed within
        QUEUE_MS; None if there is none."""
        slot = self._free()
        if slot is None:
            now = time.ticks_ms()
            for other in self.slots:
                if other.fresh and time.ticks_diff(now, other.since) >= SPARE_MS:
                    other.task.cancel()  # its finally gives the slot back
                    await asyncio.sleep_ms(0)
                    slot = self._free()
                    break
        if slot is None and self.waiting < MAX_WAITING:
            self.waiting += 1
            try:
                for _ in range(QUEUE_MS // 50):
                    await asyncio.sleep_ms(50)
                    slot = self._free()
                    if slot is not None:
                        break
            finally:
                self.waiting -= 1
        if slot is not None:
            slot.task = asyncio.current_task()
            slot.since = time.ticks_ms()
            slot.fresh = True
            slot.start = slot.end = 0
        return slot

    async def _serve(self, stream, _):
        slot = None
        try:
            slot = await self._slot()
            if slot is None:
                self.refused += 1
                stream.write(_BUSY)  # whatever the socket takes now; nobody waits for it
                await asyncio.wait_for_ms(stream.read(BUFFER), DISCARD_MS)  # see _exchange
                return
            await self._exchange(slot, stream)
        except asyncio.TimeoutError:
            self.timeouts += 1
        except (OSError, EOFError, asyncio.CancelledError):
            pass
        except Exception as e:  # noqa: BLE001 - one bad request must never end the server
            self.app.log.error("Web: %r" % e)
        finally:
            if slot is not None:
                slot.task = None
                slot.fresh = False
            await close(stream)

    async def _exchange(self, slot, stream):
        out = Out(stream, slot.buf)
        request = None
        try:
            request = await asyncio.wait_for_ms(self._head(slot, stream), HEAD_TIMEOUT_MS)
            await asyncio.wait_for_ms(self._answer(request, slot, stream, out), ANSWER_TIMEOUT_MS)
        except HttpError as e:
            if out.started:
                raise
            out.n = 0
            out.error(e.status, e.detail)
            await asyncio.wait_for_ms(out.flush(), ANSWER_TIMEOUT_MS)
        self.served += 1
        if request is None or request.length > request.read:
            # What the client sent and we did not read would make closing the socket reset the
            # connection, and the client lose the answer: take (a bounded amount of) it first.
            try:
                await asyncio.wait_for_ms(_discard(slot, stream), DISCARD_MS)
            except asyncio.TimeoutError:
                pass

    async def _head(self, slot, stream):
        line = await slot.line(stream)
        if line is None:
            raise HttpError("414 URI Too Long", "the request line is too long")
        parsed = parse_request_line(line)
        if parsed is None:
            raise HttpError("400 Bad Request", "not an HTTP/1.x request")
        request = Request(*parsed)
        size = len(line)
        for _ in range(MAX_HEADERS):
            line = await slot.line(stream)
            size += BUFFER if line is None else len(line) + 2
            if size > HEAD_MAX:
                raise HttpError("431 Request Header Fields Too Large", "the request head is too long")
            if line is None:
                continue
            if not line:
                return request
            name, _, value = line.partition(b":")
            try:
                request.header(name.strip().lower().decode(), value.strip().decode())
            except UnicodeError:
                pass  # not text: not a header the routes use
        raise HttpError("431 Request Header Fields Too Large", "too many header lines")

    async def _answer(self, request, slot, stream, out):
        await self._respond(request, slot, stream, out)
        await out.flush()

    async def _respond(self, request, slot, stream, out):
        app = self.app
        path = request.path
        if app.wifi.ap:
            from app.web.portal import captive
            if captive(request.host, path, app.config["wifi"]["hostname"]):
                out.redirect("http://%s/config" % (app.wifi.radio.ap_address() or "192.168.4.1"), "302 Found")
                return
        if app.safe_mode and (path == "/" or path in ("/api/data", "/api/history")):
            if path == "/":
                out.redirect("/config")
            else:
                out.error("503 Service Unavailable", "safe mode: only the config and status pages work")
            return
        get = request.method == "GET"
        if path.startswith("/api/"):
            name = path[5:]
            if get and name in ("data", "history", "status"):
                from app.web import api
                if name == "data":
                    await api.data(app, out)
                elif name == "history":
                    await api.history(app, out, request.query)
                else:
                    await api.status(app, out, self)
                return
            self.admin += 1
            try:
                from app.web import admin
                await admin.handle(self, request, slot, stream, out)
            finally:
                self.admin -= 1
                if not self.admin:
                    _forget(_ADMIN)
            return
        name = ("index.html" if path == "/" else path[1:] + ".html") if path in PAGES else \
            path[1:] if path in FILES else None
        if name is None:
            out.start("404 Not Found", "text/plain", "Content-Length: 10\r\n")
            out.put("Not found\n")
        elif not get:
            out.error("405 Method Not Allowed", "only GET", "Allow: GET\r\n")
        elif path == "/config" and not self.logged_in(request):
            out.redirect("/login?next=/config")
        else:
            await self._file(request, out, name)

    def logged_in(self, request):
        if request.session is None or not self.sessions:
            return False
        from app.web.auth import find
        try:
            return find(self.sessions, request.session) is not None
        finally:
            if not self.admin:
                _forget(_ADMIN)

    async def _file(self, request, out, name):
        path = self.www + "/" + name
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
