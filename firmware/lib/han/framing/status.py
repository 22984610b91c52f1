"""What a frame format's `measure` returns when it cannot give a length yet."""
NEED_MORE = 0     # could be a frame: wait for more bytes
NOT_A_FRAME = -1  # this start byte is noise
FILL = -2         # inter-frame fill (a repeated HDLC flag): skip without calling it noise
BAD_HEADER = -3   # a frame header whose own checksum fails
