"""The debug log: levels E/W/I/D/V, a ring of recent lines for new telnet clients, and sinks.

Sinks must never block (a telnet client queues and is dropped when slow); the meter task logs
from the event loop and must keep going whatever the listeners do.
"""
LEVELS = "EWIDV"


class Log:
    def __init__(self, level="I", keep=40):
        self.level = LEVELS.index(level) if level in LEVELS else 2
        self.lines = [None] * keep  # ring of recent lines, oldest overwritten
        self.next = 0
        self.sinks = []  # callables taking one line (str, no newline)

    def set_level(self, level):
        if level not in LEVELS:
            raise ValueError("level must be one of " + " ".join(LEVELS))
        self.level = LEVELS.index(level)

    def level_name(self):
        return LEVELS[self.level]

    def enabled(self, level):
        return LEVELS.index(level) <= self.level

    def write(self, level, text):
        if LEVELS.index(level) > self.level:
            return
        line = "(%s) %s" % (level, text)
        self.lines[self.next % len(self.lines)] = line
        self.next += 1
        for sink in self.sinks:
            sink(line)

    def error(self, text):
        self.write("E", text)

    def warning(self, text):
        self.write("W", text)

    def info(self, text):
        self.write("I", text)

    def debug(self, text):
        self.write("D", text)

    def hexdump(self, level, title, data):
        """`title` then the bytes, 16 per line, as the peer firmware prints them."""
        if LEVELS.index(level) > self.level:
            return
        self.write(level, title)
        for start in range(0, len(data), 16):
            self.write(level, " ".join("%02X" % b for b in data[start:start + 16]))

    def recent(self):
        """The kept lines, oldest first."""
        n = len(self.lines)
        if self.next <= n:
            return self.lines[:self.next]
        at = self.next % n
        return self.lines[at:] + self.lines[:at]
