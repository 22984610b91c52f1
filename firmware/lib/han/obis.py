"""OBIS codes: parsing the text form once, and the units a code implies when the meter sends none."""
from han.values import (AMPERE, DEGREE, HERTZ, NO_UNIT, VAR, VAR_HOUR, VOLT, VOLT_AMPERE,
                        VOLT_AMPERE_HOUR, WATT, WATT_HOUR)


def code(text):
    """'1.0.1.7.0.255' (or '1-0:1.7.0.255') -> 6 bytes; for tables built at import time."""
    parts = text.replace("-", ".").replace(":", ".").split(".")
    return bytes(int(p) for p in parts)


def is_code(value):
    return isinstance(value, bytes) and len(value) == 6


# Electricity (A = 1) quantity groups by C: (unit of power-like values, unit of energy values).
_ACTIVE = (WATT, WATT_HOUR)
_REACTIVE = (VAR, VAR_HOUR)
_APPARENT = (VOLT_AMPERE, VOLT_AMPERE_HOUR)
_GROUPS = {}
for _base in (0, 20, 40, 60):  # total, L1, L2, L3
    for _c, _group in ((1, _ACTIVE), (2, _ACTIVE), (3, _REACTIVE), (4, _REACTIVE),
                       (5, _REACTIVE), (6, _REACTIVE), (7, _REACTIVE), (8, _REACTIVE),
                       (9, _APPARENT), (10, _APPARENT), (15, _ACTIVE), (16, _ACTIVE)):
        _GROUPS[_base + _c] = _group
    _GROUPS[_base + 11] = (AMPERE, None)   # 11/31/51/71: current
    _GROUPS[_base + 12] = (VOLT, None)     # 12/32/52/72: voltage
    _GROUPS[_base + 13] = (NO_UNIT, None)  # 13/33/53/73: power factor
_GROUPS[91] = (AMPERE, None)  # neutral current
_GROUPS[14] = (HERTZ, None)
_GROUPS[81] = (DEGREE, None)  # phase angles
_INSTANT = (4, 5, 6, 7, 14, 15, 16, 24, 25, 26, 27)  # D: demand, instantaneous, maxima
_ENERGY = (8, 9, 10, 29)                             # D: registers (time integrals)


def default_unit(obis):
    """The DLMS unit an electricity OBIS code implies, or NO_UNIT."""
    if obis[0] != 1:
        return NO_UNIT
    group = _GROUPS.get(obis[2])
    if group is None:
        return NO_UNIT
    if obis[3] in _INSTANT:
        return group[0]
    if obis[3] in _ENERGY and group[1] is not None:
        return group[1]
    return NO_UNIT
