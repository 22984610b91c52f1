"""What the telnet console and the web server both do with a client's stream."""


async def close(stream):
    try:
        stream.close()
        await stream.wait_closed()  # MicroPython closes the socket here, not in close()
    except OSError:
        pass
