# The firmware's main.py under the MicroPython unix port, with a heap census on request: run by
# tools/heap_census.py in place of main.py (from the firmware's folder), never on the board.
#
# When the file named by HANREADER_CENSUS appears, a task of the firmware's loop writes what the
# heap's objects are (the id of every type, module, function and class, next to that file:
# .types, .funs), collects, prints the heap's block map (micropython.mem_info(1)) and
# "CENSUS PAUSE", and holds the process for PAUSE_S: tools/heap_census.py reads the heap from
# /proc meanwhile. Module dicts are read through __dict__: dir() would load asyncio's lazy parts.
# The hook itself takes about 2 KB of the heap (this file's code and the task).
import asyncio
import gc
import os
import sys
import time

REQUEST = os.getenv("HANREADER_CENSUS")
PAUSE_S = 3


def _ids(types, funs):
    function = type(_ids)

    def generator():
        yield

    kinds = (str, bytes, bytearray, list, tuple, dict, int, float, type, set, memoryview, object,
             BaseException, Exception, MemoryError, OSError, range, slice, frozenset)
    for kind in kinds:
        types.write("%s %d\n" % (kind.__name__, id(kind)))
    for name, example in (("function", _ids), ("generator", generator()), ("genfun", generator),
                          ("bound_method", REQUEST.startswith), ("module", sys)):
        types.write("%s %d\n" % (name, id(type(example))))
    for module_name in list(sys.modules):
        module = sys.modules[module_name]
        types.write("module:%s %d\n" % (module_name, id(module)))
        for name, value in list(module.__dict__.items()):
            if isinstance(value, type):
                types.write("%s.%s %d\n" % (module_name, name, id(value)))
                for member, method in list(value.__dict__.items()):
                    if type(method) in (function, type(generator)):
                        funs.write("%s.%s.%s %d\n" % (module_name, name, member, id(method)))
            elif type(value) in (function, type(generator)):
                funs.write("%s.%s %d\n" % (module_name, name, id(value)))


async def _census():
    import micropython
    while True:
        await asyncio.sleep_ms(200)
        try:
            os.stat(REQUEST)
        except OSError:
            continue
        with open(REQUEST + ".types", "w") as types, open(REQUEST + ".funs", "w") as funs:
            _ids(types, funs)
        os.remove(REQUEST)
        gc.collect()
        micropython.mem_info(1)
        print("CENSUS PAUSE")
        time.sleep(PAUSE_S)  # the whole firmware holds still while the heap is read


_run = asyncio.run


def _run_with_census(main):  # app/main.py's run(): the census task waits beside the firmware's
    asyncio.run = _run  # (its start, then the health task: one census task for both)
    asyncio.create_task(_census())
    return _run(main)


asyncio.run = _run_with_census
with open("main.py") as source:
    main = compile(source.read(), "main.py", "exec")  # compiled, as the board does
exec(main, {"__name__": "__main__", "__file__": "main.py"})
