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


# Friendly names of the codes people look at, matched on C.D.E only: A and B vary by meter
# (Kamstrup sends B=1) but mean the same quantity. Made from the code's parts rather than looked
# up: this module is loaded for every dashboard poll and MQTT turn, and a table of the names was
# a kilobyte of text loaded each time.
def name(obis, at=0):
    """The friendly name of the 6-byte OBIS code at obis[at:at + 6], or None. C is the quantity
    (1-4: active and reactive power import and export; 11 current, 12 voltage, 13 power factor, 14
    frequency), that of L1, L2, L3 when 20, 40, 60 more; D is 7 for its instantaneous value, 8 for
    its energy; E is 0 for the total, 1 and 2 for the tariffs."""
    c, d, e = obis[at + 2], obis[at + 3], obis[at + 4]
    phase = c // 20
    kind = c % 20
    if phase > 3:
        return ("meter_type" if e == 7 else "meter_id") if c == 96 and d == 1 and (e < 2 or e == 7) else None
    if d == 7 and not e:  # instantaneous values: every power, the phases' current and voltage
        if 0 < kind < 5 and (kind < 3 or not phase):
            flow = "power"
        elif kind == 13 or 10 < kind < 13 and phase or kind == 14 and not phase:
            return ("current", "voltage", "power_factor", "frequency")[kind - 11] + ("_l%d" % phase if phase else "")
        else:
            return None
    elif d == 8 and (0 < kind < 5 and not phase and (not e or e < 3 and kind < 3) or kind == 1 and not e):
        flow = "energy"  # the totals, the tariffs' import and export, the phases' import
    elif not d and not e:
        return "meter_time" if c == 1 else "device_name" if c == 42 else None
    else:
        return "meter_id" if not c and not d and e == 5 else "list_version" if not c and d == 2 and e == 129 else None
    return "%s%s_%s%s" % ("reactive_" if kind > 2 else "", flow, "export" if kind % 2 == 0 else "import",
                          "_tariff_%d" % e if e else "_l%d" % phase if phase else "")
