"""The admin side of the API, loaded for such a request and dropped after (see http.py):

    GET  /api/session    {"password_set", "logged_in", "csrf", "safe_mode"} for the pages
    POST /api/password   the first admin password (only while none is set): password, password2
    POST /api/login      password -> session cookie and CSRF token
    POST /api/logout     ends the session
    GET  /api/config     the configuration, secrets as "set" / "not set"        (admin)
    POST /api/config     change settings (see settings.py)                       (admin)
    POST /api/reboot     restart the device                                      (admin)

Admin means a session cookie plus, for a change, its CSRF token (X-CSRF-Token or a csrf form
field); or the password itself with the request (HTTP Basic: curl -u admin:PASSWORD, any user
name), which needs no CSRF token because browsers never send it by themselves (the server never
asks for it with WWW-Authenticate). No POST is taken from another site's page (Origin or
Sec-Fetch-Site). Bodies: a form (application/x-www-form-urlencoded) or a JSON object, at most
BODY_MAX bytes (CONFIG_BODY_MAX for the settings).
"""
import asyncio
from json import dumps

from app.web import auth
from app.web.http import JSON, HttpError

BODY_MAX = 512
CONFIG_BODY_MAX = 3072
MAX_FIELDS = 64
BODY_TIMEOUT_MS = 5000  # a request's body must have come within this


def unquote(text):
    """%XX escapes and "+" (a space in forms) decoded; malformed escapes are kept as they are."""
    if "%" not in text and "+" not in text:
        return text
    raw = text.encode()
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == 0x2B:  # +
            out.append(0x20)
        elif c == 0x25 and i + 2 < n and _hex_digit(raw[i + 1]) and _hex_digit(raw[i + 2]):  # %XX
            out.append(int(raw[i + 1:i + 3], 16))
            i += 2
        else:
            out.append(c)
        i += 1
    return out.decode()  # raises UnicodeError for bytes that are not UTF-8


def _hex_digit(c):
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def form_fields(data, limit=MAX_FIELDS):
    """{name: value} from an application/x-www-form-urlencoded body (bytes or str); the last of
    repeated names wins. Raises ValueError for more than `limit` fields or text that is not UTF-8."""
    try:
        if not isinstance(data, str):
            data = bytes(data).decode()
        fields = {}
        pairs = data.split("&") if data else ()
        if len(pairs) > limit:
            raise ValueError("more than %d fields" % limit)
        for pair in pairs:
            if pair:
                name, _, value = pair.partition("=")
                fields[unquote(name)] = unquote(value)
        return fields
    except UnicodeError:
        raise ValueError("the form is not UTF-8 text")


def json_fields(data, limit=MAX_FIELDS):
    """{name: value} from a JSON object; its objects are flattened to "section.field" names,
    values keep their JSON types."""
    from json import loads
    found = loads(data) if data else {}
    if not isinstance(found, dict):
        raise ValueError("not a JSON object")
    fields = {}
    for name, value in found.items():
        if isinstance(value, dict):
            for field, inner in value.items():
                fields[name + "." + field] = inner
        else:
            fields[name] = value
        if len(fields) > limit:
            raise ValueError("more than %d fields" % limit)
    return fields


def basic_password(header):
    """The password of "Basic base64(user:password)" (any user name), or None."""
    if not header or not header.startswith("Basic "):
        return None
    from binascii import a2b_base64
    try:
        user, colon, password = a2b_base64(header[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeError):
        return None
    return password if colon else None


def cross_site(request):
    """Whether a browser sent this from another site's page (then it may change nothing)."""
    if request.site == "cross-site":
        return True
    return request.origin is not None and request.origin != "http://" + request.host


async def body(request, stream):
    """The request body (what came with the head first, then the rest)."""
    length = request.length
    request.read = length
    data = bytearray(length)
    have = min(request.end - request.start, length)
    data[:have] = request.view[request.start:request.start + have]
    request.start += have
    view = memoryview(data)
    while have < length:
        got = await stream.readinto(view[have:])
        if got is None:
            continue
        if not got:
            raise EOFError
        have += got
    return data


async def fields(request, stream, limit=BODY_MAX):
    """The request body as fields (form or JSON), at most `limit` bytes."""
    if request.length > limit:
        raise HttpError("413 Payload Too Large", "the body is larger than %d bytes" % limit)
    if request.expect and request.expect.lower() == "100-continue":
        stream.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    data = await asyncio.wait_for_ms(body(request, stream), BODY_TIMEOUT_MS)
    try:
        return json_fields(data) if request.type.startswith(JSON) else form_fields(data)
    except ValueError as e:
        raise HttpError("400 Bad Request", "the body cannot be read: %s" % e)


def _bool(value):
    return "true" if value else "false"


async def handle(web, request, stream, out):
    app = web.app
    name = request.path[5:]
    get = request.method == "GET"
    if not get and request.method != "POST":
        out.error("405 Method Not Allowed", "only GET and POST", "Allow: GET, POST\r\n")
        return
    if not get and cross_site(request):
        out.error("403 Forbidden", "a request from another site's page is refused")
        return
    if name == "session" and get:
        entry = auth.find(web.sessions, request.session) if request.session else None
        out.json("200 OK", '{"password_set": %s, "logged_in": %s, "csrf": %s, "safe_mode": %s}' % (
            _bool(app.config["web"]["password_hash"]), _bool(entry), dumps(entry[1] if entry else None),
            _bool(app.safe_mode)))
    elif name in ("login", "password") and not get:
        await _log_in(web, request, stream, out, name == "password")
    elif name == "config" or (name in ("reboot", "logout") and not get):
        who = await _admin(web, request, out)
        if who is None:
            return
        if get:
            from app.web.settings import show
            await show(app, out)
            return
        posted = await fields(request, stream, CONFIG_BODY_MAX if name == "config" else BODY_MAX)
        if who is not True and not auth.same(request.csrf or posted.get("csrf") or "", who[1]):
            out.error("403 Forbidden", "the form is missing its CSRF token (reload the page)")
        elif name == "config":
            from app.web.settings import change
            await change(web, out, posted, who)
        elif name == "reboot":
            out.json("200 OK", '{"rebooting": true}')
            app.reboot("reboot from the web page")
        else:
            web.sessions.remove(who)
            out.json("200 OK", '{"logged_in": false}', auth.cookie(""))
    else:
        out.error("404 Not Found", "no such API: %s %s" % (request.method, request.path))


async def _admin(web, request, out):
    """Who may see or change settings: a session entry, True (the password came with the
    request), or None when refused (the answer is written)."""
    if not web.app.config["web"]["password_hash"]:
        out.error("401 Unauthorized", "no admin password is set yet: choose one at /login")
        return None
    password = basic_password(request.auth)
    if password is not None:
        verdict = await auth.check(web, password)
        if verdict is True:
            return True
        if verdict is None:
            out.error("429 Too Many Requests", "busy checking another password; try again")
        else:
            out.error("401 Unauthorized", "wrong password")
        return None
    entry = auth.find(web.sessions, request.session) if request.session else None
    if entry is None:
        out.error("401 Unauthorized", "log in first (POST /api/login, or curl -u admin:PASSWORD)")
    return entry


async def _log_in(web, request, stream, out, first):
    """POST /api/login (password) or, while none is set, POST /api/password (password and its
    repeat password2): a session cookie and the CSRF token, or why not."""
    from app import config as config_store
    posted = await fields(request, stream)
    password = posted.get("password")
    app = web.app
    stored = app.config["web"]["password_hash"]
    if first:
        if stored:
            out.error("409 Conflict", "an admin password is already set: log in, then change it on the config page")
            return
        problem = auth.password_problem(password, posted.get("password2"))
        if problem:
            out.json("422 Unprocessable Entity", '{"errors": {"password": %s}}' % dumps(problem))
            return
        changed = config_store.merged(app.config, {"web": {"password_hash": await auth.make_hash(password)}})
        config_store.save(app.hal.data, changed)
        app.config = changed
        app.log.info("Web: admin password set")
    else:
        if not stored:
            out.error("409 Conflict", "no admin password is set yet: choose one first")
            return
        if not isinstance(password, str) or not password:
            out.error("400 Bad Request", "the password is missing")
            return
        verdict = await auth.check(web, password)
        if verdict is None:
            out.error("429 Too Many Requests", "busy checking another password; try again")
            return
        if not verdict:
            out.error("403 Forbidden", "wrong password")
            return
    entry = auth.create(web.sessions)
    out.json("200 OK", '{"logged_in": true, "csrf": "%s"}' % entry[1], auth.cookie(entry[0]))
