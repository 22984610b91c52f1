"""Issue 4's memory budget, run for 10,000 frames each: the firmware precompiled as on the board,
fed by the meter simulator, its live heap (after a collection, read with `status` by a telnet
client that stays connected) must not grow, and no push may be lost for want of heap: neither
decoded (the meter's "memory" errors) nor, with MQTT, published (the readings MQTT skipped for it).

* the firmware as it reads a plain meter (Kamstrup), with the telnet console and the web server up,
  in the board's heap size, 112K;
* a plain meter publishing every reading to MQTT (Mosquitto), in MQTT_HEAP;
* with everything on: an encrypted meter (Kamstrup Omnipower, Denmark: GUEK/GPK60 and GAK/GPK61),
  MQTT publishing every reading to Mosquitto and a browser polling the dashboard every 2 s (and
  the power history at each new reading), in 112K too (the unix port is 64-bit: most objects
  take about twice their ESP32 size).

tools/memory_budget.py does the runs (by hand: the same figures); they are printed (pytest -s) and
written to test-artifacts/memory-budget.txt.
"""
import os
import sys

import pytest
from sim_support import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import memory_budget  # noqa: E402
import sim_broker  # noqa: E402

BOARD_HEAP = "112K"
MQTT_HEAP = "112K"  # a plain meter publishing to MQTT (Mosquitto); its readings not published for want
# of heap count as lost. In 112K runs of 10,000 readings skip none (4 runs); in 108K one run lost a
# push (120K before, when 116K skipped none and 112K one reading).
FULL_HEAP = "112K"  # 15 runs of 15 lost nothing; in 108K a poll finds no room (124K before, when
# it ran in 120K; 136K, 140K, 144K, 152K before that).
FRAMES = 10000
SETTLED_FROM = 100      # readings: by then every code path of a push has run
MAX_GROWTH = 2048       # bytes of live heap a run may gain after that
DANISH = os.path.join(ROOT, "frames", "kamstrup-dk-script", "kamstrup-omnipower-dk-ggc.bin")
ARTIFACTS = os.path.join(ROOT, "test-artifacts")


@pytest.fixture(scope="module", autouse=True)
def fresh_artifact():
    path = os.path.join(ARTIFACTS, "memory-budget.txt")
    if os.path.exists(path):
        os.remove(path)


def budget(title, heap, **options):
    """Run it; returns (samples, growth, pushes lost for want of heap) and records the figures."""
    lines = [title]

    def report(line):
        print(line)
        lines.append(line)

    samples, lost = memory_budget.run(heap, FRAMES, speed=400, report=report, **options)
    settled = [used for readings, used in samples if readings >= SETTLED_FROM]
    growth = settled[-1] - min(settled)
    report("live heap growth from %d readings to the end: %d B" % (SETTLED_FROM, growth))
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "memory-budget.txt"), "a") as f:
        f.write("\n".join(lines) + "\n\n")
    return samples, growth, lost


def test_a_plain_meter_with_telnet_and_web_runs_10000_frames_in_112k():
    samples, growth, lost = budget("plain meter, telnet, web server", BOARD_HEAP)
    assert samples[-1][0] >= FRAMES and lost == 0
    assert growth <= MAX_GROWTH


def test_a_plain_meter_publishing_to_mqtt_runs_10000_frames():
    if not sim_broker.mosquitto_binary():
        pytest.fail("Mosquitto is not installed (make test installs it: apt-get install mosquitto)")
    samples, growth, lost = budget("plain meter, MQTT, telnet, web server", MQTT_HEAP, mqtt=True)
    assert samples[-1][0] >= FRAMES and lost == 0
    assert growth <= MAX_GROWTH


def test_everything_on_runs_10000_frames_without_growing():
    if not sim_broker.mosquitto_binary():
        pytest.fail("Mosquitto is not installed (make test installs it: apt-get install mosquitto)")
    samples, growth, lost = budget("encrypted meter, MQTT, dashboard polled every 2 s, telnet", FULL_HEAP,
                                   mqtt=True, web=2, capture=DANISH)
    assert samples[-1][0] >= FRAMES and lost == 0
    assert growth <= MAX_GROWTH
