"""Fetch umqtt.simple (micropython-lib's MQTT client) from PyPI for the MicroPython unix port.

    python3 tools/fetch_umqtt.py DIR          -> DIR/umqtt/simple.py (nothing done if it is there)

The firmware's MQTT supervisor (firmware/lib/app/mqtt.py) drives umqtt.simple. On the board it is
frozen into the official ESP32 firmware, or `make deploy` installs the current version with mip;
this machine reaches only PyPI, where the newest is 1.3.4 (2017): the tests and `make sim` run
against that one (put DIR on MICROPYPATH).

pip cannot install it: the file on PyPI was made for upip, MicroPython's old installer, and has
no setup.py. pip downloads and unpacks it before it says so, though, and with --no-clean keeps
what it unpacked: simple.py is taken from there, in a temporary folder of our own, and checked
against the SHA-256 below.
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

PACKAGE = "micropython-umqtt.simple==1.3.4"
SHA256 = "8555d2f654deb8eb0d724f79b0811a78cc94029d070f3d96bbd74288653d63a5"  # its umqtt/simple.py


def fetch(target):
    wanted = os.path.join(target, "umqtt", "simple.py")
    if os.path.exists(wanted):
        return wanted
    with tempfile.TemporaryDirectory(prefix="fetch-umqtt-") as scratch:
        env = dict(os.environ, TMPDIR=scratch, PIP_DISABLE_PIP_VERSION_CHECK="1")
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-clean",
                        "-d", os.path.join(scratch, "download"), PACKAGE],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fails, as said
        found = glob.glob(os.path.join(scratch, "**", "umqtt", "simple.py"), recursive=True)
        if not found:
            sys.exit("fetch_umqtt.py: pip did not download %s (is PyPI reachable?)" % PACKAGE)
        with open(found[0], "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != SHA256:
            sys.exit("fetch_umqtt.py: umqtt/simple.py from %s is not the file expected (SHA-256 %s)"
                     % (PACKAGE, digest))
        os.makedirs(os.path.dirname(wanted), exist_ok=True)
        shutil.copy(found[0], wanted + ".tmp")
        os.replace(wanted + ".tmp", wanted)
    return wanted


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: fetch_umqtt.py DIR")
    print("umqtt.simple: " + fetch(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
