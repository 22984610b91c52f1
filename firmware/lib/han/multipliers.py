"""Multipliers for meters behind current (or voltage) transformers: such a meter reports what
its transformers let through, and the configured ratios make the readings primary values.
Loaded only when a multiplier is set (most meters are connected directly).
"""
from han.values import Quantity

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# DLMS unit codes
_WATT = const(27)  # W, VA (28), var (29): scaled by the power multiplier
_VAR = const(29)
_WATT_HOUR = const(30)  # Wh, VAh (31), varh (32): by the energy multiplier
_VAR_HOUR = const(32)
_AMPERE = const(33)
_VOLT = const(35)


def apply(values, power, volts, amps, energy):
    """Scale a Reading's values in place: quantities by the multiplier of their unit."""
    for i in range(len(values)):
        value = values[i]
        if not isinstance(value, Quantity) or isinstance(value.unit, str):
            continue
        unit = value.unit
        factor = power if _WATT <= unit <= _VAR else energy if _WATT_HOUR <= unit <= _VAR_HOUR else \
            volts if unit == _VOLT else amps if unit == _AMPERE else 1
        if factor != 1:
            values[i] = Quantity(value.raw * factor, value.scaler, unit)
