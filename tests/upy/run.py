# Runs the dual-interpreter test modules under MicroPython (pytest runs them under CPython).
# usage: micropython tests/upy/run.py <repo-root> <module> [<test name> ...]
# Prints one "ok <name>" / "FAIL <name>" line per test and exits 1 if any failed.
import sys

root = sys.argv[1]
sys.path.insert(0, root + "/tests/upy")
sys.path.insert(0, root + "/firmware/lib")
module = __import__(sys.argv[2])
wanted = sys.argv[3:]
names = sorted(n for n in module.__dict__ if n.startswith("test_"))  # dir() misses names set via globals()
failed = 0
for name in names:
    if wanted and name not in wanted:
        continue
    try:
        getattr(module, name)()
        print("ok", name)
    except Exception as e:
        failed += 1
        print("FAIL", name)
        sys.print_exception(e)
sys.exit(1 if failed else 0)
