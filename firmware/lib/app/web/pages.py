"""The pages and their files, from the www folder next to lib/: www/NAME.gz, sent with
Content-Encoding: gzip, when the build made one, else www/NAME; an ETag from size and time, 304
when the browser has it. A browser's GET of one comes here straight from http.py (the only header
kept for it here is If-None-Match), so that a page load loads this and http.py alone; routes.py sends the
config page here once the browser has logged in, and in safe mode every page. Loaded for such a
request and unloaded after it (see http.py): a browser fetches a page and its files once a visit.
"""
import os

from app.web.http import OK_JSON, HttpError

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_MISSING = const(6)  # HttpError(_MISSING, name): the firmware lacks the file (refusals.REFUSED[6])
# The head begins as the polls' (http.OK_JSON, loaded anyway: no text of its own made at every load
# of this module): its bytes up to the value of Content-Type, and those after the status line.
_TYPE_AT = const(83)      # OK_JSON[:_TYPE_AT]: "HTTP/1.1 200 OK\r\n ... Content-Type: "
_STATUS_END = const(15)   # OK_JSON[_STATUS_END:_HEADERS_END]: "\r\nConnection: close\r\n ... nosniff\r\n"
_HEADERS_END = const(69)
_HTML = const("X-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'self'; img-src 'self' data:; "
              "frame-ancestors 'none'\r\n")


def keep(request):
    """Ready `request` (http.Request) for the one header kept here (If-None-Match), and return
    what keeps it (header); as routes.keep for the requests routes.py answers."""
    request.etag = None
    return header


def header(request, start, colon, first, end):
    """Keep If-None-Match's value (see routes.header); other headers are dropped without a copy."""
    if colon - start == 13 and request.buf.startswith(b"if-none-match", start):
        try:
            request.etag = str(request.view[first:end], "utf-8")
        except UnicodeError:
            pass  # not text: not an ETag of ours


async def send(request, out):
    """The page or file of request.path (/ is www/index.html, /status www/status.html, /app.js
    www/app.js), into `out` (http.Out); HttpError 404 when the firmware lacks it."""
    name = request.path[1:] or "index"
    html = "." not in name
    if html:
        name += ".html"
    # The www folder next to lib/ ("/www" on the board, firmware/www or build/.../www on the unix
    # port); frozen, or run from lib/ itself: relative to the working folder ("/" on the board).
    path = __file__
    at = path.rfind("/lib/")
    path = (path[:at] + "/www/" if at >= 0 else "www/") + name
    gzip = True
    try:
        info = os.stat(path + ".gz")
        path += ".gz"
    except OSError:
        gzip = False
        try:
            info = os.stat(path)
        except OSError:
            raise HttpError(_MISSING, name)
    etag = '"%x-%x"' % (info[6], info[8])
    head = memoryview(OK_JSON)
    if request.etag == etag:
        out.put("HTTP/1.1 304 Not Modified")
        out.put(head[_STATUS_END:_HEADERS_END])
        out.put("ETag: " + etag + "\r\n\r\n")
        return
    out.put(head[:_TYPE_AT])
    out.put("%s\r\nContent-Length: %d\r\nETag: %s\r\nCache-Control: no-cache\r\n%s%s\r\n" % (
        "text/html; charset=utf-8" if html else "text/css" if name.endswith(".css") else "text/javascript",
        info[6], etag, "Content-Encoding: gzip\r\n" if gzip else "", _HTML if html else ""))
    await out.flush()
    with open(path, "rb") as f:
        while True:
            n = f.readinto(out.buf)
            if not n:
                break
            out.n = n
            await out.flush()
