"""Friendly names for the OBIS codes people look at (web page, JSON API, MQTT topics).

Matched on C.D.E only: A and B vary by meter (Kamstrup sends B=1) but mean the same quantity.
A few strings, not a dict: the board's heap is small.
"""

try:
    from micropython import const
except ImportError:
    def const(value):
        return value

# "C.D.E name" entries separated by spaces, in pieces of at most ~220 characters: this module is
# loaded for every dashboard poll and MQTT turn, and one string of them all would need 850 bytes in
# one piece of a heap that may have its free room only in smaller ones.
_NAMES = const((
    "1.7.0 power_import 2.7.0 power_export 3.7.0 reactive_power_import 4.7.0 reactive_power_export "
    "21.7.0 power_import_l1 41.7.0 power_import_l2 61.7.0 power_import_l3",
    "22.7.0 power_export_l1 42.7.0 power_export_l2 62.7.0 power_export_l3 "
    "31.7.0 current_l1 51.7.0 current_l2 71.7.0 current_l3 "
    "32.7.0 voltage_l1 52.7.0 voltage_l2 72.7.0 voltage_l3",
    "13.7.0 power_factor 33.7.0 power_factor_l1 53.7.0 power_factor_l2 73.7.0 power_factor_l3 "
    "14.7.0 frequency "
    "1.8.0 energy_import 2.8.0 energy_export 3.8.0 reactive_energy_import",
    "4.8.0 reactive_energy_export "
    "1.8.1 energy_import_tariff_1 1.8.2 energy_import_tariff_2 "
    "2.8.1 energy_export_tariff_1 2.8.2 energy_export_tariff_2",
    "21.8.0 energy_import_l1 41.8.0 energy_import_l2 61.8.0 energy_import_l3 "
    "96.1.0 meter_id 96.1.1 meter_id 0.0.5 meter_id 96.1.7 meter_type "
    "0.2.129 list_version 1.0.0 meter_time 42.0.0 device_name",
))


def name(obis):
    """The friendly name of a 6-byte OBIS code, or None."""
    key = "%d.%d.%d " % (obis[2], obis[3], obis[4])
    for names in _NAMES:
        at = 0
        while True:
            at = names.find(key, at)
            if at < 0:
                break
            if at == 0 or names[at - 1] == " ":
                end = names.find(" ", at + len(key))
                return names[at + len(key):end if end > 0 else len(names)]
            at += 1
    return None
