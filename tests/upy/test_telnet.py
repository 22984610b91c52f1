# The telnet console's sessions (app/telnet.py) when the console's code (app/console.py, loaded
# for each command) finds no room in the heap. The sessions are asyncio tasks using MicroPython's
# asyncio.sleep_ms: these tests run under MicroPython (CPython passes them by).
import sys

from app.log import Log
from app.telnet import Client, Telnet
from support import NoRoom


class Sock:
    """A client's non-blocking socket: `incoming` comes one piece a read (None: nothing yet; when
    they are all read, the client has gone); what is written is kept."""

    def __init__(self, incoming):
        self.incoming = list(incoming)
        self.written = b""

    def read(self, n):
        return self.incoming.pop(0) if self.incoming else b""

    def write(self, data):
        self.written += bytes(data)
        return len(data)


class Stream:
    def __init__(self, sock):
        self.s = sock
        self.closed = False

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass


class App:
    def __init__(self):
        self.log = Log("W", size=512)


def without_room(run, *incoming):
    """run(telnet, stream) over a Sock, the first call of the console's code finding no room:
    (what the client got, the log's text, the stream), or None under CPython."""
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return None  # CPython: no asyncio.sleep_ms
    from app import unload
    app = App()
    telnet = Telnet(app)
    sock = Sock(incoming)
    stream = Stream(sock)
    unload("app.console")
    sys.modules["app.console"] = NoRoom()  # the console unloads it after the call: the next is real
    try:
        asyncio.run(run(telnet, stream))
    finally:
        sys.modules.pop("app.console", None)
    return sock.written.decode(), bytes(app.log.ring[:app.log.head]).decode(), stream


class LoginThen:
    """app.console letting a client in at once ("Welcome", its log from now on); the stand-in
    `then` takes its place for the next call."""

    def __init__(self, then):
        self.then = then

    async def login(self, telnet, client):  # (run once app.telnet has unloaded this stand-in)
        client.at = telnet.log.head
        sys.modules["app.console"] = self.then
        return "Welcome"


async def session(telnet, stream):
    """A client's session once logged in: the app.console stand-in the test put in sys.modules
    answers its first command line."""
    sys.modules["app.console"] = LoginThen(sys.modules["app.console"])
    await telnet.serve(stream, None)


def test_a_command_without_room_for_the_console_is_answered_and_the_session_goes_on():
    result = without_room(session, b"help\r\n", None, b"level W\r\n")
    if result is None:
        return
    written, log, _ = result
    assert written.startswith("Welcome\r\nNo room in the heap for the console now: try again in a moment.\r\n")
    assert "Log level W\r\n" in written  # the next command is answered: the session went on
    assert "(W) Telnet: not enough heap for the console (" in log


def test_a_login_without_room_for_the_console_is_told_and_the_connection_closed():
    result = without_room(lambda telnet, stream: telnet.serve(stream, None), b"help\r\n")
    if result is None:
        return
    written, log, stream = result
    assert written == "No room in the heap for the console now: try again in a moment.\r\n" and stream.closed
    assert "(W) Telnet: not enough heap for the console (" in log


class ReplyWithoutRoom:
    """app.console as it is when a reply to a command finds no room in the heap."""

    class Reply:
        def encode(self):
            raise MemoryError

    def command(self, telnet, line):
        return [self.Reply()]


def test_a_reply_without_room_is_told_and_the_session_goes_on():
    try:
        import asyncio
        asyncio.sleep_ms
    except AttributeError:
        return  # CPython: no asyncio.sleep_ms
    from app import unload
    app = App()
    telnet = Telnet(app)
    sock = Sock([b"help\r\n", None, b"level W\r\n"])
    unload("app.console")
    sys.modules["app.console"] = ReplyWithoutRoom()  # the console unloads it after the call: the next is real
    try:
        asyncio.run(session(telnet, Stream(sock)))
    finally:
        sys.modules.pop("app.console", None)
    assert sock.written.decode().startswith("Welcome\r\nNo room in the heap for the console now")
    assert "Log level W\r\n" in sock.written.decode()


def test_telling_a_client_there_is_no_room_needs_no_room():
    try:
        from micropython import heap_lock, heap_unlock
    except ImportError:
        return  # CPython: the heap cannot be locked
    telnet = Telnet(App())
    sock = Sock([])
    sock.write = lambda data: 0  # a socket that takes nothing now: the words would wait in `out`
    client = Client(Stream(sock))
    client.out = b"waiting"
    heap_lock()
    try:
        telnet._no_room(client)  # no room to keep the words: left out, and nothing raised
    finally:
        heap_unlock()
    assert client.out == b"waiting"


def test_the_level_command_sets_a_level_and_refuses_other_words():
    from app.console import command
    from app import unload
    app = App()
    app.meter = None
    telnet = Telnet(app)
    try:
        assert command(telnet, b"level D") == ["Log level D"] and app.log.level == 3
        for bad in (b"level X", b"level", b"level IV", b"level I V"):
            assert command(telnet, bad) == ["usage: level E|W|I|D|V (now D)"], bad
        assert app.log.level == 3
    finally:
        unload("app.console")
