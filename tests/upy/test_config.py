"""The config store: schema, per-field messages, GPIO rules, masking, atomic save, and loading
a missing, corrupt or invalid file (both interpreters)."""
import json
import os

from app import config as store

KEY = "000102030405060708090A0B0C0D0E0F"
SECRET = "Sup3rSecretPassw0rd"

_made = [0]


def _folder():
    """An empty folder of its own under /tmp (MicroPython has no tempfile)."""
    _made[0] += 1
    path = "/tmp/hanreader-test-config-%s-%d" % (os.urandom(4).hex(), _made[0])
    os.mkdir(path)
    return path


def _clean(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _problems(pin, use):
    return store.gpio_problem(pin, use)


# --- GPIO rules ---------------------------------------------------------------------------

RX_REFUSED = (0, 1, 3, 6, 7, 8, 9, 10, 11, 12, 17, 20, 24, 28, 29, 30, 31, 37, 38)
RX_WARNED = (2, 5, 15, 34, 35, 36, 39)
LED_REFUSED = (0, 1, 3, 6, 7, 8, 9, 10, 11, 17, 20, 24, 28, 29, 30, 31, 34, 35, 36, 37, 38, 39)
LED_WARNED = (2, 5, 12, 15)


def test_every_pin_has_the_documented_outcome_for_the_meter_line():
    for pin in range(40):
        error, warning = _problems(pin, "rx")
        if pin in RX_REFUSED:
            assert error and warning is None, pin
        elif pin in RX_WARNED:
            assert error is None and warning, pin
        else:
            assert (error, warning) == (None, None), pin


def test_every_pin_has_the_documented_outcome_for_the_led():
    for pin in range(40):
        error, warning = _problems(pin, "led")
        if pin in LED_REFUSED:
            assert error and warning is None, pin
        elif pin in LED_WARNED:
            assert error is None and warning, pin
        else:
            assert (error, warning) == (None, None), pin
    assert _problems(-1, "led") == (None, None)  # no LED


def test_messages_name_the_pin_and_the_reason():
    error = _problems(0, "led")[0]
    assert error.startswith("GPIO0 ") and "BOOT" in error and "download mode" in error
    assert "flash" in _problems(6, "rx")[0] and "GPIO6 " in _problems(6, "rx")[0]
    assert "flash" in _problems(11, "led")[0]
    assert "input-only" in _problems(34, "led")[0]
    assert "pull-up" in _problems(34, "rx")[1]
    assert "1.8 V" in _problems(12, "rx")[0]
    assert "1.8 V" in _problems(12, "led")[1]
    assert "strapping" in _problems(15, "rx")[1] and "GPIO15 " in _problems(15, "rx")[1]
    assert "UART0" in _problems(3, "rx")[0]
    assert "TX" in _problems(17, "rx")[0]
    assert "WROOM" in _problems(37, "rx")[0]
    assert "does not exist" in _problems(40, "rx")[0]
    assert "does not exist" in _problems(-1, "rx")[0]
    assert "does not exist" in _problems(20, "led")[0]


def test_pins_must_be_numbers():
    assert _problems("16", "rx")[0] == "must be a GPIO number"
    assert _problems(True, "led")[0] == "must be a GPIO number"
    assert _problems(16.0, "rx")[0] == "must be a GPIO number"
    assert _problems(None, "led")[0] == "must be a GPIO number"


# --- validation ---------------------------------------------------------------------------

def _with(section, field, value):
    config = store.defaults()
    config[section][field] = value
    return config


def test_defaults_are_valid():
    errors, warnings = store.validate(store.defaults())
    assert errors == {}
    assert list(warnings) == ["led.pin"]  # GPIO2, the DevKit's LED, is a strapping pin


def test_every_field_has_a_default_and_a_check_message():
    config = store.defaults()
    assert sorted(config) == ["led", "meter", "mqtt", "system", "telnet", "web", "wifi"]
    assert config["meter"]["rx_pin"] == 16 and config["telnet"]["port"] == 23
    for section, field, _, _, _ in store.SCHEMA:
        errors, _ = store.validate(_with(section, field, object()))
        assert list(errors) == [section + "." + field], errors
        assert isinstance(errors[section + "." + field], str)


def test_one_clear_message_per_field():
    errors, _ = store.validate(_with("meter", "baud", 1200))
    assert errors == {"meter.baud": "must be one of: 0, 2400, 4800, 9600, 19200, 38400, 57600, 115200"}
    errors, _ = store.validate(_with("mqtt", "port", 70000))
    assert errors == {"mqtt.port": "must be between 1 and 65535"}
    errors, _ = store.validate(_with("telnet", "port", "23"))
    assert errors == {"telnet.port": "must be a whole number"}
    errors, _ = store.validate(_with("telnet", "enabled", 1))
    assert errors == {"telnet.enabled": "must be true or false"}
    errors, _ = store.validate(_with("telnet", "level", "X"))
    assert errors == {"telnet.level": "must be one of: E, W, I, D, V"}
    errors, _ = store.validate(_with("wifi", "ssid", "x" * 33))
    assert errors == {"wifi.ssid": "is too long (33 characters, at most 32)"}
    errors, _ = store.validate(_with("wifi", "password", "short"))
    assert errors == {"wifi.password": "must be empty (open network) or 8 to 64 characters"}
    errors, _ = store.validate(_with("meter", "hint", "nope"))
    assert list(errors) == ["meter.hint"] and errors["meter.hint"].startswith('must be one of: "", aidon')
    errors, _ = store.validate(_with("meter", "rx_pin", 6))
    assert errors["meter.rx_pin"].startswith("GPIO6 is wired to the flash chip")
    errors, _ = store.validate(_with("led", "pin", 0))
    assert errors["led.pin"].startswith("GPIO0 is the BOOT button's strapping pin")


def test_keys_are_32_hex_digits_and_the_message_never_shows_them():
    for good in ("", KEY, KEY.lower(), "0x" + KEY, "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
                 "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f"):
        assert store.validate(_with("meter", "key", good))[0] == {}, good
        assert store.validate(_with("meter", "auth_key", good))[0] == {}, good
    short = KEY[:-1]
    error = store.validate(_with("meter", "key", short))[0]["meter.key"]
    assert error == "must be 32 hex digits (16 bytes), not 31"
    bad = KEY[:-1] + "G"
    error = store.validate(_with("meter", "auth_key", bad))[0]["meter.auth_key"]
    assert "32 hex digits" in error and "other characters" in error
    assert bad not in error and KEY[:8] not in error
    assert store.validate(_with("meter", "key", 1234))[0] == {"meter.key": "must be text"}


def test_led_on_the_meter_pin_is_refused():
    config = _with("led", "pin", 25)
    config["meter"]["rx_pin"] = 25
    errors, _ = store.validate(config)
    assert errors == {"led.pin": "GPIO25 is already the meter's RX pin"}


def test_validate_survives_a_wrong_shape():
    errors, _ = store.validate({"meter": [1, 2], "wifi": "x"})
    assert "meter.rx_pin" in errors and "wifi.ssid" in errors


def test_describe_lists_fields_in_order():
    assert store.describe({"b.x": "two", "a.y": "one"}) == "a.y: one; b.x: two"


# --- masking and merging ------------------------------------------------------------------

def test_secrets_show_only_as_set_or_not_set():
    config = store.defaults()
    config["wifi"]["password"] = SECRET
    config["meter"]["key"] = KEY
    config["mqtt"]["password"] = SECRET
    shown = store.masked(config)
    assert shown["wifi"]["password"] == "set" and shown["meter"]["key"] == "set"
    assert shown["meter"]["auth_key"] == "not set" and shown["telnet"]["password"] == "not set"
    assert shown["web"]["password_hash"] == "not set"
    assert shown["wifi"]["ssid"] == "" and shown["meter"]["rx_pin"] == 16
    text = json.dumps(shown)
    assert SECRET not in text and KEY not in text
    secrets = [s + "." + f for s, f, _, _, secret in store.SCHEMA if secret]
    assert secrets == ["wifi.password", "wifi.ap_password", "meter.key", "meter.auth_key",
                       "mqtt.password", "web.password_hash", "telnet.password"]


def test_merge_keeps_a_stored_secret_when_the_form_leaves_it_empty():
    base = store.defaults()
    base["mqtt"]["password"] = SECRET
    changed = store.merged(base, {"mqtt": {"password": "", "host": "broker"}, "junk": {"x": 1},
                                  "meter": {"unknown": 5}})
    assert changed["mqtt"]["password"] == SECRET and changed["mqtt"]["host"] == "broker"
    assert "junk" not in changed and "unknown" not in changed["meter"]
    assert store.merged(base, {"mqtt": {"user": ""}})["mqtt"]["user"] == ""  # not a secret


# --- save and load ------------------------------------------------------------------------

def test_first_boot_has_no_file_and_no_problem():
    folder = _folder()
    try:
        config, problem = store.load(folder)
        assert config == store.defaults() and problem is None
    finally:
        _clean(folder)


def test_saved_config_loads_back_and_leaves_no_temporary_file():
    folder = _folder()
    try:
        config = store.defaults()
        config["meter"]["baud"] = 2400
        config["meter"]["parity"] = "E"
        config["meter"]["key"] = KEY
        config["wifi"]["ssid"] = "home"
        config["telnet"]["level"] = "D"
        config["extra"] = {"ignored": True}
        store.save(folder, config)
        assert sorted(os.listdir(folder)) == [store.FILE]
        loaded, problem = store.load(folder)
        assert problem is None
        del config["extra"]
        assert loaded == config
        config["meter"]["baud"] = 9600  # a second save replaces the first
        store.save(folder, config)
        assert store.load(folder)[0]["meter"]["baud"] == 9600
        assert sorted(os.listdir(folder)) == [store.FILE]
    finally:
        _clean(folder)


def test_save_refuses_invalid_settings_and_keeps_the_old_file():
    folder = _folder()
    try:
        store.save(folder, store.defaults())
        before = _read(folder + "/" + store.FILE)
        config = _with("led", "pin", 0)
        config["meter"]["key"] = "nope"
        try:
            store.save(folder, config)
            raise AssertionError("saved an invalid config")
        except ValueError as e:
            message = e.args[0]
        assert message.startswith("led.pin: GPIO0 is the BOOT button's strapping pin")
        assert "meter.key: must be 32 hex digits" in message and "nope" not in message
        assert _read(folder + "/" + store.FILE) == before
        assert sorted(os.listdir(folder)) == [store.FILE]
    finally:
        _clean(folder)


def _load_corrupt(data):
    folder = _folder()
    try:
        _write(folder + "/" + store.FILE, data)
        config, problem = store.load(folder)
        assert config == store.defaults()
        assert problem.startswith("config.json is unreadable (")
        assert "kept as config.bad.json; using the defaults" in problem
        assert sorted(os.listdir(folder)) == [store.BAD_FILE]
        assert _read(folder + "/" + store.BAD_FILE) == data
        return problem
    finally:
        _clean(folder)


def test_corrupt_file_gives_defaults_and_is_kept_aside():
    _load_corrupt(b'{"wifi": {"ssid": "home", ')


def test_file_that_is_not_an_object_is_corrupt():
    assert "not a JSON object" in _load_corrupt(b"[1, 2, 3]")
    _load_corrupt(b"")
    _load_corrupt(b"null")


def test_binary_garbage_is_corrupt():
    _load_corrupt(b"\xff\xfe\x00\x81garbage\x00")


def test_oversized_file_is_not_read():
    assert "larger than 8192 bytes" in _load_corrupt(b'{"x": "' + b"a" * 9000 + b'"}')


def test_a_second_corrupt_file_replaces_the_first_bad_one():
    folder = _folder()
    try:
        _write(folder + "/" + store.FILE, b"first")
        store.load(folder)
        _write(folder + "/" + store.FILE, b"second")
        store.load(folder)
        assert sorted(os.listdir(folder)) == [store.BAD_FILE]
        assert _read(folder + "/" + store.BAD_FILE) == b"second"
    finally:
        _clean(folder)


def test_invalid_fields_take_their_defaults_and_are_named_without_secrets():
    folder = _folder()
    try:
        stored = {"wifi": {"ssid": "home", "password": SECRET}, "meter": {"rx_pin": 7, "key": SECRET,
                  "baud": 2400}, "led": {"pin": 0}, "mqtt": "not a section"}
        _write(folder + "/" + store.FILE, json.dumps(stored).encode())
        config, problem = store.load(folder)
        assert config["wifi"]["ssid"] == "home" and config["wifi"]["password"] == SECRET
        assert config["meter"]["baud"] == 2400
        assert config["meter"]["rx_pin"] == 16 and config["meter"]["key"] == "" and config["led"]["pin"] == 2
        assert config["mqtt"] == store.defaults()["mqtt"]
        assert problem.startswith("invalid settings in config.json, their defaults are used: led.pin: GPIO0 ")
        assert "meter.key: must be 32 hex digits" in problem and "meter.rx_pin: GPIO7 " in problem
        assert SECRET not in problem
        assert sorted(os.listdir(folder)) == [store.FILE]  # the file itself is kept
    finally:
        _clean(folder)


def test_missing_fields_take_their_defaults():
    folder = _folder()
    try:
        _write(folder + "/" + store.FILE, b'{"meter": {"baud": 2400}}')
        config, problem = store.load(folder)
        assert problem is None
        expected = store.defaults()
        expected["meter"]["baud"] = 2400
        assert config == expected
    finally:
        _clean(folder)


def test_led_default_clashing_with_a_kept_meter_pin_means_no_led():
    folder = _folder()
    try:
        _write(folder + "/" + store.FILE, b'{"meter": {"rx_pin": 2}, "led": {"pin": 2}}')
        config, problem = store.load(folder)
        assert config["meter"]["rx_pin"] == 2 and config["led"]["pin"] == -1
        assert "led.pin: GPIO2 is already the meter's RX pin" in problem
        assert store.validate(config)[0] == {}
    finally:
        _clean(folder)


def test_save_cut_short_after_removing_the_old_file_is_recovered():
    folder = _folder()
    try:
        config = _with("meter", "baud", 9600)
        _write(folder + "/" + store.FILE + ".tmp", json.dumps(config).encode())
        loaded, problem = store.load(folder)
        assert problem is None and loaded["meter"]["baud"] == 9600
        assert sorted(os.listdir(folder)) == [store.FILE]
    finally:
        _clean(folder)


def test_config_in_the_current_folder():
    assert store._path("", store.FILE) == "config.json"
    assert store._path("data", store.FILE) == "data/config.json"
