"""The device program around the decoding pipeline: hardware, config, meter task, services."""
