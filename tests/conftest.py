import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "upy"))


def micropython_binary():
    found = shutil.which("micropython")
    if not found:
        venv = os.path.join(ROOT, ".venv", "bin", "micropython")
        found = venv if os.path.exists(venv) else None
    if not found:
        pytest.fail("the micropython unix port is not installed (make test installs it)")
    return found


@pytest.fixture(scope="session")
def micropython():
    """Run a command under the real MicroPython unix port; returns CompletedProcess."""
    binary = micropython_binary()

    def run(args, stdin=None, heap=None, timeout=120):
        cmd = [binary]
        if heap:
            cmd += ["-X", "heapsize=" + heap]
        cmd += list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, cwd=ROOT)

    return run
