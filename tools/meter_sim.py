"""A simulated meter: replays a capture on a TCP "serial line" at the meter's baud rate.

    python3 tools/meter_sim.py [--port 2300] [--baud 2400] [--interval 10] [--speed 1] CAPTURE

The firmware's unix hardware layer connects to it as its UART. CAPTURE is a frames/ capture
(.bin, or .txt read as a hex dump). Each push is sent byte by byte at the rate the baud gives
(2400 baud, 8E1: 218 bytes/s), then the line is quiet until the next push.
"""
import argparse
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    if path.endswith(".txt"):
        sys.path.insert(0, HERE)
        import decode
        with open(path, encoding="utf-8", errors="replace") as f:
            return decode.hex_tokens(f.read())
    with open(path, "rb") as f:
        return f.read()


def serve_client(conn, data, args):
    conn.settimeout(5)
    try:
        conn.recv(64)  # "SERIAL <setting>": the settings the firmware's UART listens with
    except OSError:
        pass
    byte_time = 11.0 / args.baud / args.speed  # start + 8 data + parity/stop: about 11 bits
    try:
        while True:
            for i in range(0, len(data), 16):
                conn.sendall(data[i:i + 16])
                time.sleep(16 * byte_time)
            time.sleep(args.interval / args.speed)
    except OSError:
        pass
    finally:
        conn.close()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--port", type=int, default=2300)
    parser.add_argument("--baud", type=int, default=2400)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between pushes")
    parser.add_argument("--speed", type=float, default=1.0, help="time runs this many times faster")
    args = parser.parse_args(argv)
    data = load(args.capture)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.port))
    server.listen(2)
    print("meter_sim: %s (%d bytes) on 127.0.0.1:%d at %d baud every %.1f s"
          % (args.capture, len(data), args.port, args.baud, args.interval), flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_client, args=(conn, data, args), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
