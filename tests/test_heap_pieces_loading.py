"""Code that comes and goes in the running firmware (the console's for each command, MQTT's for
each reading, announcement and connection) is loaded into whatever room the heap has: after hours
of readings, pages and MQTT turns the free room is scattered. Each module must load when the
free heap is in pieces of 512 bytes (a web connection's buffer, the size the web's code keeps to:
tests/test_web_heap.py). tests/load_pieces_app.py does it under MicroPython, precompiled.
"""
import os
import subprocess
import sys

import pytest
from conftest import micropython_binary
from sim_support import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import build_mpy  # noqa: E402
import fetch_umqtt  # noqa: E402

PIECE = 512
UPY_LIB = os.path.join(ROOT, ".venv", "upy-lib")  # umqtt.simple (tools/fetch_umqtt.py, make venv)
# Each module, and what stays loaded in the firmware when it comes.
COMES_AND_GOES = {
    "app.console": "app.telnet,app.log",                 # a telnet command, a new client
    "app.mqtt_messages": "app.mqtt",        # each reading (with han.report, han.text)
    "app.mqtt_discovery": "app.mqtt",       # a sensor announced to Home Assistant
    "app.mqtt_link": "app.mqtt",            # each connection attempt (with app.mqtt_status)
    "app.mqtt_connect_packet": "app.mqtt,app.mqtt_link",  # its start (with umqtt.simple)
    "umqtt.simple": "app.mqtt,app.mqtt_link",
    "app.mqtt_down": "app.mqtt",            # a failed attempt, an ended connection
}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    target = str(tmp_path_factory.mktemp("precompiled") / "lib")
    build_mpy.build(os.path.join(ROOT, "firmware", "lib"), target, "host")
    fetch_umqtt.fetch(UPY_LIB)
    build_mpy.build(UPY_LIB, target, "host")
    return target


@pytest.mark.parametrize("module", sorted(COMES_AND_GOES))
def test_code_that_comes_and_goes_loads_when_the_free_heap_is_in_small_pieces(library, module):
    proc = subprocess.run(
        [micropython_binary(), "-X", "heapsize=160K", os.path.join(ROOT, "tests", "load_pieces_app.py"),
         str(PIECE), COMES_AND_GOES[module], module],
        env=dict(os.environ, MICROPYPATH=library + ":.frozen"), cwd=ROOT, capture_output=True, text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["largest %d" % PIECE, "loaded"], proc.stdout
