"""The device program around the decoding pipeline: hardware, config, meter task, services."""
import sys


def elapsed(now, then):
    """Milliseconds from ticks `then` to ticks `now`: time.ticks_ms() wraps at 2**30 on the ESP32
    (plain numbers, so fake clocks in the tests work too)."""
    return (now - then) & 0x3FFFFFFF


def unload(name):
    """Forget a module used only now and then (the config rules after boot, the serial
    detective once it has settled), so its code stops taking heap until it is needed again.
    Precompiled code is freed this way; the names it interned stay.

    A module whose import failed (no room for the rest of its code) is forgotten too: MicroPython
    takes it out of sys.modules but leaves it in the table slot it had, with all it had loaded,
    until a later import reuses that slot. Setting the name again reuses it and lets that go."""
    module = sys.modules.pop(name, None)
    if module is None:
        try:
            sys.modules[name] = None
            del sys.modules[name]
        except MemoryError:  # (only a table with no slot free grows for it)
            pass
        return
    try:
        package, _, leaf = name.rpartition(".")
        parent = sys.modules.get(package)
        if parent is not None and leaf in parent.__dict__:
            delattr(parent, leaf)
    except MemoryError:  # (first: matching the tuple below makes one) its package keeps it for now:
        pass  # unload is called where a MemoryError was caught, and must not raise another
    except (AttributeError, TypeError):
        pass


def unload_wait_for():
    """Let asyncio.funcs go (wait_for_ms: connecting to MQTT, rare web requests), which asyncio
    loads on first use and keeps for good, its functions as names of its own too. It is frozen
    into the firmware: loading it again makes its objects only (640 B here), not its code."""
    if "asyncio.funcs" in sys.modules:  # (MicroPython's: CPython's asyncio has no such module)
        names = sys.modules["asyncio"].__dict__
        for name in ("wait_for", "wait_for_ms", "gather"):
            if name in names:
                del names[name]
        unload("asyncio.funcs")


def lent():
    """Whether code loaded for a moment that spans waits holds part of the heap now: a web
    request's (app.web.http, loaded while a connection is open) or an MQTT connection attempt's
    (app.mqtt_link). The meter and MQTT's turns wait a little for it to go: the heap has room for
    one such moment beside the decoding, not for two at once."""
    return "app.web.http" in sys.modules or "app.mqtt_link" in sys.modules


async def close(stream):
    """Close a client's stream (telnet, web), whatever state it is in."""
    try:
        stream.close()
        await stream.wait_closed()  # MicroPython closes the socket here, not in close()
    except OSError:
        pass
