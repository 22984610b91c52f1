# Minimal meter reader: UART2 on GPIO16 at 2400 8N1 -> decoding pipeline -> REPL.
# The full device runtime (config, Wi-Fi, web, MQTT, telnet) replaces this loop.
import time

from machine import UART

from han import report
from han.pipeline import Pipeline

uart = UART(2, 2400, bits=8, parity=None, stop=1, rx=16, tx=17, rxbuf=2048, timeout=0)
pipeline = Pipeline()
chunk = bytearray(256)
idle_ms = 0
while True:
    n = uart.readinto(chunk)
    if n:
        idle_ms = 0
        for event in pipeline.feed(memoryview(chunk)[:n]):
            print(report.error(event) if hasattr(event, "code") else report.reading(event))
    else:
        time.sleep_ms(20)
        idle_ms += 20
        if idle_ms == 200:  # a push is over: decide what is buffered
            for event in pipeline.flush():
                print(report.error(event) if hasattr(event, "code") else report.reading(event))
