"""The thin hardware layer. Only its two implementations (and esp32_rare.py) import `machine`
or `network`:

    esp32.py   the board: machine.UART, Pin, WDT, network.WLAN, NVS
    unix.py    the MicroPython unix port: the meter is a simulator on a TCP socket

Both are one Hal class with the same small interface (unix.py is the reference). What each does
rarely is in a module of its own, loaded for that and unloaded: esp32_rare.py, unix_env.py (the
unix port's environment). make() there, which app/start.py calls, returns the Hal and why the
board started ("power-on", "watchdog" ...). (This package module holds no code: it would stay
loaded for nothing.)

    name, data, http_port, telnet_port, dns_port, dns_host, mqtt_broker
    uart(rx_pin, setting)       the meter line: read(n) (what came, up to n bytes, without waiting:
                                None when nothing did) and close() (the Hal itself, opened so)
    led(pin, inverted)          the status LED is on `pin`; light(on) switches it (no LED: nothing)
    watchdog(timeout_ms)        arm the watchdog (again: only the timeout changes); then feed()
    reset(cause), unique_id()
    the Wi-Fi radio (nothing waits for it; app/wifi.py polls):
    connect(ssid, password, hostname), disconnect(), connected(), status(), address(ap=False),
    rssi(), clients(), access_point(ssid, password) (ssid None: closed)
"""
