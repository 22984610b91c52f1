"""DLMS unit codes by name (Blue Book, "Enumerated values for physical units"), for what names
units: P1 telegrams (han.dsmr) and the tests. A Quantity's unit is one of these codes; its symbol
is han.text.symbol(unit). The decoder of a HAN meter does not load this module: module-level names
cost the board's heap a name and a slot each.
"""
WATT = 27
VOLT_AMPERE = 28
VAR = 29
WATT_HOUR = 30
VOLT_AMPERE_HOUR = 31
VAR_HOUR = 32
AMPERE = 33
VOLT = 35
HERTZ = 44
NO_UNIT = 255
