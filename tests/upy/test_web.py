# The web server's pure parts on CPython and MicroPython alike: request parsing and limits,
# forms and JSON bodies, the captive-portal rule, the password hash (PBKDF2 vectors), sessions
# and CSRF comparison, the settings form mapped onto the config validation, and the JSON writers
# (exact decimal text). Coroutines here never really wait, so they are driven by hand.
import json
import sys
import time

from app import config as config_store
from app import unload
from app.state import HISTORY, State
from app.web import admin, api, auth, history, http, pages, refusals, routes, server, settings, status
from han.pipeline import Pipeline
from han.text import decimal_text, iso
from han.values import DateTime, Decimal, Quantity
from support import FRAMES, IS_MICROPYTHON, pairs, read_bytes, tick_clock, with_pairs

tick_clock()


def run(coroutine):
    """Drive a coroutine that never waits for real; its result."""
    try:
        while True:
            coroutine.send(None)
    except StopIteration as done:
        return done.value


def run_on_loop(coroutine):
    """Run a coroutine on the event loop, which asyncio.wait_for_ms needs (run() would crash
    MicroPython there); CPython's asyncio gets MicroPython's wait_for_ms for it."""
    import asyncio
    if not hasattr(asyncio, "wait_for_ms"):
        asyncio.wait_for_ms = lambda awaitable, ms: asyncio.wait_for(awaitable, ms / 1000)
    return asyncio.run(coroutine)


def raises(kind, call, *args):
    try:
        call(*args)
    except kind as e:
        return e
    raise AssertionError("no %s" % kind.__name__)


def refused(error):
    """(status line, sentence) of the request head's http.HttpError(n)."""
    return refusals.REFUSED[error.args[0]]


class Stream:
    """A socket stand-in: readinto() hands out `chunks` one by one; write() records."""

    def __init__(self, chunks=()):
        self.chunks = list(chunks)
        self.written = []

    async def readinto(self, buf):
        if not self.chunks:
            return 0
        chunk = self.chunks.pop(0)
        n = min(len(chunk), len(buf))
        buf[:n] = chunk[:n]
        if n < len(chunk):
            self.chunks.insert(0, chunk[n:])
        return n

    def write(self, data):
        self.written.append(bytes(data))

    async def drain(self):
        pass


class Out(routes.Reply):
    """routes.Reply (http.Out with status lines) into a Stream, flushing without a timer."""

    def __init__(self):
        routes.Reply.__init__(self, Stream(), bytearray(http.BUFFER))

    async def flush(self):
        self._send()

    def text(self):
        self._send()
        return b"".join(self.stream.written).decode()

    def body(self):
        return json.loads(self.text().split("\r\n\r\n", 1)[1])


# --- the request head ---

def request_line(line):
    """(method, path, query) http.head reads from a request line (bytes); None when it refuses it
    as not HTTP."""
    try:
        request = parsed(line + b"\r\n\r\n")
    except http.HttpError as e:
        assert refused(e) == ("400 Bad Request", "not an HTTP/1.x request"), line
        return None
    return request.method, request.path, request.query


def test_request_line():
    assert request_line(b"GET /api/data HTTP/1.1") == ("GET", "/api/data", "")
    assert request_line(b"GET /api/history?after=3 HTTP/1.0") == ("GET", "/api/history", "after=3")
    assert request_line(b"GET http://192.168.4.1/config?x HTTP/1.1") == ("GET", "/config", "x")
    assert request_line(b"GET http://example.com HTTP/1.1") == ("GET", "/", "")
    for bad in (b"", b"GET /", b"GET / HTTP/2", b"GET  / HTTP/1.1", b"GET x HTTP/1.1", b"\xff / HTTP/1.1",
                b"GET / HTTP/1.1 extra", b" / HTTP/1.1"):
        assert request_line(bad) is None, bad


def read_head(stream, request=None, web=None):
    """The Request http.head fills in from what `stream` sends (a new one unless given, in a new
    Web unless one is given)."""
    web = web or server.Web(FakeApp())
    request = request or http.Request(None, 0)
    run(http.head(request, stream, web))
    return request


def parsed(raw):
    """The Request http.head makes of a whole request head (bytes)."""
    return read_head(Stream([raw]))


def test_headers_kept_and_refused():
    request = parsed(b"POST /api/config HTTP/1.1\r\nHost: 192.168.4.1\r\nContent-Length: 12\r\n"
                     b"Content-Type: application/json\r\nCOOKIE: theme=dark; hanreader=abc123; other=1\r\n"
                     b"X-CSRF-Token:t\r\nOrigin:  http://192.168.4.1 \r\nExpect: 100-Continue\r\n"
                     b"User-Agent: ignored\r\nIf-None-Match: \xff\xfe\r\n\r\n")  # not UTF-8: dropped
    assert (request.host, request.length, request.session, request.csrf, request.expect, request.type) == \
        ("192.168.4.1", 12, "abc123", "t", "100-Continue", JSON_TYPE)
    assert (request.auth, request.etag, request.site) == (None, None, None)  # not sent: the defaults
    assert not admin.cross_site(request)
    request.origin = "http://evil.example"
    assert admin.cross_site(request)
    request.origin = None
    request.site = "cross-site"
    assert admin.cross_site(request)
    assert parsed(b"GET /config HTTP/1.1\r\n\r\n").session is None  # none came (routes.keep)
    page = parsed(b"GET /app.js HTTP/1.1\r\nHost: h\r\nCookie: hanreader=abc\r\nIf-None-Match: \"1-2\"\r\n\r\n")
    assert (page.host, page.etag, hasattr(page, "session")) == ("h", '"1-2"', False)  # a page keeps its ETag alone
    assert parsed(b"GET / HTTP/1.1\r\n\r\n").etag is None  # none came (pages.keep)


def test_dashboard_polls_keep_only_their_host_and_load_nothing_more():
    web = server.Web(FakeApp())
    head = b"GET /api/data HTTP/1.1\r\nHost: h\r\nCookie: hanreader=t\r\nContent-Length: 2\r\n\r\n"
    request = read_head(Stream([head]), web=web)  # a poll has no attributes for routes.py's headers
    assert (request.rare, web.rare, request.host, hasattr(request, "session"), request.length) == \
        (False, 0, "h", False, 2)
    request = read_head(Stream([head.replace(b"data", b"status")]), web=web)  # the status page's poll
    assert (request.rare, web.rare, request.host, hasattr(request, "session")) == (False, 0, "h", False)
    request = read_head(Stream([head.replace(b"data", b"session")]), web=web)  # routes.py answers it
    assert (request.rare, web.rare, request.host, request.session) == (2, 1, "h", "t")  # (http._ROUTES)
    request = read_head(Stream([head.replace(b"/api/data", b"/app.css")]), web=web)  # pages.py answers it
    assert (request.rare, web.rare, request.host, request.etag, hasattr(request, "session")) == \
        (1, 2, "h", None, False)  # (http._PAGE)
    for path in (b"/api/datum", b"/api/", b"/status/x", b"/config"):  # not a poll, nor a page of pages.py's
        assert read_head(Stream([head.replace(b"/api/data", path)]), web=web).rare == 2, path
    web.app.safe_mode = True  # routes.py answers every request (it serves only some)
    for path in (b"/api/data", b"/app.css"):
        assert read_head(Stream([head.replace(b"/api/data", path)]), web=web).rare == 2, path
    web.app.safe_mode = False
    web.rare = 1
    web.app.wifi.ap = True  # a phone's captive-portal check is told by the Host (see http.exchange)
    request = read_head(Stream([head]), web=web)
    assert (request.rare, web.rare, request.host, hasattr(request, "session")) == (False, 1, "h", False)
    for header in (b"Content-Length: -1", b"Content-Length: lots", b"Transfer-Encoding: chunked"):
        error = raises(http.HttpError, parsed, b"POST / HTTP/1.1\r\n" + header + b"\r\n\r\n")
        assert refused(error)[0][:3] in ("400", "501")


JSON_TYPE = "application/json"


def test_cookie_value():
    def session(*cookies):
        return parsed(b"GET /config HTTP/1.1\r\n" + b"".join(b"Cookie: " + c + b"\r\n" for c in cookies) + b"\r\n").session
    assert session(b"hanreader=x1") == "x1"
    assert session(b"a=1;hanreader=x2 ;b=2") == "x2"
    assert session(b"hanreaderx=1; xhanreader=2") is None
    assert session(b"hanreader=x3", b"other=1") == "x3"  # a later Cookie header without ours keeps it


def test_lines_bounded_by_the_buffer():
    request = http.Request(None, 0)
    long_header = b"X-Long: " + b"a" * (http.BUFFER * 2) + b"\r\n"
    stream = Stream([b"POST / HTT", b"P/1.1\r\nHost: h\r\n", long_header[:300], long_header[300:],
                     b"Content-Length: 4\r\n\r\nbo", b"dy"])
    read_head(stream, request)  # the long line is skipped whole
    assert (request.method, request.path, request.host, request.length) == ("POST", "/", "h", 4)
    assert bytes(run(admin.body(request, stream))) == b"body" and request.read == 4
    assert raises(EOFError, read_head, stream, http.Request(None, 0))


def test_a_connection_gets_a_fresh_slot_and_the_server_keeps_none():
    web = server.Web(FakeApp())
    assert web.slots == []  # slots are made as connections come (server.py), not kept
    slot = http.Request("task", 1234)
    assert (len(slot.buf), slot.task, slot.fresh, slot.since, slot.deadline, slot.expired, slot.start, slot.end) \
        == (http.BUFFER, "task", True, 1234, 1234, False, 0, 0)
    assert (slot.method, slot.path, slot.rare, slot.host, hasattr(slot, "session")) == (None, "", False, "", False)
    read_head(Stream([b"GET /api/data HTTP/1.1\r\nHost: h\r\n\r\n"]), slot, web)
    assert not slot.fresh  # it has sent something: not a spare connection to give its slot up
    assert (slot.method, slot.path, slot.host) == ("GET", "/api/data", "h")


def test_whole_head_parsed_and_limits():
    web = server.Web(FakeApp())
    head = b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 11\r\n" \
           b"Cookie: hanreader=tok\r\n\r\npassword=xy"
    request = read_head(Stream([head]), None, web)
    assert (request.method, request.path, request.length, request.session) == ("POST", "/api/login", 11, "tok")
    assert bytes(run(admin.body(request, Stream()))) == b"password=xy"
    too_many = b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 41 + b"\r\n"  # more than http._MAX_HEADERS (40)
    assert refused(raises(http.HttpError, parsed, too_many)) == \
        ("431 Request Header Fields Too Large", "too many header lines")
    huge = b"GET / HTTP/1.1\r\n" + (b"A: " + b"b" * 400 + b"\r\n") * 11 + b"\r\n"
    assert refused(raises(http.HttpError, parsed, huge)) == \
        ("431 Request Header Fields Too Large", "the request head is too long")
    long_line = b"GET /" + b"a" * http.BUFFER + b" HTTP/1.1\r\n\r\n"
    assert refused(raises(http.HttpError, parsed, long_line))[0].startswith("414")
    assert refused(raises(http.HttpError, parsed, b"hello\r\n"))[0].startswith("400")


def test_out_buffers_and_passes_big_pieces_through():
    out = Out()
    out.put("a" * 100)
    assert out.stream.written == []
    out.put(b"b" * (http.BUFFER - 50))  # does not fit: the first piece goes
    assert out.stream.written == [b"a" * 100]
    out.put("c" * (http.BUFFER + 1))    # larger than the buffer: straight through
    assert out.text() == "a" * 100 + "b" * (http.BUFFER - 50) + "c" * (http.BUFFER + 1)


def test_numbers_written_as_digits():
    out = Out()
    for n in (0, 7, -7, 10, 826, -123456789, 2 ** 40):
        out.number(n)
        out.put(" ")
    assert out.text() == "0 7 -7 10 826 -123456789 %d " % 2 ** 40
    out = Out()
    out.put("x" * (http.BUFFER - 3))
    out.number(123456)  # does not fit: the buffer goes first
    assert out.text() == "x" * (http.BUFFER - 3) + "123456"


def test_status_lines_and_headers():
    out = Out()
    out.error("404 Not Found", 'no "such" page')
    text = out.text()
    assert text.startswith("HTTP/1.1 404 Not Found\r\nConnection: close\r\n")
    assert "Content-Type: application/json\r\n" in text and "Cache-Control: no-store\r\n" in text
    assert json.loads(text.split("\r\n\r\n", 1)[1]) == {"error": 'no "such" page'}
    head, page = sent("/")
    assert head.startswith("HTTP/1.1 200 OK\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n")
    assert "Content-Type: text/html; charset=utf-8\r\n" in head and "Cache-Control: no-cache\r\n" in head
    assert "Content-Security-Policy: default-src 'self'" in head and "X-Frame-Options: DENY" in head
    assert "Content-Length: %d\r\n" % len(page.encode()) in head and page.startswith("<!doctype html>")
    assert sent("/status")[1].startswith("<!doctype html>")
    for path, kind in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
        head, _ = sent(path)
        assert "\r\nContent-Type: %s\r\n" % kind in head and "X-Frame-Options" not in head, path
    etag = head.split("\r\nETag: ")[1].split("\r\n")[0]
    assert sent("/app.css", etag) == ("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n"
                                      "X-Content-Type-Options: nosniff\r\nETag: %s" % etag, "")
    assert sent("/app.css", '"other"')[0].startswith("HTTP/1.1 200 OK\r\n")
    error = raises(http.HttpError, sent, "/nothing.js")  # the firmware lacks it: refusals.py has the words
    out = Out()
    run(refusals.refuse(server.Web(FakeApp()), http.Request(None, 0), out.stream, error.args))
    assert out.text().startswith("HTTP/1.1 404 Not Found\r\n")
    assert json.loads(out.text().split("\r\n\r\n", 1)[1]) == {"error": "nothing.js is missing from the firmware"}


def sent(path, etag=None):
    """(head, body) pages.py sends for a GET of `path` (with If-None-Match: `etag`)."""
    out = Out()
    request = http.Request(None, 0)
    pages.keep(request)  # as for the requests pages.py answers (http.head)
    request.path = path
    request.etag = etag
    run(pages.send(request, out))
    return tuple(out.text().split("\r\n\r\n", 1))


def test_www_folder_next_to_lib():
    class Files:  # pages.py's os: where it looks for a file (none is there)
        def stat(self, path):
            self.looked = path
            raise OSError(2)

    loaded = pages.__file__, pages.os
    pages.os = files = Files()
    try:
        for here, folder in (("/lib/app/web/pages.mpy", "/www"), ("firmware/lib/app/web/pages.py", "firmware/www"),
                             ("/x/build/sim-mpy/lib/app/web/pages.mpy", "/x/build/sim-mpy/www"),
                             ("app/web/pages.py", "www")):  # frozen, or run from lib/ itself
            pages.__file__ = here
            raises(http.HttpError, sent, "/app.js")
            assert files.looked == folder + "/app.js", (here, files.looked)
    finally:
        pages.__file__, pages.os = loaded


# --- captive portal ---

def test_captive_portal_rule():
    for host, path in (("connectivitycheck.gstatic.com", "/generate_204"), ("captive.apple.com", "/hotspot-detect.html"),
                       ("www.msftconnecttest.com", "/connecttest.txt"), ("example.com", "/"),
                       ("192.168.4.1", "/generate_204")):
        assert " %s " % path in routes.PROBES or http.foreign_host(host, "hanreader"), (host, path)
    for host in ("192.168.4.1", "192.168.4.1:80", "127.0.0.1:8080", "hanreader", "HANREADER.local",
                 "hanreader.fritz.box", "localhost:8080", "[::1]:80", ""):
        assert not http.foreign_host(host, "hanreader"), host
    assert " /config " not in routes.PROBES and routes.PROBES.count(" /") == 10
    assert not http.foreign_host("10.0.0.1", "") and http.foreign_host("a.b", "") and http.foreign_host(":80", "h")


# --- bodies ---

def test_form_fields():
    assert admin.form_fields(b"a=1&b=x+y&c=%C3%A9%3D%26&d=&e") == {"a": "1", "b": "x y", "c": "é=&", "d": "", "e": ""}
    assert admin.form_fields(b"a=1&a=2") == {"a": "2"}  # the last wins: a checkbox after its hidden "false"
    assert admin.form_fields(b"") == {}
    assert admin.form_fields(b"k=%zz%4") == {"k": "%zz%4"}  # malformed escapes kept
    assert admin.form_fields("meter.key=00%3A11+22") == {"meter.key": "00:11 22"}
    raises(ValueError, admin.form_fields, b"&".join(b"f%d=1" % i for i in range(admin.MAX_FIELDS + 1)))
    raises(ValueError, admin.form_fields, b"a=%FF")
    raises(ValueError, admin.form_fields, b"a=\xff")


def test_json_fields_flattened():
    fields = admin.json_fields(b'{"meter": {"rx_pin": 16, "key": null}, "web.password": "pw", "csrf": "t"}')
    assert fields == {"meter.rx_pin": 16, "meter.key": None, "web.password": "pw", "csrf": "t"}
    raises(ValueError, admin.json_fields, b"[1, 2]")
    raises(ValueError, admin.json_fields, b"{nope")


def test_basic_password():
    assert admin.basic_password("Basic YWRtaW46aHVudGVyMjI=") == "hunter22"   # admin:hunter22
    assert admin.basic_password("Basic OmE6Yg==") == "a:b"                    # :a:b
    assert admin.basic_password("Bearer x") is None and admin.basic_password(None) is None
    assert admin.basic_password("Basic bm9jb2xvbg==") is None  # "nocolon"


# --- password hash and sessions ---

def _derived(password, salt, iterations):
    key = bytearray(32)
    for _ in auth.derive(password, salt, iterations, key):
        pass
    return bytes(key).hex()


def test_pbkdf2_hmac_sha256_vectors():
    # RFC 7914 section 11 and the widely published PBKDF2-HMAC-SHA256 vectors.
    assert _derived("password", b"salt", 1) == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
    assert _derived("password", b"salt", 2) == "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"
    assert _derived("password", b"salt", 4096) == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
    assert _derived("passwd", b"salt", 1)[:32] == "55ac046e56e3089fec1691c22544b605"  # RFC 7914, first 16 bytes
    long_password = "x" * 100  # longer than the HMAC block: hashed first
    assert _derived(long_password, b"s", 2) != _derived("x" * 64, b"s", 2)


def test_derivation_yields_to_the_loop():
    steps = sum(1 for _ in auth.derive("pw", b"salt", auth.ITERATIONS, bytearray(32)))
    assert steps == (auth.ITERATIONS - 1) // auth.BATCH


def test_hash_format():
    salt = bytes(range(16))
    key = bytearray(32)
    for _ in auth.derive("correct horse", salt, 10, key):
        pass
    stored = auth.format_hash(10, salt, key)
    assert stored.startswith("pbkdf2-sha256$10$000102030405060708090a0b0c0d0e0f$") and len(stored) <= 128
    assert config_store.validate(config_store.merged(config_store.defaults(), {"web": {"password_hash": stored}}))[0] == {}
    assert auth.parse_hash(stored) == (10, salt, bytes(key))
    for bad in ("", "plain", "md5$1$00$00", "pbkdf2-sha256$x$00$" + "00" * 32, "pbkdf2-sha256$10$zz$" + "00" * 32,
                "pbkdf2-sha256$10$00$0011", "pbkdf2-sha256$0$00$" + "00" * 32):
        assert auth.parse_hash(bad) is None, bad
    assert stored != auth.format_hash(10, bytes(16), key)


def test_constant_time_compare():
    assert auth.same("abc", "abc") and auth.same(b"abc", "abc")
    assert not auth.same("abc", "abd") and not auth.same("abc", "ab") and not auth.same("", "a")


def test_password_rules():
    assert auth.password_problem("12345678") is None
    assert auth.password_problem("1234567") == "must be at least 8 characters"
    assert auth.password_problem("x" * 65) == "must be at most 64 characters"
    assert auth.password_problem("12345678", "12345679") == "the two passwords differ"
    assert auth.password_problem(None) == "must be text"


def test_sessions_bounded_idle_and_random():
    sessions = []
    first = auth.create(sessions, 1000)
    assert len(first[0]) == 32 and len(first[1]) == 32 and first[0] != first[1]
    assert auth.find(sessions, first[0], 2000) is first and first[2] == 2000
    assert auth.find(sessions, "0" * 32, 2000) is None
    assert auth.find(sessions, first[0], 2000 + auth.IDLE_MS + 1) is None and sessions == []  # idle: gone
    made = [auth.create(sessions, 10 * i) for i in range(auth.SESSIONS)]
    auth.find(sessions, made[0][0], 100)  # the oldest is used again: the second oldest goes
    extra = auth.create(sessions, 200)
    assert len(sessions) == auth.SESSIONS and made[1] not in sessions and made[0] in sessions and extra in sessions
    assert len(set(entry[0] for entry in sessions)) == auth.SESSIONS
    assert "HttpOnly" in auth.cookie("t") and "SameSite=Strict" in auth.cookie("t")
    assert "Max-Age=0" in auth.cookie("")


# --- the settings form ---

def test_form_text_becomes_the_setting_type():
    assert settings.convert("16", 16) == (16, None)
    assert settings.convert(" -1 ", 2) == (-1, None)
    assert settings.convert("sixteen", 16) == ("sixteen", "must be a whole number")
    assert settings.convert("on", False) == (True, None) and settings.convert("false", True) == (False, None)
    assert settings.convert("maybe", False)[1] == "must be true or false"
    assert settings.convert("x", "") == ("x", None) and settings.convert(7, "") == (7, None)


def test_bad_gpio_and_short_key_are_field_errors():
    stored = config_store.defaults()
    config, errors, warnings, password = settings.candidate(stored, {
        "meter.rx_pin": "6", "meter.key": "00112233445566778899AABBCCDDEEF", "mqtt.port": "x", "csrf": "t"})
    assert errors["meter.rx_pin"] == "GPIO6 is wired to the flash chip on ESP32-WROOM modules: using it crashes the board"
    assert errors["meter.key"] == "must be 32 hex digits (16 bytes), not 31"
    assert errors["mqtt.port"] == "must be a whole number"
    assert "00112233445566778899AABBCCDDEEF" not in json.dumps(errors)  # a key is never quoted back
    assert password is None and "led.pin" in warnings


def test_pasted_keys_empty_secrets_and_clearing():
    stored = config_store.merged(config_store.defaults(), {"meter": {"key": "0" * 32}, "mqtt": {"password": "pw"}})
    key = "00:11:22:33 44:55:66:77 88:99:AA:BB:CC:DD:EE:FF"
    config, errors, _, _ = settings.candidate(stored, {"meter.auth_key": key, "meter.key": "", "mqtt.password": "",
                                                       "clear.mqtt.password": "true", "meter.invert": "true"})
    assert errors == {}
    assert config["meter"]["auth_key"] == key and config["meter"]["key"] == "0" * 32  # empty keeps
    assert config["mqtt"]["password"] == "" and config["meter"]["invert"] is True
    config, errors, _, _ = settings.candidate(stored, {"meter.key": None})  # JSON null clears
    assert errors == {} and config["meter"]["key"] == ""
    _, errors, _, _ = settings.candidate(stored, {"clear.meter.rx_pin": "true", "meter.nope": "1",
                                                  "web.password_hash": "x"})
    assert set(errors) == {"clear.meter.rx_pin", "meter.nope", "web.password_hash"}


def test_new_admin_password_in_the_form():
    stored = config_store.defaults()
    _, errors, _, password = settings.candidate(stored, {"web.password": "short", "web.password2": "short"})
    assert errors == {"web.password": "must be at least 8 characters"}
    _, errors, _, _ = settings.candidate(stored, {"web.password": "long enough", "web.password2": "long enougH"})
    assert errors == {"web.password2": "the two passwords differ"}
    _, errors, _, password = settings.candidate(stored, {"web.password": "long enough", "web.password2": "long enough"})
    assert errors == {} and password == "long enough"
    _, errors, _, password = settings.candidate(stored, {"web.password": "", "web.password2": ""})
    assert errors == {} and password is None


def test_every_setting_is_on_the_config_page():
    with open(FRAMES.rsplit("/frames", 1)[0] + "/firmware/www/config.html") as f:
        page = f.read()
    for section, field, _, _, secret in config_store.SCHEMA:
        if (section, field) == ("web", "password_hash"):
            assert 'name="web.password"' in page and 'name="web.password2"' in page
            continue
        tag = page[page.index('name="%s.%s"' % (section, field)):]
        assert ("data-secret" in tag[:tag.index(">")]) == secret, field  # secrets: "set" / "not set"
    for choice in config_store.SERIAL_BAUDS[1:]:
        assert "<option>%d</option>" % choice in page
    for hint in config_store.METER_HINTS[1:]:
        assert 'value="%s"' % hint in page
    assert "Encryption key (GUEK; Danish grid operators call it GPK60)" in page
    assert "Authentication key (GAK; GPK61)" in page


# --- JSON writers ---

class FakeWifi:
    ap = False


class FakeApp:
    def __init__(self):
        self.wifi = FakeWifi()
        self.state = State()
        self.config = config_store.defaults()
        self.safe_mode = False
        self.meter = None


def _kamstrup_reading():
    pipeline = Pipeline()
    events = list(pipeline.feed(read_bytes(FRAMES + "/amshan/kamstrup-se-list-3phase-hdlc.bin")))
    events += list(pipeline.flush())
    readings = [e for e in events if not hasattr(e, "code")]
    assert len(readings) == 1, events
    return readings[0]


def test_value_parts_are_exact_text():
    assert api.parts(Quantity(237, -2, 33)) == ("2.37", "2.37", "A")
    assert api.parts(Quantity(-5, -1, 27)) == ("-0.5", "-0.5", "W")
    assert api.parts(Quantity(85823280, 0, 30)) == ("85823280", "85823280", "Wh")
    assert api.parts(Quantity(1234, 3, 30))[1] == "1234000"
    assert api.parts(Decimal(12345, -3)) == ("12.345", "12.345", None)
    assert api.parts(True) == ("true", "true", None) and api.parts(7) == ("7", "7", None)
    assert api.parts(b"AB\x01") == ('"414201"', "414201", None) and api.parts(b"Kam") == ('"Kam"', "Kam", None)
    assert api.parts("Kamstrup_V0001")[1] == "Kamstrup_V0001"
    stamp = DateTime(bytes([0x07, 0xE6, 1, 24, 1, 18, 58, 50, 0, 0xFF, 0xC4, 0x00]))
    assert api.parts(stamp)[1] == iso(stamp)
    assert api.parts([Quantity(1, 0, 27), "x"]) == ('[1, "x"]', "1, x", None)


def test_decimal_digits_written_in_place():
    for raw, scaler in ((237, -2), (89, -2), (5, -2), (-5, -1), (-237, -2), (0, -3), (826, 0), (-826, 0),
                        (1234, 3), (12345678, -6), (1, -7), (2 ** 40, -1), (-(2 ** 31), 0)):
        out = Out()
        out.put("x" * (http.BUFFER - 5))  # the digits go over the buffer's end: sent on the way
        api._decimal(out, raw, scaler)
        assert out.text() == "x" * (http.BUFFER - 5) + decimal_text(raw, scaler), (raw, scaler)


def test_polls_put_the_head_reply_writes():
    out = Out()
    out.start("200 OK", http.JSON, "Cache-Control: no-store\r\n")
    assert http.OK_JSON.decode() == out.text()


def test_data_json_has_obis_names_and_exact_text():
    app = FakeApp()
    out = Out()
    run(api.data(app, out, 5000))
    assert out.body() == {"readings": 0, "age_s": None, "time": None, "meter": {}, "values": []}
    app.state.reading = _kamstrup_reading()
    app.state.reading_ms = 1000
    app.state.readings = 1
    out = Out()
    run(api.data(app, out, 4500))
    data = out.body()
    assert data["age_s"] == 3 and data["time"] == "2022-01-24T18:58:50" and data["readings"] == 1
    assert data["meter"]["manufacturer"] == "Kamstrup" and data["meter"]["list"] == "Kamstrup_V0001"
    by_name = {}
    for v in data["values"]:
        by_name.setdefault(v["name"], v)
    assert by_name["power_import"] == {"obis": "1.1.1.7.0.255", "name": "power_import", "value": 826, "text": "826",
                                       "unit": "W"}
    assert by_name["current_l2"]["text"] == "0.89" and by_name["voltage_l3"]["text"] == "236"
    assert len(data["values"]) == 13
    assert '"text": "0.89"' in out.text() and '"value": 0.89,' in out.text()  # the exact digits on the wire
    with_pairs(app.state.reading, pairs(app.state.reading) + [(b"\x01\x01\x63\x63\x00\xff", 5)])
    out = Out()
    run(api.data(app, out, 4500))
    assert out.body()["values"][-1] == {"obis": "1.1.99.99.0.255", "name": None, "value": 5, "text": "5"}


def history_points(app, query=""):
    out = Out()
    run(history.history(app, out, query))
    return out.body()


def test_history_json_from_the_ring():
    app = FakeApp()
    state = app.state
    for i in range(HISTORY + 5):  # the ring has wrapped
        state.uptime_s = 100 + i
        state.add_power(i)
    state.uptime_s = 100 + HISTORY + 5
    found = history_points(app)
    assert found["count"] == HISTORY + 5 and len(found["points"]) == HISTORY
    assert found["points"][0] == [HISTORY, 5] and found["points"][-1] == [1, HISTORY + 4]
    assert [age for age, _ in found["points"]] == list(range(HISTORY, 0, -1))
    assert history_points(app, "after=%d" % (HISTORY + 3))["points"] == [[2, HISTORY + 3], [1, HISTORY + 4]]
    assert len(history_points(app, "after=99999")["points"]) == HISTORY  # restarted since: all


def test_history_ages_past_the_ticks_wrap_and_long_silences():
    # Times are the uptime's (app/health.py counts it across the wrap of ticks_ms, every 12.4
    # days), each sample's as the 16-bit gap from the one before: past 65535 s that tells no more.
    app = FakeApp()
    state = app.state
    day = 86400
    state.uptime_s = (1 << 30) // 1000 - 15  # ticks_ms() // 1000 would start again from 0 in 15 s
    for watts in (100, 200, 300):
        state.uptime_s += 10
        state.add_power(watts)
    state.uptime_s += 5
    assert history_points(app)["points"] == [[25, 100], [15, 200], [5, 300]]
    state.uptime_s += day  # the meter silent for a day: its samples are that much older
    assert history_points(app)["points"] == [[day + 25, 100], [day + 15, 200], [day + 5, 300]]
    state.add_power(400)  # then back: the old samples are at least 65535 s old, never recent
    state.uptime_s += 2
    state.add_power(500)
    state.uptime_s += 3
    points = history_points(app)["points"]
    assert points[-2:] == [[5, 400], [3, 500]]
    assert [watts for _, watts in points] == [100, 200, 300, 400, 500]
    assert points[2][0] == 5 + 65535 and points[0][0] == 25 + 65535  # (a gap tells 65535 s at most)
    assert history_points(app, "after=3")["points"] == [[5, 400], [3, 500]]


def test_history_samples_overwritten_while_it_is_sent():
    # New samples may come while the answer waits for the socket: those they overwrote are left
    # out, and the ages of the rest stay right.
    app = FakeApp()
    state = app.state
    for i in range(HISTORY):
        state.uptime_s += 1 + i % 7  # uneven gaps
        state.add_power(i)
    state.uptime_s += 4
    expected = history_points(app)["points"]

    class Busy(Out):
        async def flush(self):  # 50 new readings the first time the buffer goes out, one later
            await Out.flush(self)
            for _ in range(50 if state.power_count == HISTORY else 1):
                state.uptime_s += 10
                state.add_power(-1)

    out = Busy()
    run(history.history(app, out, ""))
    sent = out.body()["points"]
    watts = [w for _, w in sent]
    assert sent[0] == expected[0] and all(point == expected[point[1]] for point in sent)  # (watts = i)
    assert len(sent) < HISTORY and any(b - a > 1 for a, b in zip(watts, watts[1:]))  # some left out
    assert watts[-1] == HISTORY - 1  # the newest is sent, with its age


def test_the_power_history_poll_loads_no_values_text():
    # /api/history comes right after /api/data at each new reading: without han.text (the values'
    # text and friendly names) and api.py, it needs less room than the poll before it
    kept = {name: sys.modules[name] for name in ("han.text", "app.web.api", "app.web.history")
            if name in sys.modules}
    for name in ("han.text", "app.web.api", "app.web.history"):
        unload(name)
    try:
        __import__("app.web.history")
        assert "han.text" not in sys.modules and "app.web.api" not in sys.modules
    finally:
        sys.modules.update(kept)


def test_status_json():
    if not IS_MICROPYTHON:
        return  # the heap figures come from MicroPython's gc
    app = FakeApp()
    app.hal = None  # no signal strength to tell
    app.state.last_error = ("checksum", "the frame check sequence does not match", "7ea0")
    web = server.Web(app)
    web.served = 5
    out = Out()
    run(status.status(app, out, web))
    found = out.body()
    assert found["serial"] == "" and found["rx_pin"] == 16 and found["good"] == 0 and found["rssi"] is None
    assert found["last_error"] == {"code": "checksum", "detail": "the frame check sequence does not match",
                                   "hex": "7ea0"}
    assert found["web"] == {"served": 5, "refused": 0, "timeouts": 0} and found["heap_free"] > 0


def test_settings_json_masks_secrets():
    app = FakeApp()
    app.config = config_store.merged(app.config, {"meter": {"key": "0" * 32}, "wifi": {"ssid": 'my "net"'}})
    out = Out()
    run(settings.show(app, out))
    assert out.body() == config_store.masked(app.config)
    assert "0" * 32 not in out.text()


# --- no room in the heap for a request ---

class Log:
    def __init__(self):
        self.lines = []

    def warning(self, text):
        self.lines.append(text)

    error = info = warning


class ClosingStream(Stream):
    closed = False

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass


POLL = b"GET /api/data HTTP/1.1\r\nHost: h\r\n\r\n"


def poll_while_api_data_is(data):
    """A dashboard poll answered while api.data is `data`: (web, stream, exception raised)."""
    app = FakeApp()
    app.log = Log()
    web = server.Web(app)
    stream = ClosingStream([POLL])
    real = api.data
    api.data = data
    try:
        run_with_sleep_ms(http.exchange(web, http.Request("task", time.ticks_ms()), stream))
        raised = None
    except MemoryError as e:
        raised = e
    finally:
        api.data = real
    return web, stream, raised


def run_with_sleep_ms(coroutine):
    """run_on_loop(), CPython's asyncio given MicroPython's sleep_ms for it."""
    import asyncio
    shim = not hasattr(asyncio, "sleep_ms")  # CPython
    if shim:
        asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)
    try:
        return run_on_loop(coroutine)
    finally:
        if shim:
            del asyncio.sleep_ms


def test_a_poll_without_room_for_its_answer_waits_for_it_then_is_told_so_with_a_503():
    tries = []

    async def no_room(app, out, now_ms=None):
        tries.append(out.n)
        out.put(http.OK_JSON)  # gathered, not sent yet: the answer can still be replaced
        raise MemoryError
    web, stream, raised = poll_while_api_data_is(no_room)
    answer = b"".join(stream.written)
    assert len(tries) > 5 and set(tries) == {0}  # tried again and again (1 s), each from the start
    assert raised is None and answer == server.NO_ROOM
    head, body = answer.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ")
    assert "short of memory" in json.loads(body)["error"]
    assert web.app.log.lines == ["Web: no room in the heap to answer a request: 503 sent"]


def test_a_poll_whose_answer_finds_room_after_a_wait_is_answered():
    # A push being decoded holds the room for a moment: the answer is tried again, not refused.
    tries = []
    real = api.data

    async def room_at_the_third_try(app, out, now_ms=None):
        tries.append(out.n)
        if len(tries) < 3:
            out.put(http.OK_JSON)
            raise MemoryError
        await real(app, out)
    web, stream, raised = poll_while_api_data_is(room_at_the_third_try)
    head, body = b"".join(stream.written).split(b"\r\n\r\n")
    assert tries == [0, 0, 0] and raised is None and head + b"\r\n\r\n" == http.OK_JSON
    assert "readings" in json.loads(body) and web.app.log.lines == []


def test_an_answer_under_way_when_the_room_runs_out_is_cut_short_not_followed_by_a_503():
    async def no_room_half_way(app, out, now_ms=None):
        out.put(http.OK_JSON)
        await out.flush()  # the head has gone out
        raise MemoryError
    web, stream, raised = poll_while_api_data_is(no_room_half_way)
    assert isinstance(raised, MemoryError) and web.app.log.lines == []
    assert b"".join(stream.written) == http.OK_JSON


class Socket:
    """The socket under a stream: what the client sent, read without waiting (None: no more now)."""

    def __init__(self, data):
        self.data = data

    def readinto(self, buf):
        if not self.data:
            return None
        n = min(len(buf), len(self.data))
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


class Scattered:
    """Stands in for app.web.http when the heap has no room to load it: the first `failures`
    times it is looked into (all of them by default), then it is the real module."""

    def __init__(self, failures=-1):
        self.failures = failures
        self.tries = 0

    def __getattr__(self, name):
        self.tries += 1
        if self.failures < 0 or self.tries <= self.failures:
            raise MemoryError
        return getattr(http, name)


def serve_while_http_is(stand_in, stream, beside=None):
    """server.Web._serve of one connection while app.web.http is `stand_in` (None: not loaded,
    the real one comes), on the event loop (the server waits for room with asyncio.sleep_ms),
    with the coroutine `beside` running as a task of its own: the Web."""
    import asyncio
    app = FakeApp()
    app.log = Log()
    web = server.Web(app)
    shim = not hasattr(asyncio, "sleep_ms")  # CPython
    if shim:
        asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)
    loaded, linger = sys.modules.pop("app.web.http"), server.LINGER_MS
    if stand_in is not None:
        sys.modules["app.web.http"] = stand_in
    server.LINGER_MS = 1  # no unloading of the answering code after it (the other tests use it)
    link = sys.modules.pop("app.mqtt_link", None)  # (other tests' MQTT connecting: a request waits for it)

    async def serve():
        if beside is not None:
            asyncio.create_task(beside)
            await asyncio.sleep_ms(0)
        await web._serve(stream, None)
        if web.watcher is not None:  # it would unload the answering code the other tests use
            web.watcher.cancel()
            await asyncio.sleep_ms(0)
    try:
        run_on_loop(serve())
    finally:
        sys.modules["app.web.http"], server.LINGER_MS = loaded, linger
        if link is not None:
            sys.modules["app.mqtt_link"] = link
        if shim:
            del asyncio.sleep_ms
    return web


def test_a_request_without_room_for_the_answering_code_waits_for_it_then_is_told_so_with_a_503():
    stream = ClosingStream()
    stream.s = Socket(POLL * 20)  # a request the server had no room to read: taken in before closing
    scattered = Scattered()
    web = serve_while_http_is(scattered, stream)
    assert scattered.tries > 10  # tried again and again while it waited (2 s)
    assert b"".join(stream.written) == server.NO_ROOM and stream.closed and stream.s.data == b""
    assert web.app.log.lines == ["Web: no room in the heap to answer a request: 503 sent"]
    assert web.slots == [] and web.served == 0


def test_a_request_that_finds_room_after_a_wait_is_answered():
    # A push being decoded or an MQTT message being published holds the room for a moment: the
    # request waits for it instead of getting a 503.
    stream = ClosingStream([POLL])
    scattered = Scattered(failures=3)
    web = serve_while_http_is(scattered, stream)
    answer = b"".join(stream.written)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'"readings"' in answer
    assert web.app.log.lines == [] and web.served == 1 and web.slots == []


def test_a_request_waits_while_mqtt_connects():
    # Connecting to MQTT holds its code (app.mqtt_link) for as long as the broker takes: the
    # request's code is loaded once that is done.
    import asyncio
    if not hasattr(asyncio, "sleep_ms"):
        return  # (MicroPython's asyncio: the test runs under MicroPython)
    stream = ClosingStream([POLL])
    loaded = []

    class Connecting:
        pass

    async def connecting():
        sys.modules["app.mqtt_link"] = Connecting
        await asyncio.sleep_ms(250)
        loaded.append("app.web.http" in sys.modules)
        del sys.modules["app.mqtt_link"]

    web = serve_while_http_is(None, stream, connecting())
    assert loaded == [False]  # not loaded while MQTT was connecting
    assert b"".join(stream.written).startswith(b"HTTP/1.1 200 OK\r\n") and web.served == 1


def test_a_refused_request_without_room_for_its_answer_is_told_so_with_a_503():
    # A refusal's answer is written by routes.py (Reply, from refusals.refuse): with no room to
    # load it, the constant 503 goes out, not a connection closed with nothing.
    app = FakeApp()
    app.log = Log()
    web = server.Web(app)
    stream = ClosingStream([b"hello\r\n\r\n"])  # not an HTTP request: refused
    request = http.Request("task", time.ticks_ms())
    from app.web import routes as loaded  # (again, if an exchange before unloaded it)
    sys.modules["app.web.routes"] = Scattered()
    try:
        run_on_loop(http.exchange(web, request, stream))  # (the unread rest is taken in: wait_for_ms)
    finally:
        sys.modules["app.web.routes"] = loaded
    assert b"".join(stream.written) == server.NO_ROOM
    assert web.app.log.lines == ["Web: no room in the heap to answer a request: 503 sent"]
    assert request.rare and web.rare == 0  # counted, and exchange's end unloaded what it may have loaded


def test_a_refused_request_is_answered_with_its_words():
    web = server.Web(FakeApp())
    stream = ClosingStream([b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"])
    run_on_loop(http.exchange(web, http.Request("task", time.ticks_ms()), stream))
    head, body = b"".join(stream.written).split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 501 Not Implemented\r\n")
    assert json.loads(body) == {"error": "chunked request bodies are not accepted"}
    assert web.rare == 0 and web.served == 1


def test_the_answering_code_goes_with_the_values_text():
    # api.py renders with han.text; the decoder never loads it, so it goes with the answering code
    import han.text  # noqa: F401 - as a poll's answer loaded it
    kept = {name: module for name, module in sys.modules.items() if name.startswith("app.web.") or name == "han.text"}
    web = server.Web(FakeApp())
    try:
        web._unload()
        assert "han.text" not in sys.modules and "app.web.http" not in sys.modules
        assert "app.web.server" in sys.modules
    finally:
        sys.modules.update(kept)


def test_answering_no_room_needs_no_room():
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        return  # CPython: the heap cannot be locked
    web = server.Web(FakeApp())
    stream = Stream()
    stream.write = lambda data: raise_memory_error()  # the stream's buffer would need room
    heap_lock()
    try:
        web.short_of_room(stream)  # nothing raised: the client gets nothing, the server goes on
    finally:
        heap_unlock()


def raise_memory_error():
    raise MemoryError


def test_a_connection_no_slot_came_for_is_turned_away_with_a_503():
    import asyncio
    if not hasattr(asyncio, "wait_for_ms"):
        return  # CPython: MicroPython's asyncio.wait_for_ms
    stream = Stream()

    async def read(n):
        return b"GET / HTTP/1.1\r\n\r\n"

    stream.read = read
    asyncio.run(refusals.busy(stream))  # (wait_for_ms needs the event loop: run() would crash MicroPython)
    assert b"".join(stream.written).startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"".join(stream.written).endswith(b"\r\n\r\nBusy: too many connections; try again.\n")
