"""Runs every dual-interpreter test module (tests/upy/test_*.py) under the real MicroPython.

pytest runs the same modules under CPython directly, so each test proves both interpreters.
"""
import os

import pytest

UPY_DIR = os.path.join(os.path.dirname(__file__), "upy")
MODULES = sorted(f[:-3] for f in os.listdir(UPY_DIR) if f.startswith("test_") and f.endswith(".py"))


@pytest.mark.parametrize("module", MODULES)
def test_module_under_micropython(micropython, module):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = micropython(["tests/upy/run.py", root, module], heap="4M", timeout=600)
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, out
    assert "ok " in out, "no test ran under MicroPython:\n" + out
