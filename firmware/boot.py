# Runs before main.py on every boot. Kept minimal: a crash here cannot be recovered remotely.
# The BOOT-button skip and the crash counter (safe mode) are at the top of main.py, so that
# a fault in them still leaves boot.py, and with it the REPL and mpremote, working.
import gc

gc.collect()
