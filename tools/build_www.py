"""Gzip the web pages for the board: firmware/www/NAME -> TARGET/NAME.gz.

    python3 tools/build_www.py firmware/www build/esp32/www

The web server (app/web/server.py) sends www/NAME.gz with Content-Encoding: gzip when it is
there: a third of the flash, and of the time the board spends sending. Only the .gz files are
written (the sources stay in the repository). The output is the same for the same input (no
time stamp in the gzip header), so a rebuild changes nothing on the board.
"""
import gzip
import os
import sys


def build(source, target):
    """Compress every file of `source` into `target`; [(name, bytes before, bytes after)]."""
    os.makedirs(target, exist_ok=True)
    done = []
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if not os.path.isfile(path) or name.startswith("."):
            continue
        with open(path, "rb") as f:
            data = f.read()
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        with open(os.path.join(target, name + ".gz"), "wb") as f:
            f.write(packed)
        done.append((name, len(data), len(packed)))
    return done


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: build_www.py SOURCE_DIR TARGET_DIR")
    done = build(argv[0], argv[1])
    print("%d web files gzipped into %s: %d bytes (%d before)" % (
        len(done), argv[1], sum(d[2] for d in done), sum(d[1] for d in done)))


if __name__ == "__main__":
    main(sys.argv[1:])
