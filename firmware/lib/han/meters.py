"""Meter conventions as data: who made a meter, the scalers it implies.

A meter is recognised by its OBIS list version identifier ("Kamstrup_V0001", "KFM_001", ...)
or by the first three letters of its system title (the FLAG manufacturer id), or named by the
user ("meter hint"). Adding a meter is adding a line here, not a branch in the parser. The
tables are text, not dicts and objects: the board has ~110 KB of heap for everything.
"""

# One convention per line: name, manufacturer, list version id prefix, FLAG id, a part of the
# meter type the convention needs ("-": none), then the scalers of values sent without one:
# "31,51,71.7=-2" is C 31, 51 or 71 with D 7 (electricity, A = 1) in units of 10^-2. A string
# per line: loading the table then needs no piece of heap over ~100 bytes (as one string, 437
# bytes, which a scattered heap may not have).
CONVENTIONS = (
    # Kamstrup HAN-NVE: currents in 10 mA, power factor in 0.01, energies in 10 Wh (NO, DK).
    # Swedish type numbers end 10109x (6841138BN245101090, 6841131BN245101092) and send Wh;
    # the Norwegian ones seen end 101040. Other meters can be named with the hint "kamstrup-se".
    "kamstrup-se Kamstrup Kamstrup_ - 10109 31,51,71.7=-2 13,33,53,73.7=-2",
    "kamstrup Kamstrup Kamstrup_ KAM - 31,51,71.7=-2 13,33,53,73.7=-2 1,2,3,4,21,22,41,42,61,62.8=1",
    # Kaifa KFM_001: currents in mA, voltages in 0.1 V.
    "kaifa Kaifa KFM_ KFM - 31,51,71.7=-3 32,52,72.7=-1",
    "aidon Aidon AIDON_ ADN -",
    # Iskraemeco AM550 (Slovenia, Switzerland): voltages in 0.1 V, currents in 10 mA.
    "iskraemeco Iskraemeco - ISK - 32,52,72.7=-1 31,51,71.7=-2",
    # Landis+Gyr Swiss customer interface: the push carries no scalers and the models differ;
    # the user names the model (E450: currents in 10 mA; E360: also voltages in 0.1 V; E570:
    # whole volts and amperes).
    "landisgyr-e450 Landis+Gyr - - - 31,51,71.7=-2",
    "landisgyr-e360 Landis+Gyr - - - 32,52,72.7=-1 31,51,71.7=-2",
    "landisgyr-e570 Landis+Gyr - - -",
)

# FLAG manufacturer ids as they start a DLMS system title.
MANUFACTURERS = ("ADN:Aidon KAM:Kamstrup KFM:Kaifa LGZ:Landis+Gyr ISK:Iskraemeco SAG:Sagemcom "
                 "SMS:Siemens ELG:Elgama EGM:Elgama")

GENERIC = ("generic", None, b"")


def identify(list_id=None, flag=None, hint=None, model=None):
    """The convention for a meter, as (name, manufacturer, scalers); GENERIC when nothing is
    known. `scalers` is bytes of (C, D, scaler & 0xFF) triplets."""
    found = None
    rank = 3  # 0: named by the hint, 1: by the list id (and model), 2: by the FLAG id
    for line in CONVENTIONS:
        fields = line.split(" ")
        if hint and fields[0] == hint:
            found = fields
            break
        if rank > 1 and list_id and fields[2] != "-" and list_id.startswith(fields[2]) and \
                (fields[4] == "-" or model and fields[4] in model):
            found, rank = fields, 1
        elif rank > 2 and flag and flag == fields[3]:
            found, rank = fields, 2
    if found is None:
        return GENERIC
    scalers = bytearray()
    for group in found[5:]:
        cs, rest = group.split(".")
        d, scaler = rest.split("=")
        for c in cs.split(","):
            scalers += bytes((int(c), int(d), int(scaler) & 0xFF))
    return found[0], found[1], bytes(scalers)


def manufacturer(flag):
    """The manufacturer a FLAG id names, or None."""
    at = MANUFACTURERS.find(flag + ":") if flag else -1
    if at < 0 or (at and MANUFACTURERS[at - 1] != " "):
        return None
    end = MANUFACTURERS.find(" ", at)
    return MANUFACTURERS[at + len(flag) + 1:end if end > 0 else len(MANUFACTURERS)]
