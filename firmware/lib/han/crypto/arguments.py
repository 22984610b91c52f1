"""Why han.crypto.gcm refuses a call: a caller's mistake, so the messages load only when one is
made (the firmware's own calls are right: the board's heap does not keep these texts).
"""


def refuse(iv, data, tag=None):
    """Raise the error for the first argument of Gcm.open() or han.crypto.seal that is wrong."""
    if len(iv) != 12:
        raise ValueError("GCM IV must be 12 bytes")
    if isinstance(data, bytes):  # the viper path would write into an immutable object
        raise TypeError("GCM data must be a writable buffer")
    raise ValueError("GCM tag must be 4..16 bytes")
