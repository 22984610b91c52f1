"""The web server end to end over real sockets: the firmware under the MicroPython unix port reads
the meter simulator and CPython talks HTTP to it.

The JSON API shows the replayed meter's values exactly; the admin password guards the settings
(first password, login, Basic auth, CSRF, other sites' pages refused); invalid settings save
nothing and a valid change survives a restart; limits on heads and bodies; slow and half-open
clients time out while the meter goes on; at most a few connections; captive-portal redirects
while the access point is open; safe mode serves only the config and status pages.
"""
import json
import os
import socket
import time

from sim_support import KAMSTRUP, ROOT
from web_support import PASSWORD, basic, log_in, rig  # noqa: F401 - rig is a fixture

STALL_LIMIT_MS = 50
KEY = "00:11:22:33 44:55:66:77 88:99:aa:bb:cc:dd:ee:ff"  # as users paste them


def expected_values(capture):
    with open(capture[:-4] + ".json") as f:
        return json.load(f)["expected"][0]


def test_data_status_and_history_show_the_meter(rig):
    device = rig.start({})
    status = device.wait_readings(3)
    data = device.get("/api/data")
    assert data.status == 200 and data.headers["content-type"] == "application/json"
    assert data.headers["cache-control"] == "no-store" and data.headers["connection"] == "close"
    found = data.json()
    expected = expected_values(KAMSTRUP)
    assert found["time"] == expected["time"] and 0 <= found["age_s"] <= 5 and found["readings"] >= 3
    assert found["meter"]["manufacturer"] == "Kamstrup"
    values = {v["obis"]: v for v in found["values"]}
    assert set(values) == set(expected["obis"])
    for code, value in expected["obis"].items():
        if isinstance(value, list):  # [number, unit]: the exact text, not a float's
            assert values[code]["value"] == value[0] and values[code]["unit"] == value[1]
            assert values[code]["text"] == json.dumps(value[0])
        else:
            assert values[code]["value"] == value
    assert values["1.1.31.7.0.255"]["name"] == "current_l1" and values["1.1.31.7.0.255"]["text"] == "2.37"
    assert b'"value": 0.89, "text": "0.89"' in data.body  # the decimal digits as the meter sent them

    assert status["serial"] == "2400 8N1" and status["rx_pin"] == 16
    assert status["checksum"] == status["decrypt"] == 0  # (a push cut by the start may count as noise)
    errors = status["errors"]
    assert status["unknown"] == errors.get("noise", 0) + errors.get("unknown", 0) + errors.get("malformed", 0)
    assert status["diagnosis"]["code"] == "ok" and status["diagnosis"]["text"]
    # The firmware may start listening in the middle of a push: those bytes are its only error.
    assert status["last_error"] is None or (status["last_error"]["code"] == "noise" and errors == {"noise": 1})
    assert status["reset_cause"] == "power-on" and not status["safe_mode"]
    assert status["heap_free"] > 0 and status["uptime_s"] >= 0 and status["mqtt"]
    assert "access point" in status["wifi"] and status["loop_stall_ms"] < STALL_LIMIT_MS

    history = device.get("/api/history").json()
    assert history["count"] >= 3 and [826, 826] == [p[1] for p in history["points"][-2:]]
    ages = [p[0] for p in history["points"]]
    assert ages == sorted(ages, reverse=True)
    later = device.get("/api/history?after=%d" % history["count"]).json()
    assert later["count"] >= history["count"] and len(later["points"]) == later["count"] - history["count"]


def test_pages_files_and_etags(rig):
    device = rig.start({})
    for path, name, kind in (("/", "index.html", "text/html"), ("/status", "status.html", "text/html"),
                             ("/login", "login.html", "text/html"), ("/app.js", "app.js", "text/javascript"),
                             ("/app.css", "app.css", "text/css")):
        response = device.get(path)
        with open(os.path.join(ROOT, "firmware", "www", name), "rb") as f:
            assert response.status == 200 and response.body == f.read(), path
        assert response.headers["content-type"].startswith(kind) and "content-encoding" not in response.headers
        again = device.get(path, **{"If-None-Match": response.headers["etag"]})
        assert again.status == 304 and again.body == b""
    page = device.get("/")
    assert page.headers["x-frame-options"] == "DENY" and "default-src 'self'" in page.headers["content-security-policy"]
    assert device.get("/nothing").status == 404
    assert device.request("PUT", "/").status == 405
    assert device.request("DELETE", "/api/config").status == 405
    assert device.get("/api/nothing").status == 404


def test_the_admin_password_guards_the_settings(rig):
    device = rig.start({})
    config_file = device.config_path()
    with open(config_file, "rb") as f:
        before = f.read()
    refused = device.get("/config")
    assert refused.status == 303 and refused.headers["location"] == "/login?next=/config"
    assert device.get("/api/config").status == 401
    assert device.post("/api/config", {"meter.rx_pin": "17"}).status == 401
    assert device.post("/api/reboot", {}).status == 401
    assert device.post("/api/login", {"password": PASSWORD}).status == 409  # none set yet
    assert device.get("/api/session").json() == {"password_set": False, "logged_in": False, "csrf": None,
                                                 "safe_mode": False}
    short = device.post("/api/password", {"password": "short", "password2": "short"})
    assert short.status == 422 and short.json()["errors"]["password"] == "must be at least 8 characters"
    with open(config_file, "rb") as f:
        assert f.read() == before

    first = device.post("/api/password", {"password": PASSWORD, "password2": PASSWORD})
    assert first.status == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("hanreader=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with open(config_file) as f:
        stored = json.load(f)["web"]["password_hash"]
    assert stored.startswith("pbkdf2-sha256$1000$") and PASSWORD not in stored
    assert device.post("/api/password", {"password": "another one"}).status == 409

    session = {"Cookie": cookie.split(";")[0]}
    info = device.get("/api/session", **session).json()
    assert info["logged_in"] and info["password_set"] and len(info["csrf"]) == 32
    assert device.get("/config", **session).status == 200
    shown = device.get("/api/config", **session).json()
    assert shown["web"]["password_hash"] == "set" and shown["meter"]["key"] == "not set"
    no_token = device.post("/api/config", {"telnet.level": "D"}, session)
    assert no_token.status == 403 and "CSRF" in no_token.json()["error"]
    wrong_token = device.post("/api/config", {"telnet.level": "D"}, dict(session, **{"X-CSRF-Token": "0" * 32}))
    assert wrong_token.status == 403
    other_site = device.post("/api/config", {"telnet.level": "D", "csrf": info["csrf"]},
                             dict(session, Origin="http://evil.example"))
    assert other_site.status == 403 and "another site" in other_site.json()["error"]
    framed = device.post("/api/login", {"password": PASSWORD}, {"Sec-Fetch-Site": "cross-site"})
    assert framed.status == 403
    with open(config_file) as f:
        assert json.load(f)["telnet"]["level"] == "I"

    started = time.monotonic()
    wrong = device.post("/api/login", {"password": "not it at all"})
    assert wrong.status == 403 and time.monotonic() - started >= 0.9  # about one guess a second
    assert device.get("/api/config", **basic("not it at all")).status == 401
    assert "set-cookie" not in wrong.headers
    assert device.get("/api/config", **basic()).json() == shown  # curl -u admin:PASSWORD
    assert device.post("/api/logout", {"csrf": info["csrf"]}, session).status == 200
    assert device.get("/config", **session).status == 303 and device.get("/api/config", **session).status == 401
    assert "Web: wrong admin password" in device.console()


def test_invalid_settings_save_nothing_and_a_valid_change_survives_a_restart(rig, tmp_path):
    device = rig.start({})
    admin = log_in(device)
    with open(device.config_path(), "rb") as f:
        before = f.read()
    bad = device.post("/api/config", {"meter.rx_pin": "6", "meter.key": "00112233445566778899AABBCCDDEEF",
                                      "telnet.level": "D"}, admin)
    assert bad.status == 422
    found = bad.json()
    assert not found["saved"] and set(found["errors"]) == {"meter.rx_pin", "meter.key"}
    assert found["errors"]["meter.rx_pin"].startswith("GPIO6 is wired to the flash chip")
    assert found["errors"]["meter.key"] == "must be 32 hex digits (16 bytes), not 31"
    as_json = device.post("/api/config", body=json.dumps({"meter": {"rx_pin": 6}}),
                          headers=dict(admin, **{"Content-Type": "application/json"}))
    assert as_json.status == 422 and "meter.rx_pin" in as_json.json()["errors"]
    with open(device.config_path(), "rb") as f:
        assert f.read() == before
    assert device.process.poll() is None

    good = device.post("/api/config", {"meter.key": KEY, "telnet.level": "D", "meter.invert": "false",
                                       "system.timezone": "EET-2EEST,M3.5.0/3,M10.5.0/4"}, admin)
    assert good.status == 200 and good.json()["saved"] and good.json()["restart"]
    assert device.wait_exit() == 3  # a reboot: the unix port exits with 3 for `make sim` to restart it
    with open(device.config_path()) as f:
        stored = json.load(f)
    assert stored["meter"]["key"] == KEY and stored["telnet"]["level"] == "D"
    device = rig.start(data=str(tmp_path / "data"))
    shown = device.get("/api/config", **basic()).json()
    assert shown["meter"]["key"] == "set" and shown["meter"]["auth_key"] == "not set"
    assert shown["telnet"]["level"] == "D" and shown["system"]["timezone"] == "EET-2EEST,M3.5.0/3,M10.5.0/4"
    assert device.status()["reset_cause"] == "settings saved on the web page"
    admin = log_in(device)
    kept = device.post("/api/config", body=json.dumps({"meter": {"key": ""}, "telnet": {"level": "D"}}),
                       headers=dict(admin, **{"Content-Type": "application/json"}))
    assert kept.status == 200 and not kept.json()["saved"]  # an empty key keeps the stored one: no change
    assert json.dumps(device.get("/api/config", **basic()).json()).find("00:11:22") < 0


def test_request_limits(rig):
    device = rig.start({})
    big = device.request("POST", "/api/login", body="password=" + "x" * 4000,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status == 413
    head = device.request("GET", "/", headers={"X-Filler-%d" % i: "y" * 300 for i in range(20)})
    assert head.status == 431
    assert device.get("/" + "a" * 600).status == 414
    chunked = device.request("POST", "/api/login", body=iter([b"password=x"]),
                             headers={"Transfer-Encoding": "chunked"})
    assert chunked.status == 501
    with socket.create_connection(("127.0.0.1", device.http_port), timeout=10) as s:
        s.sendall(b"HELLO THERE\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400 ")
    assert device.get("/api/status").status == 200


def _slow_client(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    if data:
        s.sendall(data)
    return s


def test_slow_and_half_open_clients_time_out_while_the_meter_goes_on(rig):
    device = rig.start({}, speed="5")
    before = device.wait_readings(1)
    started = time.monotonic()
    slow = [_slow_client(device.http_port, b"GET /api/status HTTP/1.1\r\nHost: x\r\n") for _ in range(3)]
    time.sleep(0.3)
    queued = device.get("/api/status")  # every slot held by a client that never finishes its head
    assert queued.status == 503 and queued.headers["retry-after"] == "1"
    for s in slow:  # closed by the server after HEAD_TIMEOUT_MS, without an answer
        assert s.recv(100) == b""
        s.close()
    assert time.monotonic() - started < 10
    after = device.status()
    assert after["web"]["timeouts"] >= 3 and after["web"]["refused"] >= 1
    assert after["good"] > before["good"] and after["loop_stall_ms"] < STALL_LIMIT_MS, after

    spare = [_slow_client(device.http_port, b"") for _ in range(3)]  # open, never a byte (browsers do)
    time.sleep(1.2)
    started = time.monotonic()
    assert device.get("/api/data").status == 200  # a spare connection gives its slot up at once
    assert time.monotonic() - started < 1
    assert any(s.recv(10) == b"" for s in spare)  # the one that went
    for s in spare:
        s.close()


def test_captive_portal_redirects_while_the_access_point_is_open(rig, tmp_path):
    device = rig.start({})  # no Wi-Fi network set: the access point is open
    for host, path in (("connectivitycheck.gstatic.com", "/generate_204"), ("captive.apple.com", "/hotspot-detect.html"),
                       ("www.msftconnecttest.com", "/connecttest.txt"), ("example.com", "/anything"),
                       ("example.com", "/api/data")):  # a dashboard poll's path, for another site
        response = device.request("GET", path, headers={"Host": host})
        assert response.status == 302 and response.headers["location"] == "http://192.168.4.1/config", host
    assert device.request("GET", "/generate_204", headers={"Host": "192.168.4.1"}).status == 302
    assert device.request("GET", "/api/status", headers={"Host": "hanreader.local"}).status == 200
    assert device.request("GET", "/api/data", headers={"Host": "192.168.4.1"}).status == 200
    device.close()
    device = rig.start({"wifi": {"ssid": "home", "password": "12345678"}}, data=str(tmp_path / "joined"))
    deadline = time.monotonic() + 10
    while "access point" in device.status()["wifi"]:  # joined (the unix port's network): no AP
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert device.request("GET", "/generate_204", headers={"Host": "connectivitycheck.gstatic.com"}).status == 404


def test_safe_mode_serves_only_config_and_status(rig, tmp_path):
    data = tmp_path / "safe"
    data.mkdir()
    (data / "crashes").write_text("3")  # three starts in a row ended early (app/boot_guard.py)
    device = rig.start({}, data=str(data))
    status = device.status()
    assert status["safe_mode"] and status["serial"] == "not reading: safe mode"
    home = device.get("/")
    assert home.status == 303 and home.headers["location"] == "/config"
    assert device.get("/api/data").status == 503 and device.get("/api/history").status == 503
    assert device.get("/status").status == 200 and device.get("/login").status == 200
    assert device.get("/config").status == 303  # still the password first
    admin = log_in(device)
    assert device.get("/config", Cookie=admin["Cookie"]).status == 200
    assert device.get("/api/session", Cookie=admin["Cookie"]).json()["safe_mode"]
    fixed = device.post("/api/config", {"meter.rx_pin": "25"}, admin)
    assert fixed.status == 200 and device.wait_exit() == 3
