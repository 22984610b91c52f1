"""tools/heap_census.py on a running firmware: every allocation of its heap is put down to an
owner, the decoder's and the runtime's modules among them, and what no owner was found for stays
a small part."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import heap_census  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="reads the heap through /proc (Linux)")


def test_the_census_of_a_running_firmware_accounts_for_its_heap(micropython):
    result = heap_census.run(heap="192K", readings=50, progress=lambda line: None)
    totals, (free, runs, between, heap_layout), pools = result
    used = sum(size for size, _ in totals.values())
    assert 60 * 1024 < used < 192 * 1024
    code = {name[5:]: size for name, (size, _) in totals.items() if name.startswith("code ")}
    for module in ("han.pipeline", "han.cosem", "han.framing", "app.meter", "app.telnet", "app.web.server"):
        assert code.get(module, 0) > 512, (module, sorted(code))
    assert "app.mqtt" not in code  # no broker set: MQTT's code never loads
    assert totals["names"][0] > 4096 and 300 < sum(n for _, n in pools) < 1000
    assert any(name.startswith("instance han.values.") for name in totals)  # the reading shown
    assert totals.get("untyped", [0])[0] < used // 10, totals.get("untyped")
    # the heap less the collector's tables (2.3 KB for 192K); the free part in runs
    assert 185 * 1024 < used + free <= 192 * 1024 and sum(runs) == free and 0 < max(runs) < free
    lines = heap_census.report(result, 5)
    assert lines[0] == "heap in use: %d B in %d allocations" % (used, sum(n for _, n in totals.values()))
    assert "free: %d B in %d runs, the largest %d B" % (free, len(runs), max(runs)) in "\n".join(lines)
    # 64 parts of 3 KB: the firmware's 100-odd KB at the low end, the rest free at the high end
    assert len(heap_layout) == 64 and heap_layout[0] == "#" and heap_layout.endswith("   ")
    assert "layout, low to high address ('#' in use, ' ' free): |%s|" % heap_layout in lines
    big = [r for r in runs if r >= 1024]
    assert "free pieces of 1 KB or more: %d" % len(big) in "\n".join(lines) and big
