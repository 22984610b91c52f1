"""Link layers: find frames in a byte stream (scanner) and cut them by their own rules."""
