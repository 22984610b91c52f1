# app.unload: the heap of a module used now and then comes back, also when its import failed
# for want of heap (MicroPython holds what such an import had loaded until the slot the module
# had in sys.modules' table is reused).
import gc
import sys

from app import unload
import support
from support import IS_MICROPYTHON, ROOT

try:
    import tracemalloc
except ImportError:
    tracemalloc = None

FAILING = "fails_to_load"  # tests/upy/fails_to_load.py: a 32 KB buffer, then MemoryError
HELD = 32 * 1024
STAND_INS = ROOT + "/tests/upy/no_room"  # modules named as the firmware's, failing as FAILING does


def live():
    gc.collect()
    if IS_MICROPYTHON:
        return gc.mem_alloc()
    return tracemalloc.get_traced_memory()[0]


def failed_import():
    try:
        __import__(FAILING)
    except MemoryError:
        return
    raise AssertionError("the import was expected to fail")


def measured(step):
    """The live heap step() leaves behind (it may raise MemoryError: expected)."""
    if tracemalloc is not None:
        tracemalloc.start()
    try:
        before = live()
        try:
            step()
        except MemoryError:
            pass
        return live() - before
    finally:
        if tracemalloc is not None:
            tracemalloc.stop()


def failing_submodules(package, step, unloaded=None):
    """step() with the submodules of `package` (a name) loaded from STAND_INS, and module
    `unloaded` (a leaf of it) not loaded when it starts; the stand-ins there fail as the
    firmware's modules do when their code finds no room. The heap it leaves. The package's
    modules are put back as they were (pytest runs every test module in one CPython)."""
    module = sys.modules[package]
    real = module.__path__
    kept = [(name, sys.modules[name]) for name in sys.modules if name.startswith(package + ".")]
    if unloaded:
        unload(package + "." + unloaded)
    module.__path__ = STAND_INS if IS_MICROPYTHON else [STAND_INS]
    try:
        return measured(step)
    finally:
        module.__path__ = real
        for name, submodule in kept:
            sys.modules[name] = submodule
            leaf = name[len(package) + 1:]
            if "." not in leaf:  # (a deeper one is its own package's attribute)
                setattr(module, leaf, submodule)


def test_a_module_whose_import_ran_out_of_heap_gives_it_back_when_unloaded():
    held = []

    def failed_then_unloaded():
        before = live()
        failed_import()
        assert FAILING not in sys.modules
        held.append(live() - before)
        unload(FAILING)
    assert measured(failed_then_unloaded) < HELD // 4
    if IS_MICROPYTHON:  # until unloaded, the slot it had in sys.modules' table held it
        assert held[0] >= HELD, held


def test_a_console_command_whose_code_found_no_room_leaves_none_of_it():
    if not IS_MICROPYTHON:
        return  # the console's code reads MicroPython's heap figures (gc.mem_free)
    from app.log import Log
    from app.telnet import Telnet, console

    class App:
        log = Log("W", size=512)
    telnet = Telnet(App())
    assert failing_submodules("app", lambda: console("command", telnet, b"status")) < HELD // 4


class PollStream:
    """A connection sending the dashboard's poll; what is written back is kept."""

    def __init__(self):
        self.request = b"GET /api/data HTTP/1.1\r\nHost: hanreader\r\n\r\n"
        self.written = b""

    async def readinto(self, buf):
        n = len(self.request)
        buf[:n] = self.request
        self.request = b""
        return n

    def write(self, data):
        self.written += bytes(data)

    async def drain(self):
        pass


def test_a_poll_whose_code_found_no_room_leaves_none_of_it():
    from app.log import Log
    from app.web import http
    from app.web.server import NO_ROOM, Web

    class Wifi:
        ap = False

    class App:
        log = Log("W", size=512)
        safe_mode = False
        wifi = Wifi()
    web = Web(App())
    stream = PollStream()

    import asyncio
    shim = not hasattr(asyncio, "sleep_ms")  # CPython

    def poll():  # the dashboard's poll, its answering code (api.py) finding no room each time it
        asyncio.run(http.exchange(web, http.Request(None, 0), stream))  # is tried (for 1 s)
    if shim:
        support.tick_clock()
        asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)
    try:
        assert failing_submodules("app.web", poll, "api") < HELD // 4
    finally:
        if shim:
            del asyncio.sleep_ms
    assert stream.written == NO_ROOM  # the client is told


def test_answering_code_that_found_no_room_goes_as_the_last_connection_ends():
    from app.web.server import Web
    web = Web(None)

    def connection():  # what the server does (see server.Web._serve)
        try:
            from app.web import http  # noqa: F401
        finally:
            web._unload()
    import app.web  # noqa: F401
    assert failing_submodules("app.web", connection, "http") < HELD // 4


def test_error_words_whose_table_found_no_room_leave_none_of_it():
    from han.errors import load
    import han  # noqa: F401
    assert failing_submodules("han", lambda: load("details")) < HELD // 4


def test_unloading_a_module_never_loaded_changes_nothing():
    names = sorted(sys.modules)
    unload("app.not_a_module")
    assert "app.not_a_module" not in sys.modules
    assert sorted(sys.modules) == names


def test_a_loaded_module_goes_with_its_parent_attribute():
    import app.mqtt_raw  # noqa: F401 - loaded for the test
    assert "app.mqtt_raw" in sys.modules
    unload("app.mqtt_raw")
    assert "app.mqtt_raw" not in sys.modules
    assert "mqtt_raw" not in sys.modules["app"].__dict__


def test_asyncio_lets_wait_for_go_and_loads_it_again_when_used():
    import asyncio
    from app import unload_wait_for
    if not IS_MICROPYTHON:  # CPython's asyncio has no asyncio.funcs: nothing to let go
        unload_wait_for()
        assert asyncio.wait_for is not None
        return
    before = live()
    assert asyncio.wait_for_ms is not None  # loaded by asyncio on first use, and kept
    assert "asyncio.funcs" in sys.modules and "wait_for_ms" in asyncio.__dict__
    held = live() - before
    unload_wait_for()
    assert "asyncio.funcs" not in sys.modules and "funcs" not in asyncio.__dict__
    assert "wait_for_ms" not in asyncio.__dict__ and "gather" not in asyncio.__dict__
    assert live() - before < held // 2, (held, live() - before)

    async def waited():
        await asyncio.sleep_ms(1)
        return 5
    assert asyncio.run(asyncio.wait_for_ms(waited(), 1000)) == 5  # used again: loaded again
    unload_wait_for()
