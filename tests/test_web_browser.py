"""The web pages in a real browser: headless Debian Chromium (driven by Playwright) against the
firmware under the MicroPython unix port reading the simulated meter.

The dashboard shows the replayed meter's values as its exact decimal text and its power chart
moves; a single-phase meter shows L1 alone; the status page shows the counters and diagnosis;
the config page is refused without the admin password; a bad GPIO or a 31-digit key shows the
field's error and saves nothing; a valid change survives the restart it causes. Screenshots of
every page go to test-artifacts/.
"""
import json
import os

import pytest
from web_support import ARTIFACTS, PASSWORD, Browser, chromium_available, rig  # noqa: F401 - rig is a fixture

# Skipped on a machine without Chromium, but never in CI (.ci/run installs it).
pytestmark = pytest.mark.skipif(not chromium_available() and not os.environ.get("CI"),
                                reason="no /usr/bin/chromium (apt-get install chromium)")

FRAMES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "frames")
SINGLE_PHASE = os.path.join(FRAMES, "amsreader-frames", "Kamstrup-1p.bin")
WITH_ENERGY = os.path.join(FRAMES, "amsreader-frames", "Aidon-TN-3p-list3-2024-09-21.bin")  # 2400 8E1


@pytest.fixture
def browser():
    browser = Browser()
    try:
        yield browser
    finally:
        browser.close()


def text(page, selector):
    return page.locator(selector).inner_text().strip()


def test_dashboard_shows_the_meter_and_the_chart_moves(rig, browser):
    device = rig.start({})
    page = browser.page
    page.goto(device.url("/"))
    page.wait_for_function("() => document.getElementById('power_import').textContent === '826 W'")
    assert text(page, "#power_export") == "0 W"
    for cell, shown in (("voltage_l1", "232 V"), ("voltage_l2", "233 V"), ("voltage_l3", "236 V"),
                        ("current_l1", "2.37 A"), ("current_l2", "0.89 A"), ("current_l3", "0.75 A")):
        assert text(page, "#" + cell) == shown
    assert page.locator("#energy-card").is_hidden()  # this list has no energy counters
    meter = text(page, "#meter")
    assert "Kamstrup" in meter and "5706567326590407" in meter and "Kamstrup_V0001" in meter
    assert "Reactive power import" in text(page, "#other") and "104 var" in text(page, "#other")
    page.wait_for_function("() => document.getElementById('frame-time').textContent.indexOf('2022-01-24 18:58:50') === 0")
    page.wait_for_function("() => document.getElementById('line').getAttribute('points').split(' ').length >= 2")
    before = page.locator("#line").get_attribute("points")
    page.wait_for_function("() => document.getElementById('line').getAttribute('points').split(' ').length > %d"
                           % (len(before.split(" ")) + 1), timeout=15000)
    after = page.locator("#line").get_attribute("points")
    assert after != before
    ys = set(point.split(",")[1] for point in after.split(" "))
    assert len(ys) == 1  # one height: 826 W in every push of this capture
    browser.screenshot("dashboard")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    browser.screenshot("dashboard-phone")
    assert browser.errors == []


def test_the_dashboard_says_what_the_device_said_when_it_could_not_answer(rig, browser):
    # A device short of heap for a moment answers a poll with a constant 503 (app/web/server.py
    # NO_ROOM): the dashboard shows its words and polls on; one that does not answer at all is
    # said to be unreachable. The answers are stood in for here (the browser's requests routed).
    from app.web.server import NO_ROOM
    head, body = NO_ROOM.split(b"\r\n\r\n")
    device = rig.start({})
    page = browser.page
    page.goto(device.url("/"))
    page.wait_for_function("() => document.getElementById('power_import').textContent === '826 W'")
    assert page.locator("#notice").is_hidden()
    page.route("**/api/data", lambda route: route.fulfill(status=503, body=body,
                                                          headers={"Content-Type": "application/json"}))
    page.wait_for_function("() => !document.getElementById('notice').hidden", timeout=10000)
    assert text(page, "#notice") == "The device says: %s." % json.loads(body)["error"]
    page.unroute("**/api/data")
    page.route("**/api/data", lambda route: route.abort())
    page.wait_for_function("() => document.getElementById('notice').textContent.indexOf('does not answer') >= 0",
                           timeout=10000)
    page.unroute("**/api/data")
    page.wait_for_function("() => document.getElementById('notice').hidden", timeout=10000)
    assert browser.errors == []


def test_a_page_the_device_had_no_room_to_serve_loads_again_by_itself(rig, browser):
    # The same constant 503 answering the page itself (the browser's request for / routed to
    # it once): the browser shows its words, then opens the page again and gets the dashboard.
    from app.web.server import NO_ROOM
    head, body = NO_ROOM.split(b"\r\n\r\n")
    headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:])
    device = rig.start({})
    page = browser.page
    answered = []

    def once(route):
        if answered:
            route.continue_()
        else:
            answered.append(route.request.url)
            route.fulfill(status=503, body=body, headers=headers)
    page.route(device.url("/"), once)
    page.goto(device.url("/"))
    assert "short of memory" in page.content() and answered == [device.url("/")]
    page.wait_for_function("() => document.getElementById('power_import') !== null"
                           " && document.getElementById('power_import').textContent === '826 W'", timeout=10000)
    assert browser.errors == []


def test_missing_phases_are_hidden_and_energy_shown(rig, browser, tmp_path):
    rig.meter = None  # a meter simulator of its own for each capture
    device = rig.start({}, capture=SINGLE_PHASE, data=str(tmp_path / "one"))
    page = browser.page
    page.goto(device.url("/"))
    page.wait_for_function("() => document.getElementById('voltage_l1') && "
                           "document.getElementById('voltage_l1').textContent === '226 V'")
    # 290 x 10^-2 A: the meter's own digits ("2.90"), not a float's 2.9
    assert text(page, "#current_l1") == "2.90 A" and text(page, "#power_import") == "616 W"
    assert page.locator("#voltage_l2").count() == 0 and page.locator("#voltage_l3").count() == 0
    assert text(page, "#phases tr >> nth=0") == "L1"  # the head row: no L2, no L3 (not zeros)
    browser.screenshot("dashboard-single-phase")
    device.close()

    rig.meter = None
    device = rig.start({"meter": {"parity": "E"}}, capture=WITH_ENERGY, data=str(tmp_path / "energy"))
    with open(WITH_ENERGY[:-4] + ".json") as f:
        expected = json.load(f)["expected"][0]["obis"]
    page.goto(device.url("/"))
    page.wait_for_function("() => !document.getElementById('energy-card').hidden", timeout=20000)
    energy = text(page, "#energy")
    import_code = [code for code in expected if code.split(".")[2:5] == ["1", "8", "0"]][0]
    assert "Energy import" in energy and "%s %s" % (json.dumps(expected[import_code][0]), expected[import_code][1]) in energy
    browser.screenshot("dashboard-energy")
    assert browser.errors == []


def test_status_page(rig, browser):
    device = rig.start({})
    device.wait_readings(2)
    page = browser.page
    page.goto(device.url("/status"))
    page.wait_for_function("() => document.getElementById('serial').textContent === '2400 8N1'")
    assert int(text(page, "#good")) >= 2 and text(page, "#checksum") == "0" and text(page, "#decrypt") == "0"
    assert text(page, "#unknown").isdigit() and text(page, "#reset_cause") == "power-on"
    page.wait_for_function("() => document.getElementById('diagnosis').textContent.indexOf('Frames decode') === 0")
    assert text(page, "#heap_free").endswith(" B") and text(page, "#loop_stall").endswith(" ms")
    assert "access point" in text(page, "#wifi") and text(page, "#mqtt")
    browser.screenshot("status")
    assert browser.errors == []


def test_config_page_is_refused_without_the_password(rig, browser):
    device = rig.start({})
    page = browser.page
    page.goto(device.url("/config"))
    page.wait_for_selector("#choose:not([hidden])")
    assert page.url == device.url("/login?next=/config")
    assert page.locator("#settings").count() == 0  # the login page has no settings form at all
    assert "Choose an admin password" in text(page, "#choose")
    browser.screenshot("login-first-visit")
    page.fill("#choose [name=password]", PASSWORD)
    page.fill("#choose [name=password2]", PASSWORD)
    page.click("#choose button")
    page.wait_for_selector("#settings:not([hidden])")
    assert page.url == device.url("/config")

    other = browser.new_page()  # another browser, without the session: refused, asked for the password
    other.goto(device.url("/config"))
    other.wait_for_selector("#login:not([hidden])")
    assert other.url == device.url("/login?next=/config")
    assert other.evaluate("() => fetch('/api/config').then(r => r.status)") == 401
    other.fill("#login [name=password]", "wrong password")
    other.click("#login button")
    other.wait_for_function("() => document.querySelector('#login .msg').textContent === 'wrong password'")
    browser.screenshot("login-wrong-password", other)
    assert browser.errors == []


def test_settings_errors_save_nothing_and_a_valid_change_survives_a_restart(rig, browser, tmp_path):
    device = rig.start({})
    page = browser.page
    page.goto(device.url("/config"))
    page.fill("#choose [name=password]", PASSWORD)
    page.fill("#choose [name=password2]", PASSWORD)
    page.click("#choose button")
    page.wait_for_selector("#settings:not([hidden])")
    for label in ("Encryption key (GUEK; Danish grid operators call it GPK60)", "Authentication key (GAK; GPK61)"):
        assert page.get_by_label(label).count() == 1
    assert page.locator("[data-secret='meter.key']").inner_text() == "not set"
    assert page.locator("[name='telnet.level']").is_visible() and page.locator("[name='telnet.port']").is_visible()
    browser.screenshot("config")
    with open(device.config_path(), "rb") as f:
        before = f.read()

    page.fill("[name='meter.rx_pin']", "6")
    page.click("button[type=submit]")
    page.wait_for_function("() => document.querySelector('.msg[data-for=\"meter.rx_pin\"]').textContent !== ''")
    assert text(page, ".msg[data-for='meter.rx_pin']") == \
        "GPIO6 is wired to the flash chip on ESP32-WROOM modules: using it crashes the board"
    assert text(page, "#result").startswith("Nothing was saved")
    page.fill("[name='meter.rx_pin']", "16")
    page.fill("[name='meter.key']", "00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE F")  # 31 digits
    page.click("button[type=submit]")
    page.wait_for_function("() => document.querySelector('.msg[data-for=\"meter.key\"]').textContent !== ''")
    assert text(page, ".msg[data-for='meter.key']") == "must be 32 hex digits (16 bytes), not 31"
    assert text(page, ".msg[data-for='meter.rx_pin']") == ""
    browser.screenshot("config-errors")
    with open(device.config_path(), "rb") as f:
        assert f.read() == before  # nothing saved
    assert device.process.poll() is None

    page.fill("[name='meter.key']", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF")
    page.select_option("[name='telnet.level']", "D")
    page.fill("[name='mqtt.prefix']", "house/meter")
    page.click("button[type=submit]")
    page.wait_for_function("() => document.getElementById('result').textContent.indexOf('Saved') === 0")
    assert device.wait_exit() == 3  # saved, and restarting to apply it
    device = rig.start(data=str(tmp_path / "data"), http_port=device.http_port)  # the board is back
    page.wait_for_selector("#login:not([hidden])", timeout=20000)  # the page reloads; the session ended
    page.fill("#login [name=password]", PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#settings:not([hidden])")
    assert page.locator("[data-secret='meter.key']").inner_text() == "set"
    assert page.locator("[name='meter.key']").input_value() == ""  # never sent back
    assert page.locator("[name='telnet.level']").input_value() == "D"
    assert page.locator("[name='mqtt.prefix']").input_value() == "house/meter"
    browser.screenshot("config-after-restart")
    assert browser.errors == []
    assert os.path.exists(os.path.join(ARTIFACTS, "config-after-restart.png"))
