"""The decoding pipeline: bytes from the meter in, readings and errors out.

Pure code: no I/O, no globals with state. Runs unchanged on MicroPython (board and unix port)
and on CPython.
"""
