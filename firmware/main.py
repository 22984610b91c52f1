# The firmware's entry point (the board runs it after boot.py; the simulator runs it directly).
import sys

if sys.platform != "esp32":  # unix port: the library is next to this file
    sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/lib" if "/" in __file__ else "lib")

from app.main import run  # noqa: E402

run()
