"""What the meter's config says, read once when the meter task is made (app/meter.py): the keys,
the serial setting (or the line detective that finds it) and the multipliers; and the setting the
detective found, kept. Loaded for each and unloaded after.
"""
from app import unload


def settled_path(data):
    """The file keeping the setting automatic detection found, tried first at the next boot."""
    return (data + "/" if data else "") + "serial-auto"


def apply(meter, config, data):
    """Set `meter`'s pipeline, setting, detective and multipliers from the config's "meter"
    section; `data` is the hal's data folder."""
    keys = None
    if config["key"] or config["auth_key"]:
        from han.key_text import parse_key  # the keys are read now, then never again
        from han.keys import cipher  # only a meter that encrypts needs it
        # (cipher() makes the cipher's tables now, before the heap fragments)
        keys = cipher(parse_key(config["key"]) if config["key"] else None,
                      parse_key(config["auth_key"]) if config["auth_key"] else None)
        del parse_key
        unload("han.key_text")
    from han.pipeline import Pipeline
    meter.pipeline = Pipeline(keys, config["hint"] or None, meter._trace)
    # The names a push would meet first: interned now, while the heap is whole. Met first by the
    # first push, with MQTT's names just short of a new pool, they needed a 7 KB piece a start
    # had scattered: a plain meter with MQTT in 112K decoded no push at all.
    # (han.errors.load imports each for the caller alone: its code goes, its names stay.)
    from han.errors import load
    for table in ("meters", "details", "verdicts"):
        load(table)
    # The fixed setting as text ("2400 8E1", "115200 8N1 inverted"), or None when the config
    # says "find it automatically" (baud 0): then the line detective finds it.
    meter.setting = None
    if config["baud"]:
        meter.setting = "%d %d%s%d%s" % (config["baud"], config["bits"], config["parity"], config["stop_bits"],
                                         " inverted" if config["invert"] else "")
    meter.detective = None
    if meter.setting is None:
        from han.detective import LineDetective  # loaded only while the setting is being found
        start = 0
        try:
            with open(settled_path(data)) as f:
                start = int(f.read())
        except (OSError, ValueError):
            pass
        meter.detective = LineDetective(start=start)
    multipliers = (config["power_multiplier"], config["voltage_multiplier"],
                   config["current_multiplier"], config["energy_multiplier"])
    meter.multipliers = None if multipliers == (1, 1, 1, 1) else multipliers  # None: values as sent


def settled(meter):
    """The line detective has found the serial setting: it is used from now on, and tried first at
    the next boot."""
    from han.detective import describe
    detective = meter.detective
    setting = meter.setting = meter.state.serial = describe(detective.setting)
    meter.log.info("Serial settings found: " + setting)
    try:
        with open(settled_path(meter.hal.data), "w") as f:
            f.write(str(detective.index))
    except OSError:
        pass
    meter.detective = None
    unload("han.detective")  # its work is done: the heap it took comes back
