# The firmware's entry point (the board runs it after boot.py; the simulator runs it directly).
#
# Before anything heavy is imported, the BOOT button (GPIO0) held at start-up skips everything:
# nothing starts, the REPL stays free (press EN, then hold BOOT until the message shows; held
# *during* EN the chip would enter its download mode instead). On unix: HANREADER_BOOT_BUTTON=1.
# The boot guard then counts this start, first thing in app/start.py; after 3 starts in a row that
# ended early the firmware starts in safe mode (see app/boot_guard.py).
# On the board an uncaught error resets the chip (so a crash is a crash-reboot, counted by the
# guard); on unix the process ends with the error.
import sys

if sys.platform != "esp32":  # unix port: the library is next to this file, unless a
    try:                      # precompiled copy is on MICROPYPATH (make sim HEAP=...)
        import app  # noqa: F401
    except ImportError:
        sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/lib" if "/" in __file__ else "lib")


# The BOOT button, read with no function defined: this file is compiled on the board and its code
# stays in the heap for as long as the firmware runs.
if sys.platform == "esp32":
    import machine
    button_held = machine.Pin(0, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
else:
    import os
    button_held = os.getenv("HANREADER_BOOT_BUTTON") == "1"

if button_held:
    print("hanreader: BOOT button held at start-up: main.py skipped, nothing started")
else:
    try:
        from app.main import run

        run()
    except Exception as e:  # noqa: BLE001 - KeyboardInterrupt (Ctrl-C) and SystemExit pass
        if sys.platform != "esp32":
            raise
        sys.print_exception(e)
        print("hanreader: crashed; resetting in 3 s")
        import time

        time.sleep(3)
        machine.reset()
