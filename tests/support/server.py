"""Real servers started by the tests: a free port, and waiting for the line that says one listens."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_line(proc: subprocess.Popen[bytes], needle: bytes, seconds: float) -> bytes:
    """Read the server's stderr until it says it is listening (bound: connections queue from then on)."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen:
        left = deadline - time.monotonic()
        ready, _w, _x = select.select([proc.stderr], [], [], max(left, 0))
        if not ready:
            raise AssertionError(f"no {needle!r} within {seconds} s: {seen.decode(errors='replace')}")
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"the server stopped: {seen.decode(errors='replace')}")
        seen += chunk
    return seen
