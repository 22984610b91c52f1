"""The device configuration: one JSON document, a schema with defaults and checks, atomic saves.

    {"wifi": {...}, "meter": {...}, "mqtt": {...}, "web": {...}, "telnet": {...}, "led": {...},
     "timezone": "..."}

Every field is checked with a sentence saying what is wrong. A corrupt or unreadable file is
kept aside as config.bad.json and the defaults are used (the device then opens its access point),
so a bad file never causes a boot loop. Secrets are never shown: `masked()` gives "set"/"not set".
"""
import json
import os

from han.keys import parse_key

FILE = "config.json"
BAD_FILE = "config.bad.json"
SERIAL_BAUDS = (0, 2400, 4800, 9600, 19200, 38400, 57600, 115200)  # 0: find it automatically
METER_HINTS = ("", "aidon", "kaifa", "kamstrup", "kamstrup-se")

# ESP32-WROOM pins: flash (6-11) is never usable; input-only pins (34-39) cannot drive an LED;
# strapping pins (0, 2, 5, 12, 15) decide how the chip boots; 1 and 3 are the USB serial port.
_FLASH = (6, 7, 8, 9, 10, 11)
_MISSING = (20, 24, 28, 29, 30, 31)


def gpio_problem(pin, use):
    """(error, warning) for using `pin` as `use` ("rx" or "led"); either may be None."""
    if not isinstance(pin, int) or isinstance(pin, bool):
        return "must be a GPIO number", None
    if use == "led" and pin == -1:
        return None, None  # no LED
    if not 0 <= pin <= 39 or pin in _MISSING:
        return "GPIO%d does not exist on the ESP32 (0-39, not 20, 24, 28-31)" % pin, None
    if pin in _FLASH:
        return "GPIO%d is wired to the flash chip on ESP32-WROOM modules: using it crashes the board" % pin, None
    if pin in (1, 3):
        return "GPIO%d is the USB serial port (UART0): the meter cannot share it" % pin, None
    if use == "led":
        if pin >= 34:
            return "GPIO%d is input-only: it cannot drive an LED" % pin, None
        if pin == 0:
            return "GPIO0 is the BOOT button's strapping pin: an LED holding it low at reset starts " \
                   "the board in download mode", None
        if pin in (2, 5, 12, 15):
            return None, "GPIO%d is a strapping pin: fine for an LED, but keep it unlit at power-up" % pin
        return None, None
    if pin == 0:
        return "GPIO0 is the BOOT button's strapping pin: a meter line holding it low at reset starts " \
               "the board in download mode", None
    if pin == 12:
        return "GPIO12 is a strapping pin: an idle-high meter line at reset selects 1.8 V flash and the " \
               "board does not boot", None
    if pin in (2, 5, 15):
        return None, "GPIO%d is a strapping pin: it works, but the meter line may disturb booting; " \
                     "GPIO16 is the usual choice" % pin
    if pin >= 34:
        return None, "GPIO%d has no internal pull-up: the adapter must pull the line up" % pin
    return None, None


def _text(limit):
    def check(value):
        if not isinstance(value, str):
            return "must be text"
        if len(value) > limit:
            return "is too long (%d characters, at most %d)" % (len(value), limit)
        return None
    return check


def _number(low, high):
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be a whole number"
        if not low <= value <= high:
            return "must be between %d and %d" % (low, high)
        return None
    return check


def _one_of(choices):
    def check(value):
        if value not in choices:
            return "must be one of: " + ", ".join(str(c) if c != "" else '""' for c in choices)
        return None
    return check


def _flag(value):
    return None if isinstance(value, bool) else "must be true or false"


def _key(value):
    if value == "":
        return None
    if not isinstance(value, str):
        return "must be text"
    try:
        parse_key(value, "the key")
    except ValueError as e:
        return e.args[0][len("the key "):]
    return None


def _wifi_password(value):
    problem = _text(64)(value)
    if problem is None and 0 < len(value) < 8:
        return "must be empty (open network) or 8 to 64 characters"
    return problem


# (section, field, default, check, secret)
SCHEMA = (
    ("wifi", "ssid", "", _text(32), False),
    ("wifi", "password", "", _wifi_password, True),
    ("wifi", "hostname", "hanreader", _text(32), False),
    ("wifi", "ap_password", "", _wifi_password, True),
    ("wifi", "ap_after_minutes", 5, _number(1, 60), False),
    ("meter", "rx_pin", 16, None, False),  # checked by gpio_problem
    ("meter", "baud", 0, _one_of(SERIAL_BAUDS), False),
    ("meter", "parity", "N", _one_of(("N", "E", "O")), False),
    ("meter", "bits", 8, _one_of((7, 8)), False),
    ("meter", "stop_bits", 1, _one_of((1, 2)), False),
    ("meter", "invert", False, _flag, False),
    ("meter", "key", "", _key, True),
    ("meter", "auth_key", "", _key, True),
    ("meter", "hint", "", _one_of(METER_HINTS), False),
    ("meter", "power_multiplier", 1, _number(1, 100000), False),
    ("meter", "voltage_multiplier", 1, _number(1, 100000), False),
    ("meter", "current_multiplier", 1, _number(1, 100000), False),
    ("meter", "energy_multiplier", 1, _number(1, 100000), False),
    ("mqtt", "host", "", _text(64), False),
    ("mqtt", "port", 1883, _number(1, 65535), False),
    ("mqtt", "user", "", _text(64), False),
    ("mqtt", "password", "", _text(64), True),
    ("mqtt", "tls", False, _flag, False),
    ("mqtt", "prefix", "hanreader", _text(64), False),
    ("mqtt", "discovery", True, _flag, False),
    ("mqtt", "discovery_prefix", "homeassistant", _text(64), False),
    ("mqtt", "per_value", False, _flag, False),
    ("mqtt", "raw", False, _flag, False),
    ("web", "password_hash", "", _text(128), True),
    ("telnet", "enabled", True, _flag, False),
    ("telnet", "port", 23, _number(1, 65535), False),
    ("telnet", "password", "", _text(64), True),
    ("telnet", "level", "I", _one_of(("E", "W", "I", "D", "V")), False),
    ("led", "pin", 2, None, False),  # checked by gpio_problem
    ("led", "inverted", False, _flag, False),
    ("system", "timezone", "CET-1CEST,M3.5.0,M10.5.0/3", _text(64), False),
)


def defaults():
    config = {}
    for section, field, default, _, _ in SCHEMA:
        config.setdefault(section, {})[field] = default
    return config


def validate(config):
    """({"section.field": error}, {"section.field": warning}) for a whole configuration."""
    errors = {}
    warnings = {}
    for section, field, _, check, _ in SCHEMA:
        name = section + "." + field
        value = config.get(section, {}).get(field)
        if check is None:
            error, warning = gpio_problem(value, "rx" if section == "meter" else "led")
        else:
            error, warning = check(value), None
        if error:
            errors[name] = error
        elif warning:
            warnings[name] = warning
    rx, led = config.get("meter", {}).get("rx_pin"), config.get("led", {}).get("pin")
    if rx == led and "meter.rx_pin" not in errors:
        errors["led.pin"] = "GPIO%d is already the meter's RX pin" % led
    return errors, warnings


def merged(base, changes):
    """`base` with the fields of `changes` applied; an empty secret keeps the stored one."""
    result = {}
    for section, field, default, _, secret in SCHEMA:
        value = base.get(section, {}).get(field, default)
        new = changes.get(section, {})
        if field in new and not (secret and new[field] == ""):
            value = new[field]
        result.setdefault(section, {})[field] = value
    return result


def masked(config):
    """The configuration with every secret replaced by "set" or "not set"."""
    shown = {}
    for section, field, default, _, secret in SCHEMA:
        value = config.get(section, {}).get(field, default)
        shown.setdefault(section, {})[field] = ("set" if value else "not set") if secret else value
    return shown


def _path(folder, name):
    return folder + "/" + name if folder else name


def load(folder):
    """(config, problem): the stored configuration, or the defaults and why they are used.

    Fields missing from the file take their defaults; an invalid field takes its default and is
    named in the problem. An unreadable or corrupt file is renamed to config.bad.json.
    """
    path = _path(folder, FILE)
    try:
        with open(path) as f:
            stored = json.load(f)
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except OSError:
        return defaults(), None  # first boot: nothing stored yet
    except (ValueError, TypeError) as e:
        try:
            os.rename(path, _path(folder, BAD_FILE))
        except OSError:
            pass
        return defaults(), "config.json is corrupt (%s): kept as %s, using defaults" % (e, BAD_FILE)
    config = merged(defaults(), {s: v for s, v in stored.items() if isinstance(v, dict)})
    errors, _ = validate(config)
    if not errors:
        return config, None
    fallback = defaults()
    for name in errors:
        section, field = name.split(".")
        config[section][field] = fallback[section][field]
    return config, "invalid settings replaced by defaults: " + ", ".join(sorted(errors))


def save(folder, config):
    """Write atomically: a power cut leaves either the old or the new file, never half of one."""
    path = _path(folder, FILE)
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(config, f)
    try:
        os.rename(temporary, path)
    except OSError:  # file systems that do not replace on rename
        os.remove(path)
        os.rename(temporary, path)
