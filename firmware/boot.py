# Runs before main.py on every boot. Kept minimal: a crash here cannot be recovered remotely.
import gc

gc.collect()
