"""GET and POST /api/config: the configuration for the config page and integrations.

GET gives every setting, secrets as "set" / "not set" (the same rule as config.masked).

POST names settings "section.field" (a form: meter.rx_pin=16&meter.invert=true) or nests them
(JSON: {"meter": {"rx_pin": 16}}); settings not named keep their value. Form text becomes the
setting's type (whole numbers; true/false, on/off). Then the whole configuration is checked as
config.save checks it, and nothing is saved unless all of it is valid: the answer is then 422
with {"errors": {"meter.rx_pin": "GPIO6 is wired to the flash chip ..."}, "warnings": {...}},
one sentence per field. A secret left empty keeps the stored one; clear.SECTION.FIELD=true (JSON:
null) removes it. A new admin password comes as web.password (with web.password2, its repeat),
never as the hash. A saved change restarts the device, because the services read the config at
start; a new password alone does not, and logs out every other browser.
"""
from json import dumps

from app import config as config_store
from app.web.http import JSON

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

_TRUE = const(("true", "on", "1", "yes"))
_FALSE = const(("false", "off", "0", "no", ""))


async def show(app, out):
    out.start("200 OK", JSON, "Cache-Control: no-store\r\n")
    section = None
    for name, field, _, _, secret in config_store.SCHEMA:
        value = app.config[name][field]
        if secret:
            value = "set" if value else "not set"
        if name != section:
            out.put('{"' if section is None else '}, "')
            out.put(name + '": {')
            section = name
        else:
            out.put(", ")
        out.put('"%s": %s' % (field, dumps(value)))
        if out.n > 384:
            await out.flush()
    out.put("}}")


def _setting(name):
    for entry in config_store.SCHEMA:
        if entry[0] + "." + entry[1] == name:
            return entry
    return None


def convert(value, default):
    """(value, problem): form text made the type of the setting's default; other values as sent."""
    if not isinstance(value, str):
        return value, None
    if isinstance(default, bool):
        word = value.strip().lower()
        if word in _TRUE:
            return True, None
        if word in _FALSE:
            return False, None
        return value, "must be true or false"
    if isinstance(default, int):
        try:
            return int(value.strip()), None
        except ValueError:
            return value, "must be a whole number"
    return value, None


def parse(fields):
    """(changes {section: {field: value}}, errors {name: sentence}, cleared [(section, field)],
    new admin password or None) from posted fields."""
    changes = {}
    errors = {}
    cleared = []
    password = fields.get("web.password")
    for name, value in fields.items():
        if name in ("csrf", "web.password", "web.password2"):
            continue
        clear = name.startswith("clear.")
        entry = _setting(name[6:] if clear else name)
        if entry is None:
            errors[name] = "is not a setting"
            continue
        section, field, default, _, secret = entry
        if field == "password_hash":
            errors[name] = "is set through web.password (the new admin password)"
        elif clear or value is None:
            if not secret:
                errors[name] = "only secrets can be cleared"
            elif value is None or convert(value, True)[0] is True:
                cleared.append((section, field))
        else:
            value, problem = convert(value, default)
            if problem:
                errors[name] = problem
            else:
                changes.setdefault(section, {})[field] = value
    if password:
        from app.web.auth import password_problem
        problem = password_problem(password, fields.get("web.password2"))
        if problem:
            errors["web.password2" if problem.startswith("the two") else "web.password"] = problem
    return changes, errors, cleared, password or None


def candidate(stored, fields):
    """(the configuration the fields ask for, errors, warnings, new password): validated whole."""
    changes, errors, cleared, password = parse(fields)
    config = config_store.merged(stored, changes)
    for section, field in cleared:
        config[section][field] = ""
    problems, warnings = config_store.validate(config)
    for name in problems:
        if name not in errors:
            errors[name] = problems[name]
    return config, errors, warnings, password


async def change(web, out, fields, who):
    app = web.app
    config, errors, warnings, password = candidate(app.config, fields)
    if errors:
        out.json("422 Unprocessable Entity", '{"saved": false, "errors": %s, "warnings": %s}' % (
            dumps(errors), dumps(warnings)))
        return
    restart = False
    for section, field, _, _, _ in config_store.SCHEMA:
        if config[section][field] != app.config[section][field]:
            restart = True
    if password:
        from app.web.auth import make_hash
        config["web"]["password_hash"] = await make_hash(password)
    if not restart and not password:
        out.json("200 OK", '{"saved": false, "restart": false, "warnings": %s}' % dumps(warnings))
        return
    try:
        config_store.save(app.hal.data, config)
    except (OSError, ValueError) as e:
        out.error("500 Internal Server Error", "the settings could not be saved: %s" % e)
        return
    app.config = config
    if password:  # every other browser logs in again
        web.sessions[:] = [who] if who in web.sessions else []
    out.json("200 OK", '{"saved": true, "restart": %s, "warnings": %s}' % (
        "true" if restart else "false", dumps(warnings)))
    app.log.info("Web: settings saved" + ("; restarting to apply them" if restart else " (admin password)"))
    if restart:
        app.reboot("settings saved on the web page")
