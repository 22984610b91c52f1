"""Every real capture in frames/ decodes to its expected readings (both interpreters).

One test per capture, generated from the sidecars: the capture goes through the decoder CLI's
own decode function, and its output lines are compared with the sidecar's `expected` list
(readings by `time` and `obis`, errors by code).
"""
import json
import os
import sys

from support import FRAMES, ROOT, read_bytes

sys.path.insert(0, ROOT + "/tools")
import decode as cli  # noqa: E402
from han.keys import cipher  # noqa: E402


def captures():
    found = []
    for source in sorted(os.listdir(FRAMES)):
        folder = FRAMES + "/" + source
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue  # README.md
        for name in names:
            if name.endswith(".json"):
                found.append(folder + "/" + name)
    return found


def decode_capture(sidecar_path, meta):
    base = sidecar_path[:-5]
    data = read_bytes(base + (".txt" if meta.get("input") == "hex" else ".bin"))
    if meta.get("input") == "hex":
        data = cli.hex_tokens(data.decode())
    keys = meta.get("keys") or {}
    key = bytes.fromhex(keys["encryption"]) if keys.get("encryption") else None
    auth = bytes.fromhex(keys["authentication"]) if keys.get("authentication") else None
    lines = []
    cli.decode(data, cipher(key, auth),
               lambda event: lines.append(cli.render(event)))
    return [json.loads(line) for line in lines]


def comparable(entry):
    if "error" in entry:
        return {"error": entry["error"]}
    return {"time": entry["time"], "obis": entry["obis"]}


def check(sidecar_path):
    with open(sidecar_path) as f:
        meta = json.load(f)
    expected = meta["expected"]
    got = decode_capture(sidecar_path, meta)
    if expected is None:  # a noise log: judged by the diagnosis, not line by line
        assert not any("obis" in entry for entry in got), "a reading decoded from noise"
        return
    got = [comparable(entry) for entry in got]
    expected = [comparable(entry) for entry in expected]
    if got == expected:
        return
    lines = ["%s: %d lines, expected %d" % (sidecar_path[len(ROOT) + 1:], len(got), len(expected))]
    for i in range(max(len(got), len(expected))):
        g = got[i] if i < len(got) else None
        e = expected[i] if i < len(expected) else None
        if g == e:
            continue
        if g and e and "obis" in g and "obis" in e:
            if g["time"] != e["time"]:
                lines.append("  #%d time %r, expected %r" % (i, g["time"], e["time"]))
            for key in sorted(set(g["obis"]) | set(e["obis"])):
                if g["obis"].get(key) != e["obis"].get(key):
                    lines.append("  #%d %s: %r, expected %r" % (i, key, g["obis"].get(key), e["obis"].get(key)))
        else:
            lines.append("  #%d got %r, expected %r" % (i, g, e))
    raise AssertionError("\n".join(lines[:40]))


def _make_test(path):
    def test():
        check(path)
    return test


for _path in captures():
    _name = "test_capture__" + _path[len(FRAMES) + 1:-5].replace("/", "__").replace("-", "_") \
        .replace(".", "_").replace("&", "_")
    globals()[_name] = _make_test(_path)
