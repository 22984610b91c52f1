"""Meter conventions as data: who made a meter, the scalers it implies, its positional lists.

A meter is recognised by its OBIS list version identifier ("Kamstrup_V0001", "KFM_001", ...)
or by the first three letters of its system title (the FLAG manufacturer id), or named by the
user ("meter hint"). Adding a meter is adding an entry here, not a branch in the parser.
"""
from han.obis import code

# FLAG manufacturer ids as they start a DLMS system title.
MANUFACTURERS = {
    "ADN": "Aidon", "KAM": "Kamstrup", "KFM": "Kaifa", "LGZ": "Landis+Gyr", "ISK": "Iskraemeco",
    "SAG": "Sagemcom", "SMS": "Siemens", "ELG": "Elgama", "EGM": "Elgama",
}

LIST_ID = code("1.1.0.2.129.255")
METER_ID = code("0.0.96.1.0.255")
METER_TYPE = code("0.0.96.1.7.255")
CLOCK = code("0.0.1.0.0.255")


def _codes(*texts):
    return tuple(code(t) for t in texts)


_KAIFA_LIST2_1P = _codes("1.1.0.2.129.255", "0.0.96.1.0.255", "0.0.96.1.7.255", "1.0.1.7.0.255",
                         "1.0.2.7.0.255", "1.0.3.7.0.255", "1.0.4.7.0.255", "1.0.31.7.0.255",
                         "1.0.32.7.0.255")
_KAIFA_LIST2_3P = _KAIFA_LIST2_1P[:8] + _codes("1.0.51.7.0.255", "1.0.71.7.0.255", "1.0.32.7.0.255",
                                               "1.0.52.7.0.255", "1.0.72.7.0.255")
_KAIFA_LIST3 = _codes("0.0.1.0.0.255", "1.0.1.8.0.255", "1.0.2.8.0.255", "1.0.3.8.0.255",
                      "1.0.4.8.0.255")


class Convention:
    """How one family of meters deviates from self-describing DLMS."""

    def __init__(self, name, manufacturer, list_ids=(), flag_ids=(), scalers=None, models=()):
        self.name = name
        self.manufacturer = manufacturer
        self.list_ids = list_ids    # prefixes of the list version identifier
        self.flag_ids = flag_ids    # system title prefixes
        self.models = models        # if given, the meter type must contain one of these
        self.scalers = scalers or {}  # (C, D) -> power-of-ten scaler when the meter sends none


def _scalers(groups, d, scaler):
    return {(c, d): scaler for c in groups}


_PHASE_CURRENTS = (31, 51, 71)
_PHASE_VOLTAGES = (32, 52, 72)
_POWER_FACTORS = (13, 33, 53, 73)
_ENERGIES = (1, 2, 3, 4, 21, 22, 41, 42, 61, 62)

# Kamstrup HAN-NVE: currents in 10 mA, power factor in 0.01, energies in 10 Wh/10 varh (NO, DK).
_KAMSTRUP = _scalers(_PHASE_CURRENTS, 7, -2)
_KAMSTRUP.update(_scalers(_POWER_FACTORS, 7, -2))
_KAMSTRUP_SE = dict(_KAMSTRUP)  # Swedish Kamstrup firmware sends energies in Wh
_KAMSTRUP.update(_scalers(_ENERGIES, 8, 1))

# Kaifa KFM_001: currents in mA, voltages in 0.1 V, no OBIS codes on the Norwegian lists.
_KAIFA = _scalers(_PHASE_CURRENTS, 7, -3)
_KAIFA.update(_scalers(_PHASE_VOLTAGES, 7, -1))

CONVENTIONS = (
    # Swedish Kamstrup type numbers end 10109x (6841138BN245101090, 6841131BN245101092); the
    # Norwegian ones seen end 101040. Other meters can be named with the "kamstrup-se" hint.
    Convention("kamstrup-se", "Kamstrup", ("Kamstrup_",), (), _KAMSTRUP_SE, models=("10109",)),
    Convention("kamstrup", "Kamstrup", ("Kamstrup_",), ("KAM",), _KAMSTRUP),
    Convention("kaifa", "Kaifa", ("KFM_",), ("KFM",), _KAIFA),
    Convention("aidon", "Aidon", ("AIDON_",), ("ADN",)),
)

GENERIC = Convention("generic", None)


def by_name(name):
    for convention in CONVENTIONS:
        if convention.name == name:
            return convention
    return None


def _model_matches(convention, model):
    if not convention.models:
        return True
    return model is not None and any(mark in model for mark in convention.models)


def identify(list_id=None, system_title=None, hint=None, model=None):
    """The convention for a meter; GENERIC when nothing is known."""
    if hint:
        found = by_name(hint)
        if found:
            return found
    if list_id:
        for convention in CONVENTIONS:
            for prefix in convention.list_ids:
                if list_id.startswith(prefix) and _model_matches(convention, model):
                    return convention
    if system_title:
        flag = system_title[:3]
        for convention in CONVENTIONS:
            if flag in convention.flag_ids:
                return convention
    return GENERIC


def manufacturer_from_system_title(system_title):
    return MANUFACTURERS.get(system_title[:3]) if system_title else None


class PositionalList:
    """A list of bare values whose meaning is its position, identified by its first item (a list
    version string or an OBIS code) and its length. None in a layout skips that position."""

    def __init__(self, first, layouts):
        self.first = first      # str prefix, 6-byte OBIS code, or None (first item is a value)
        self.layouts = layouts  # item count -> OBIS code (or None) per position


_WIENER_NETZE = (None, METER_ID, None, None) + _codes(  # list OBIS, meter number, time, date
    "1.0.1.8.0.255", "1.0.2.8.0.255", "1.0.3.8.0.255", "1.0.4.8.0.255", "1.0.1.7.0.255", "1.0.2.7.0.255")

POSITIONAL_LISTS = (
    # Kaifa KFM_001 (Norway): list 1 is active power import alone, without a list id.
    PositionalList(None, {1: _codes("1.0.1.7.0.255")}),
    PositionalList("KFM_", {
        9: _KAIFA_LIST2_1P, 13: _KAIFA_LIST2_3P,
        14: _KAIFA_LIST2_1P + _KAIFA_LIST3, 18: _KAIFA_LIST2_3P + _KAIFA_LIST3,
    }),
    # Wiener Netze (Iskraemeco AM550, Siemens IM350): starts with its push list's code 0-6:25.9.0;
    # the 12-item variant ends with two empty octet-strings.
    PositionalList(code("0.6.25.9.0.255"), {10: _WIENER_NETZE, 12: _WIENER_NETZE + (None, None)}),
)


def positional_layout(first, count):
    """OBIS codes per position for a list of bare values, or None.

    `first` is the list's first item: its text for a string, its 6 bytes for an OBIS code,
    None for a value.
    """
    for positional in POSITIONAL_LISTS:
        layout = positional.layouts.get(count)
        if layout is None:
            continue
        key = positional.first
        if key is None and first is None or isinstance(key, bytes) and key == first \
                or isinstance(key, str) and isinstance(first, str) and first.startswith(key):
            return layout
    return None
