"""tools/heap_modules.py measures what a module, and the sets a running firmware holds, cost the
heap: precompiled, each in a fresh MicroPython. Its figures for han.text (values' text and friendly
names, loaded only by what renders) and for the sets, which hold no rendering code."""
import os
import re
import subprocess
import sys

from conftest import micropython_binary
from sim_support import ROOT


def test_module_costs_and_the_firmware_sets():
    micropython_binary()  # (fails the test, saying so, without the unix port)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "heap_modules.py"), "han.text"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cost = int(re.search(r"^han\.text +(\d+)", proc.stdout, re.M).group(1))
    decoder = int(re.search(r"^firmware set \(han.pipeline, han.diagnosis\): (\d+) B", proc.stdout, re.M).group(1))
    app = int(re.search(r"^app resident set \(.*\): (\d+) B", proc.stdout, re.M).group(1))
    assert 1000 < cost < decoder and 10000 < decoder < 40000 and 10000 < app < 40000, proc.stdout
