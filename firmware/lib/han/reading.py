"""The Reading lives in han.values (one module fewer on the board); this name stays for the
tests and tools that import it from here. The firmware does not import this module."""
from han.values import Reading  # noqa: F401
