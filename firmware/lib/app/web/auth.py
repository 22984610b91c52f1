"""The admin password, sessions and CSRF tokens (loaded for admin requests only).

Password. Chosen on the first visit to the config page (while none is set) and kept in the
config as web.password_hash, never as itself:

    pbkdf2-sha256$ITERATIONS$SALT$KEY      (salt: 16 random bytes; key: 32 bytes; both hex)

PBKDF2-HMAC-SHA256 (RFC 8018) on hashlib.sha256, which both the board and the unix port have.
ITERATIONS rounds take a few ms on a PC and about half a second on the ESP32: slow enough to
make guessing a stolen hash costly, fast enough for a login. They are worked off BATCH at a time
with the event loop run in between, so a login never holds up the meter. One password is checked
at a time; a wrong one is answered after WRONG_DELAY_MS (about one guess a second).

Sessions. A good password gives the browser a random 128-bit token in a cookie (HttpOnly,
SameSite=Strict: other sites' pages cannot send it). The server keeps at most SESSIONS of them
(a list kept by the web server: this module can be unloaded), each entry [token, CSRF token,
last used]: every change must echo the session's random CSRF token (X-CSRF-Token header or a
csrf form field). A session unused for IDLE_MS is forgotten, and the least recently used one goes
when a new one is needed. Tokens are compared in constant time.
"""
import asyncio
import hashlib
import os
import time
from binascii import hexlify, unhexlify

from app.web.http import COOKIE

SCHEME = "pbkdf2-sha256"
ITERATIONS = 1000
BATCH = 25
SALT_BYTES = 16
SESSIONS = 4
IDLE_MS = 3600000        # an hour without a request ends a session
WRONG_DELAY_MS = 1000
PASSWORD_MIN = 8
PASSWORD_MAX = 64


def derive(password, salt, iterations, key):
    """PBKDF2-HMAC-SHA256 with one 32-byte block, written into `key` (a bytearray(32)).

    A generator: it yields every BATCH rounds so that the caller can let the event loop run
    (`for _ in derive(...): pass` does it all at once)."""
    secret = password.encode() if isinstance(password, str) else bytes(password)
    if len(secret) > 64:  # HMAC hashes a key longer than the block
        secret = hashlib.sha256(secret).digest()
    secret += bytes(64 - len(secret))
    inner = bytes(b ^ 0x36 for b in secret)
    outer = bytes(b ^ 0x5C for b in secret)
    u = hashlib.sha256(outer + hashlib.sha256(inner + salt + b"\x00\x00\x00\x01").digest()).digest()
    total = int.from_bytes(u, "big")
    for i in range(1, iterations):
        u = hashlib.sha256(outer + hashlib.sha256(inner + u).digest()).digest()
        total ^= int.from_bytes(u, "big")
        if i % BATCH == 0:
            yield
    key[:] = total.to_bytes(32, "big")


def format_hash(iterations, salt, key):
    return "%s$%d$%s$%s" % (SCHEME, iterations, hexlify(salt).decode(), hexlify(key).decode())


def parse_hash(stored):
    """(iterations, salt, key) from a stored hash, or None if it is not one of ours."""
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != SCHEME:
        return None
    try:
        iterations = int(parts[1])
        salt = unhexlify(parts[2])
        key = unhexlify(parts[3])
    except ValueError:
        return None
    if not 1 <= iterations <= 1000000 or len(key) != 32:
        return None
    return iterations, salt, key


def same(a, b):
    """Equal, in a time that does not tell how much of `a` was right (str or bytes)."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


async def _work(steps):
    for _ in steps:
        await asyncio.sleep_ms(0)


async def make_hash(password, iterations=ITERATIONS):
    salt = os.urandom(SALT_BYTES)
    key = bytearray(32)
    await _work(derive(password, salt, iterations, key))
    return format_hash(iterations, salt, key)


async def verify(password, stored):
    parsed = parse_hash(stored)
    if parsed is None:
        return False
    iterations, salt, expected = parsed
    key = bytearray(32)
    await _work(derive(password, salt, iterations, key))
    return same(key, expected)


def password_problem(password, repeat=None):
    """Why a new admin password cannot be used, or None."""
    if not isinstance(password, str):
        return "must be text"
    if len(password) < PASSWORD_MIN:
        return "must be at least %d characters" % PASSWORD_MIN
    if len(password) > PASSWORD_MAX:
        return "must be at most %d characters" % PASSWORD_MAX
    if repeat is not None and repeat != password:
        return "the two passwords differ"
    return None


async def check(web, password):
    """Whether `password` is the admin password: True, False, or None while another one is
    being checked."""
    if web.checking:
        return None
    web.checking = True
    try:
        good = await verify(password, web.app.config["web"]["password_hash"])
        if not good:
            web.app.log.warning("Web: wrong admin password")
            await asyncio.sleep_ms(WRONG_DELAY_MS)
        return good
    finally:
        web.checking = False


# --- sessions: a list of [token, csrf token, last used (ticks ms)] ---

def token():
    return hexlify(os.urandom(16)).decode()


def _elapsed(now, then):
    return (now - then) & 0x3FFFFFFF  # ms; time.ticks_ms() wraps at 2**30


def _now():
    return time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.monotonic() * 1000)


def create(sessions, now=None, size=SESSIONS):
    """A new session (the least recently used one goes if there are `size` already)."""
    now = _now() if now is None else now
    if len(sessions) >= size:
        oldest = sessions[0]
        for entry in sessions:
            if _elapsed(now, entry[2]) > _elapsed(now, oldest[2]):
                oldest = entry
        sessions.remove(oldest)
    entry = [token(), token(), now]
    sessions.append(entry)
    return entry


def find(sessions, value, now=None, idle_ms=IDLE_MS):
    """The session of a cookie's token (now marked as used), or None."""
    now = _now() if now is None else now
    for entry in sessions:
        if same(entry[0], value):
            if _elapsed(now, entry[2]) > idle_ms:
                sessions.remove(entry)
                return None
            entry[2] = now
            return entry
    return None


def cookie(value):
    """The Set-Cookie header line giving the session token (an empty value ends it)."""
    return "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n" % (
        COOKIE, value, "" if value else "; Max-Age=0")
