"""The one shape every consumer reads: a decoded telegram."""


class Reading:
    def __init__(self):
        self.time = None     # DateTime from the notification header or the clock object, or None
        self.items = []      # [(obis: 6 bytes, value)]: Quantity, str, bytes, DateTime, bool, list
        self.manufacturer = None
        self.model = None
        self.meter_id = None
        self.list_id = None
        self.system_title = None  # bytes, for encrypted frames
        self.convention = None    # name of the meter convention applied
        self.layers = []          # e.g. ["hdlc", "llc", "glo-ciphering", "data-notification"]

    def get(self, obis):
        for code, value in self.items:
            if code == obis:
                return value
        return None
