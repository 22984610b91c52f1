"""Live heap of the firmware's modules, one by one, as the board pays for them.

    python3 tools/heap_modules.py [--source] [--heap 112K] [MODULE | han | app ...]

Precompiles firmware/lib (and umqtt.simple from .venv/upy-lib) for this machine
(tools/build_mpy.py --arch host) into a temporary folder and runs MicroPython on it: for every
han module (or those named; "han" and "app" stand for all of that package's modules), a fresh
interpreter first imports what the module imports, then the module itself, and the
gc.mem_alloc() delta is the module's own cost. Then one interpreter imports the set a running
firmware holds and prints the total. --source measures the sources instead (compiler garbage
collected). Figures are for the 64-bit unix port: about twice the ESP32's.
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "firmware", "lib")
UPY_LIB = os.path.join(ROOT, ".venv", "upy-lib")  # umqtt.simple (tools/fetch_umqtt.py)
# What of the decoder stays loaded in a running firmware with a plain meter (the pipeline and the
# layers it imports, the diagnosis). A meter that encrypts adds han.keys and han.crypto.gcm; the
# rest comes when needed (han.report with MQTT, han.detective while the serial setting is found).
FIRMWARE_SET = ("han.pipeline", "han.diagnosis")
# What stays loaded of the device program while it runs (the rest comes for a request, a command
# or a change and goes again); measured on top of the firmware set and asyncio.
APP_SET = ("app.main", "app.log", "app.state", "app.hal.unix", "app.meter", "app.wifi", "app.health",
           "app.telnet", "app.web.server")
MQTT_SET = ("app.mqtt", "umqtt.simple")  # the messages (app.mqtt_messages, han.report, app.names) come per turn

PROBE = """
import gc, sys
gc.collect()
base = set(sys.modules)
__import__(%r)
print(" ".join(n for n in sys.modules if n not in base))
"""

MEASURE = """
import gc
for name in %r:
    __import__(name)
gc.collect(); gc.collect()
before = gc.mem_alloc()
for name in %r:
    __import__(name)
gc.collect(); gc.collect()
print(gc.mem_alloc() - before)
"""


def micropython():
    found = os.path.join(ROOT, ".venv", "bin", "micropython")
    return found if os.path.exists(found) else "micropython"


def run(code, path, heap):
    env = dict(os.environ, MICROPYPATH=path + ":.frozen")
    proc = subprocess.run([micropython(), "-X", "heapsize=" + heap, "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return proc.stdout.split()


def modules(path, package="han"):
    names = []
    for folder, _, files in os.walk(os.path.join(path, package)):
        for name in files:
            # not the viper stubs, the pure-Python GCM or the board's HAL (it imports machine)
            if name.endswith((".py", ".mpy")) and not name.startswith("_viper") and "_gcm_pure" not in name \
                    and name.rsplit(".", 1)[0] != "esp32":
                rel = os.path.relpath(os.path.join(folder, name), path)
                names.append(rel.rsplit(".", 1)[0].replace("/", ".").replace(".__init__", ""))
    return sorted(names)


def main(argv):
    heap = "512K"
    source = "--source" in argv
    argv = [a for a in argv if a != "--source"]
    if argv[:1] == ["--heap"]:
        heap, argv = argv[1], argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        if source:
            path = LIB
        else:
            sys.path.insert(0, os.path.join(ROOT, "tools"))
            import build_mpy
            build_mpy.build(LIB, tmp, "host")
            if os.path.isdir(UPY_LIB):
                build_mpy.build(UPY_LIB, tmp, "host")
            path = tmp
        names = []
        for name in argv or ["han"]:
            names += modules(path, name) if name in ("han", "app") else [name]
        total = 0
        print("%-26s %8s  (imports first)" % ("module", "bytes"))
        for name in names:
            loaded = run(PROBE % name, path, heap)
            package = name.split(".")[0]
            deps = [n for n in loaded if n != name and n != package] if loaded else []
            cost = int(run(MEASURE % ([package] + deps if package != name else deps, [name]), path, heap)[0])
            total += cost
            print("%-26s %8d  %s" % (name, cost, " ".join(deps)))
        print("%-26s %8d" % ("sum of the above", total))
        whole = int(run(MEASURE % ([], list(FIRMWARE_SET)), path, heap)[0])
        print("firmware set (%s): %d B" % (", ".join(FIRMWARE_SET), whole))
        if not source:
            app = int(run(MEASURE % (list(FIRMWARE_SET) + ["asyncio"], list(APP_SET)), path, heap)[0])
            print("app resident set (%s): %d B" % (", ".join(APP_SET), app))
            if os.path.isdir(UPY_LIB):
                mqtt = int(run(MEASURE % (list(FIRMWARE_SET + APP_SET), list(MQTT_SET)), path, heap)[0])
                print("with MQTT (%s): %d B more" % (", ".join(MQTT_SET), mqtt))


if __name__ == "__main__":
    main(sys.argv[1:])
