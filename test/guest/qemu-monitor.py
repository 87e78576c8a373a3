#!/usr/bin/env python3
"""Runs one command on a QEMU human monitor listening on a unix socket
(-monitor unix:SOCKET,server=on,wait=off) and prints what QEMU answered.
Usage: qemu-monitor.py SOCKET COMMAND...
Exit status 1 when the monitor cannot be reached or answers with an error
(set_link answers nothing when it worked)."""
import socket
import sys

PROMPT = b"(qemu) "


def read_until_prompt(connection, buffered=b""):
    data = buffered
    while not data.endswith(PROMPT):
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionError("the monitor closed the connection")
        data += chunk
    return data[: -len(PROMPT)]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, command = sys.argv[1], " ".join(sys.argv[2:])
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(10)
            connection.connect(path)
            read_until_prompt(connection)  # the banner
            connection.sendall(command.encode() + b"\n")
            answer = read_until_prompt(connection).decode(errors="replace")
    except (OSError, ConnectionError) as error:
        print(f"qemu-monitor: {path}: {error}", file=sys.stderr)
        return 1
    # The monitor echoes the command line (with terminal escapes) first.
    lines = [line.strip() for line in answer.replace("\r", "").split("\n")[1:] if line.strip()]
    for line in lines:
        print(line)
    return 1 if any(line.startswith("Error") or "not found" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
