"""Every answer but the pages' polls (http.py answers those) and a browser's GET of a page or its
file (pages.py), their status lines (Reply), and the headers they need (a poll keeps only its
Host, a page If-None-Match): captive-portal redirects while the access point is open, safe mode
(where the status page's figures, status.py, and the pages come this way too), the config page's
login, and the way to the admin API (admin.py). Loaded for such a request, from its request line
on, and unloaded after it (see http.py).

The config page asks for a login first (then pages.py sends it). While the access point is open,
phones' captive-portal checks are sent to the config page (the access point's DNS, app/dns.py,
gives our address for every name). In safe mode only the config page, the status page and the
admin API are served.
"""
from app.web.http import COOKIE, JSON, Out, foreign_host

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# The headers kept as text (lowercase names, each ended by a space: one bytes object rather than
# eight) and the Request attributes they go to, in the same order (http.py keeps Host).
_KEPT = const(b"cookie if-none-match origin sec-fetch-site authorization x-csrf-token content-type expect ")
_ATTRIBUTES = const(("session", "etag", "origin", "site", "auth", "csrf", "type", "expect"))
_COOKIE_IS = COOKIE.encode() + b"="
# The pages (www/index.html, www/status.html ...) and their files, each between spaces.
_PAGES = const(" / /status /config /login /app.css /app.js ")
# Where Android, Apple, Windows, Firefox and Kindle devices check for a captive portal: each path
# between spaces (a path has none), in one string rather than a tuple of ten string objects.
PROBES = " /generate_204 /gen_204 /hotspot-detect.html /library/test/success.html /connecttest.txt " \
         "/ncsi.txt /redirect /success.txt /canonical.html /kindle-wifi/wifistub.html "


class Reply(Out):
    """http.Out with a status line and headers: the answers written here and by the modules loaded
    from here (the dashboard's polls, always the same head, put theirs themselves: api.py)."""

    def start(self, status, kind=None, headers=""):
        """The status line and headers (each line of `headers` ends with CRLF)."""
        self.started = True
        # One string made (answers here are rare), where constant pieces would be objects this
        # module's constant table holds: it must fit a piece of a scattered heap (see http.py).
        self.put("HTTP/1.1 %s\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n%s%s\r\n" % (
            status, "Content-Type: %s\r\n" % kind if kind else "", headers))

    def json(self, status, body, headers=""):
        """A whole small JSON response (`body` is JSON text)."""
        self.start(status, JSON, "Cache-Control: no-store\r\n" + headers)
        self.put(body)

    def error(self, status, detail, headers=""):
        from json import dumps
        self.json(status, '{"error": %s}' % dumps(detail), headers)


def keep(request):
    """Ready `request` (http.Request) for the headers kept here, and return what keeps them
    (header): those that do not come stay None ("" for Content-Type). Instance attributes, set
    for the requests answered here, rather than defaults of every poll's Request class."""
    request.session = request.etag = request.origin = request.site = request.auth = request.csrf = None
    request.expect = None
    request.type = ""
    return header


def header(request, start, colon, first, end):
    """Keep what the routes need of the header line request.buf[start:end] (its lowercase name ends
    at `colon`, its value is request.buf[first:end]); the others are dropped without a copy."""
    buf = request.buf
    at = 0  # where the name of `kind` starts in _KEPT
    for kind in range(len(_ATTRIBUTES)):
        stop = _KEPT.find(b" ", at)
        if colon - start == stop - at and buf.startswith(_KEPT[at:stop], start):
            if not kind:  # Cookie: ours alone (a later Cookie header without it keeps it)
                first = _cookie(buf, first, end)
                if first < 0:
                    return
                semicolon = buf.find(b";", first, end)
                if semicolon >= 0:
                    end = semicolon
                while end > first and buf[end - 1] in b" \t":
                    end -= 1
            try:
                setattr(request, _ATTRIBUTES[kind], str(request.view[first:end], "utf-8"))
            except UnicodeError:
                pass  # not text: not a header the routes use
            return
        at = stop + 1


def _cookie(buf, start, end):
    """Where the value of our cookie starts in the Cookie header value buf[start:end], or -1."""
    at = start
    while True:
        at = buf.find(_COOKIE_IS, at, end)
        if at < 0:
            return -1
        if at == start or buf[at - 1] in b"; \t":  # a whole cookie name, not the end of another
            return at + len(_COOKIE_IS)
        at += 1


def redirect(out, location, status="303 See Other"):
    out.start(status, None, "Location: " + location + "\r\nContent-Length: 0\r\n")


async def answer(web, request, stream, out):
    app = web.app
    path = request.path
    get = request.method == "GET"
    # While the access point is open, phones checking for a captive portal (a probe path, or a
    # host name that is not ours) are sent to the config page, which they then show by themselves.
    if app.wifi.ap and (" %s " % path in PROBES or foreign_host(request.host, app.config["wifi"]["hostname"])):
        redirect(out, "http://%s/config" % (app.hal.address(True) or "192.168.4.1"), "302 Found")
    elif app.safe_mode and path in ("/", "/api/data", "/api/history"):
        if path == "/":
            redirect(out, "/config")
        else:
            out.error("503 Service Unavailable", "safe mode: only the config and status pages work")
    elif get and path == "/api/status":
        from app.web.status import status
        await status(app, out, web)
    elif path.startswith("/api/"):
        from app.web.admin import handle
        await handle(web, request, stream, out)
    else:
        await _page(web, request, out, path)


async def _page(web, request, out, path):
    if " %s " % path not in _PAGES:
        out.error("404 Not Found", "not found")
    elif request.method != "GET":
        out.error("405 Method Not Allowed", "only GET", "Allow: GET\r\n")
    elif path == "/config" and not _logged_in(web, request):
        redirect(out, "/login?next=/config")
    else:
        from app.web.pages import send
        await send(request, out)


def _logged_in(web, request):
    if request.session is None or not web.sessions:
        return False
    from app.web.auth import find
    return find(web.sessions, request.session) is not None
