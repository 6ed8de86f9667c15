"""Processes the tests start and stop: a free local port, and stopping a server with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process`` and its children (its own process group), killing them if they linger."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
