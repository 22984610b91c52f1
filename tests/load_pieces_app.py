# Runs under MicroPython (tests/test_heap_pieces_loading.py starts it) with the precompiled
# library: code that comes and goes, loaded into a heap whose free room is in small pieces.
#   micropython -X heapsize=N tests/load_pieces_app.py PIECE RESIDENT MODULE
# RESIDENT: the modules that stay loaded in the firmware when MODULE comes (comma-separated),
# loaded first. MODULE is loaded once and forgotten (its names stay interned, as in the firmware
# after its first use), then the heap is scattered into PIECE-byte pieces and MODULE loaded
# again. Prints "largest BYTES" (the largest free piece then), then "loaded" or "no room: ERROR".
import sys

from app import unload
sys.path.append(sys.path[0] + "/upy")  # (this script's folder comes first)
from scattered_heap import scatter  # noqa: E402

piece = int(sys.argv[1])
for name in sys.argv[2].split(","):
    if name:
        __import__(name)
module = sys.argv[3]
before = list(sys.modules)
__import__(module)
for name in [n for n in sys.modules if n not in before]:
    unload(name)
before = None
held, largest = scatter(piece)
print("largest %d" % largest)
try:
    __import__(module)
    print("loaded")
except MemoryError as e:
    print("no room:", e)
