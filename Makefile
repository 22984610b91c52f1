# hanreader: MicroPython firmware for smart-meter HAN/P1 ports.
# Nothing but python3 (with venv) is needed: the targets build .venv and install what they use.
#
#   make sim [METER=kamstrup] [WEB_PORT=8080] [TELNET_PORT=2323] [HEAP=112K] [SPEED=1]
#   make test                            (installs Mosquitto, the MQTT tests' broker, when root)
#   make build                           firmware/ precompiled for the ESP32 into build/esp32 (pages gzipped)
#   make deploy PORT=/dev/ttyUSB0        build/esp32 onto the board, plus umqtt.simple
#   make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-....bin   MicroPython itself

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cksum requirements-dev.txt | cut -d' ' -f1)
BOARD_STAMP = $(VENV)/.board-$(shell cksum requirements-board.txt | cut -d' ' -f1)

METER       ?= kamstrup
WEB_PORT    ?= 8080
TELNET_PORT ?= 2323
HEAP        ?=
SPEED       ?= 1
BAUD        ?= 460800

.PHONY: test venv sim build deploy flash clean mosquitto chromium

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/python tools/fetch_umqtt.py $(VENV)/upy-lib
	rm -f $(VENV)/.installed-*
	touch $@

# mpremote and esptool: only for the board, so `make test` does not install them.
$(BOARD_STAMP): requirements-board.txt $(STAMP)
	$(BIN)/pip install -q -r requirements-board.txt
	rm -f $(VENV)/.board-*
	touch $@

# The MQTT tests' broker: Debian's Mosquitto, installed when missing and make runs as root.
mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; \
		else echo "make: the MQTT tests need Mosquitto (sudo apt-get install mosquitto)"; fi; }

# The browser the web tests drive headless (Playwright never downloads its own here).
chromium:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "make: the browser tests need Chromium (sudo apt-get install chromium); skipped"; fi; }

test: $(STAMP) mosquitto chromium
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q $(PYTEST_ARGS)

sim: $(STAMP)
	$(BIN)/python tools/sim.py --meter "$(METER)" --web-port $(WEB_PORT) --telnet-port $(TELNET_PORT) \
		--speed $(SPEED) $(if $(HEAP),--heap $(HEAP)) $(SIM_ARGS)

build: $(STAMP)
	rm -rf build/esp32
	$(BIN)/python tools/build_mpy.py --arch xtensawin firmware/lib build/esp32/lib
	$(BIN)/python tools/build_www.py firmware/www build/esp32/www
	cp firmware/boot.py firmware/main.py build/esp32/

deploy:
	@test -n "$(PORT)" || { echo "make deploy needs the board's serial port: make deploy PORT=/dev/ttyUSB0"; exit 2; }
	$(MAKE) --no-print-directory build $(BOARD_STAMP)
	-$(BIN)/mpremote connect $(PORT) rm -r :lib + rm -r :www
	cd build/esp32 && $(abspath $(BIN))/mpremote connect $(PORT) cp boot.py main.py : + cp -r lib : \
		+ cp -r www : + mip install umqtt.simple + reset

flash:
	@test -n "$(PORT)" -a -n "$(FIRMWARE)" || { echo "make flash needs the serial port and a MicroPython image:"; \
		echo "  make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-20260406-v1.28.0.bin"; exit 2; }
	@test -f "$(FIRMWARE)" || { echo "make flash: no file $(FIRMWARE)"; exit 2; }
	$(MAKE) --no-print-directory $(BOARD_STAMP)
	$(BIN)/esptool --port $(PORT) erase-flash
	$(BIN)/esptool --port $(PORT) --baud $(BAUD) write-flash 0x1000 $(FIRMWARE)

clean:
	rm -rf $(VENV) build .pytest_cache
