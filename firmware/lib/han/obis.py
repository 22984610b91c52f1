"""OBIS codes: parsing the text form once, and the unit a code implies when the meter sends none."""
from han.values import (AMPERE, DEGREE, HERTZ, NO_UNIT, VAR, VAR_HOUR, VOLT, VOLT_AMPERE,
                        VOLT_AMPERE_HOUR, WATT, WATT_HOUR)


def code(text):
    """'1.0.1.7.0.255' (or '1-0:1.7.0.255') -> 6 bytes; for tables built at import time."""
    parts = text.replace("-", ".").replace(":", ".").split(".")
    return bytes(int(p) for p in parts)


def is_code(value):
    return isinstance(value, bytes) and len(value) == 6


def _unit_tables():
    """Units by electricity quantity C (A = 1): one table for rates (power, current, voltage...),
    one for their time integrals (energy). C repeats every 20 for L1, L2, L3."""
    rate = bytearray(b"\xff" * 100)
    integral = bytearray(b"\xff" * 100)
    groups = ((WATT, WATT_HOUR, (1, 2, 15, 16)), (VAR, VAR_HOUR, (3, 4, 5, 6, 7, 8)),
              (VOLT_AMPERE, VOLT_AMPERE_HOUR, (9, 10)), (AMPERE, NO_UNIT, (11,)),
              (VOLT, NO_UNIT, (12,)), (NO_UNIT, NO_UNIT, (13,)))  # 13: power factor
    for phase in (0, 20, 40, 60):
        for unit, energy_unit, quantities in groups:
            for c in quantities:
                rate[phase + c] = unit
                integral[phase + c] = energy_unit
    rate[14] = HERTZ
    rate[81] = DEGREE  # phase angles
    rate[91] = AMPERE  # neutral current
    return bytes(rate), bytes(integral)


_RATE_UNITS, _INTEGRAL_UNITS = _unit_tables()
_RATES = b"\x04\x05\x06\x07\x0e\x0f\x10\x18\x19\x1a\x1b"  # D: demand, instantaneous, maxima
_INTEGRALS = b"\x08\x09\x0a\x1d"                          # D: registers (time integrals)


def default_unit(obis):
    """The DLMS unit an electricity OBIS code implies, or NO_UNIT."""
    if obis[0] != 1 or obis[2] >= 100:
        return NO_UNIT
    if obis[3] in _RATES:
        return _RATE_UNITS[obis[2]]
    if obis[3] in _INTEGRALS:
        return _INTEGRAL_UNITS[obis[2]]
    return NO_UNIT
