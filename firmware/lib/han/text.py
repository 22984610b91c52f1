"""Values and codes as people read them: exact decimals from integer + scaler, DLMS unit symbols,
ISO 8601 date-times, OBIS codes, and the friendly names of the codes people look at (web page,
JSON API, MQTT topics).

Apart from han.values, which stays loaded with the decoder: this module is loaded only by what
renders (the web API, MQTT's messages, han.report, the decoder CLI), each for a moment, so its
code takes no heap between readings. One module for the text and the names: what renders needs
both, and each module loaded costs the heap its own tables.

The ESP32's MicroPython floats are 32-bit (85823280 Wh is not representable), so nothing here
uses float arithmetic: numbers are rendered to decimal text from the integer and the scaler.
"""


try:
    from micropython import const
except ImportError:
    def const(value):
        return value


def decimal_text(raw, scaler):
    """raw × 10^scaler as exact decimal text with max(0, -scaler) fractional digits."""
    if scaler >= 0:
        return str(raw * 10 ** scaler)
    places = -scaler
    digits = str(-raw if raw < 0 else raw)
    if len(digits) <= places:
        digits = "0" * (places + 1 - len(digits)) + digits
    text = digits[:-places] + "." + digits[-places:]
    return "-" + text if raw < 0 else text


def symbol(unit):
    """The symbol of a Quantity's unit: a DLMS unit code, or a str for a unit without one."""
    if isinstance(unit, str):  # a unit without DLMS code (DSMR "GJ"), kept as sent
        return unit
    if not 0 <= unit <= 72:
        return ""
    # DLMS unit enumeration (Blue Book, table "Enumerated values for physical units"), code
    # 0-72, as one string rather than 73 objects: the board's heap is small.
    units = ("|a|mo|wk|d|h|min|s|°|°C|currency|m|m/s|m³|m³|m³/h|m³/h|m³/d|m³/d|l|kg|N|Nm|Pa|bar|J|J/h|W|"
             "VA|var|Wh|VAh|varh|A|C|V|V/m|F|Ω|Ωm²/m|Wb|T|A/m|H|Hz|1/(Wh)|1/(varh)|1/(VAh)|V²h|A²h|kg/s|"
             "S|K|1/(V²h)|1/(A²h)|1/m³|%|Ah|||Wh/m³|J/m³|Mol %|g/m³|Pa s|J/kg|g/cm²|atm|||dBm|dBµV|dB")
    at = 0
    for _ in range(unit):
        at = units.find("|", at) + 1
    end = units.find("|", at)
    return units[at:end if end >= 0 else len(units)]


def iso(date_time):
    """A han.values.DateTime as ISO 8601 text to the second; date or time alone when the other
    half is unspecified; None when neither is."""
    r = date_time.raw
    year = (r[0] << 8) | r[1]
    has_date = year != 0xFFFF and 1 <= r[2] <= 12 and 1 <= r[3] <= 31
    has_time = r[5] <= 23 and r[6] <= 59
    date = "%04d-%02d-%02d" % (year, r[2], r[3]) if has_date else ""
    if not has_time:
        return date or None
    time = "%02d:%02d:%02d" % (r[5], r[6], r[7] if r[7] <= 59 else 0)  # seconds resolution
    deviation = (r[9] << 8) | r[10]  # minutes to UTC, two's complement (0x8000: not specified)
    if deviation <= 900 or deviation >= 0x10000 - 900:
        offset = 0x10000 - deviation if deviation & 0x8000 else -deviation
        sign = "+" if offset >= 0 else "-"
        offset = abs(offset)
        time += "%s%02d:%02d" % (sign, offset // 60, offset % 60)
    return date + "T" + time if date else time


def obis_text(code):
    """Six OBIS bytes -> 'A.B.C.D.E.F'."""
    return "%d.%d.%d.%d.%d.%d" % (code[0], code[1], code[2], code[3], code[4], code[5])


# Friendly names, matched on C.D.E only: A and B vary by meter (Kamstrup sends B=1) but mean the
# same quantity. A few strings, not a dict: the board's heap is small.
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


def name(obis, at=0):
    """The friendly name of the 6-byte OBIS code at obis[at:at + 6], or None."""
    key = "%d.%d.%d " % (obis[at + 2], obis[at + 3], obis[at + 4])
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
