"""The device configuration: one JSON document, a schema with defaults and checks, atomic saves.

    {"wifi": {...}, "meter": {...}, "mqtt": {...}, "web": {...}, "telnet": {...}, "led": {...},
     "system": {"timezone": "..."}}

Every field is checked with a sentence saying what is wrong. A corrupt or unreadable file is
kept aside as config.bad.json and the defaults are used (no Wi-Fi network is set, so the device
opens its access point): a bad file never causes a boot loop. Secrets are never shown:
`masked()` gives "set"/"not set", and no message quotes a secret's value.
"""
import json
import os

from app import unload

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# This module is loaded at boot and to save, and its names stay interned: private consts and few
# helper functions keep them down.
FILE = "config.json"
BAD_FILE = "config.bad.json"
_MAX_BYTES = const(8192)  # a larger file is not a config: reading it could exhaust the heap
SERIAL_BAUDS = (0, 2400, 4800, 9600, 19200, 38400, 57600, 115200)  # 0: find it automatically
METER_HINTS = ("", "aidon", "kaifa", "kamstrup", "kamstrup-se", "iskraemeco", "landisgyr-e450",
               "landisgyr-e360", "landisgyr-e570")
_UART_TX_PIN = const(17)  # hal/esp32.py gives the meter UART this TX pin

# ESP32-WROOM pins: flash (6-11) is never usable; input-only pins (34-39) cannot drive an LED;
# strapping pins (0, 2, 5, 12, 15) decide how the chip boots; 1 and 3 are the USB serial port.
_MISSING = const((20, 24, 28, 29, 30, 31))


def gpio_problem(pin, use):
    """(error, warning) for using `pin` as `use` ("rx" or "led"); either may be None."""
    if not isinstance(pin, int) or isinstance(pin, bool):
        return "must be a GPIO number", None
    if use == "led" and pin == -1:
        return None, None  # no LED
    if not 0 <= pin <= 39 or pin in _MISSING:
        return "GPIO%d does not exist on the ESP32 (0-39, not 20, 24, 28-31)" % pin, None
    if pin in (37, 38):
        return "GPIO%d is not brought out on ESP32-WROOM modules" % pin, None
    if 6 <= pin <= 11:
        return "GPIO%d is wired to the flash chip on ESP32-WROOM modules: using it crashes the board" % pin, None
    if pin in (1, 3):
        return "GPIO%d is the USB serial port (UART0): nothing else can use it" % pin, None
    if pin == _UART_TX_PIN:
        return "GPIO%d is the meter UART's TX pin" % pin, None
    if use == "led":
        if pin >= 34:
            return "GPIO%d is input-only: it cannot drive an LED" % pin, None
        if pin == 0:
            return "GPIO0 is the BOOT button's strapping pin: an LED holding it low at reset starts " \
                   "the board in download mode", None
        if pin == 12:
            return None, "GPIO12 is a strapping pin: an LED wired to 3.3 V pulls it high at reset, " \
                         "which selects 1.8 V flash and the board does not boot; wire it to ground"
        if pin in (2, 5, 15):
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
    """Empty, or 32 hex digits (spaces, colons, dashes and 0x allowed, as han.key_text takes them).

    The message never quotes the value: a key with a typo is still mostly the secret."""
    if value == "":
        return None
    if not isinstance(value, str):
        return "must be text"
    from han.key_text import HEX_DIGITS, key_digits  # the meter's own reading of a key
    digits = key_digits(value)
    unload("han.key_text")
    # str.strip, not a loop over the characters: MicroPython interns each one as a name, for good
    if digits.strip(HEX_DIGITS):
        return "must be 32 hex digits (0-9, A-F); it contains other characters"
    if len(digits) != 32:
        return "must be 32 hex digits (16 bytes), not %d" % len(digits)
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


def _get(config, section, field, default=None):
    fields = config.get(section)
    return fields.get(field, default) if isinstance(fields, dict) else default


def validate(config):
    """({"section.field": error}, {"section.field": warning}) for a whole configuration."""
    errors = {}
    warnings = {}
    for section, field, _, check, _ in SCHEMA:
        name = section + "." + field
        value = _get(config, section, field)
        if check is None:
            error, warning = gpio_problem(value, "rx" if section == "meter" else "led")
        else:
            error, warning = check(value), None
        if error:
            errors[name] = error
        elif warning:
            warnings[name] = warning
    led = _get(config, "led", "pin")
    if led == _get(config, "meter", "rx_pin") and "meter.rx_pin" not in errors and "led.pin" not in errors:
        errors["led.pin"] = "GPIO%d is already the meter's RX pin" % led
    return errors, warnings


def describe(problems):
    """One line from validate()'s errors or warnings: "meter.rx_pin: GPIO6 is ...; led.pin: ..."."""
    return "; ".join("%s: %s" % (name, problems[name]) for name in sorted(problems))


def merged(base, changes):
    """`base` with the fields of `changes` applied; an empty secret keeps the stored one."""
    result = {}
    for section, field, default, _, secret in SCHEMA:
        value = _get(base, section, field, default)
        new = changes.get(section)
        if isinstance(new, dict) and field in new and not (secret and new[field] == ""):
            value = new[field]
        result.setdefault(section, {})[field] = value
    return result


def masked(config):
    """The configuration with every secret replaced by "set" or "not set"."""
    shown = {}
    for section, field, default, _, secret in SCHEMA:
        value = _get(config, section, field, default)
        shown.setdefault(section, {})[field] = ("set" if value else "not set") if secret else value
    return shown


def _path(folder, name):
    return folder + "/" + name if folder else name


def _replace(source, target):
    try:
        os.rename(source, target)
    except OSError:  # file systems that do not replace on rename
        os.remove(target)
        os.rename(source, target)


def load(folder):
    """(config, problem): the stored configuration, or the defaults and why they are used.

    No file (first boot): the defaults, problem None. Fields missing from the file take their
    defaults; an invalid field takes its default and is named in the problem. A file that cannot
    be read or parsed is renamed to config.bad.json and the defaults are used.
    """
    path = _path(folder, FILE)
    try:
        size = os.stat(path)[6]
    except OSError:
        try:  # a save cut short between removing the old file and renaming the new one
            os.rename(path + ".tmp", path)
            size = os.stat(path)[6]
        except OSError:
            return defaults(), None
    try:
        if size > _MAX_BYTES:
            raise ValueError("larger than %d bytes" % _MAX_BYTES)
        with open(path, "rb") as f:
            stored = json.loads(f.read().decode())
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except Exception as e:  # noqa: BLE001 - whatever is wrong with the file, the device must boot
        try:
            _replace(path, _path(folder, BAD_FILE))
            kept = "kept as " + BAD_FILE
        except OSError:
            kept = "it could not be moved aside"
        return defaults(), "%s is unreadable (%s): %s; using the defaults (access point)" % (FILE, e, kept)
    config = merged(defaults(), stored)
    errors, _ = validate(config)
    if not errors:
        return config, None
    fallback = defaults()
    for name in errors:
        section, field = name.split(".")
        config[section][field] = fallback[section][field]
    if validate(config)[0]:  # the default LED pin is the kept RX pin: no LED then
        config["led"]["pin"] = -1
        if validate(config)[0]:
            config = fallback
    return config, "invalid settings in %s, their defaults are used: %s" % (FILE, describe(errors))


def save(folder, config):
    """Check and write the configuration (schema fields only), atomically: a power cut leaves
    the old or the new file, never half of one. Raises ValueError naming the invalid fields."""
    config = merged(defaults(), config)
    errors, _ = validate(config)
    if errors:
        raise ValueError(describe(errors))
    path = _path(folder, FILE)
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(config, f)
    _replace(temporary, path)
