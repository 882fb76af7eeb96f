"""What the load balancer tests poll and count: a condition with a deadline, free ports, open sockets."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

POLL_TIMEOUT_S = 10.0


def wait_until(predicate: Callable[[], Any], *, timeout: float = POLL_TIMEOUT_S, what: str = "") -> Any:
    """``predicate()``'s first truthy value, polled until ``timeout``; AssertionError after it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.005)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def open_sockets() -> int:
    """Sockets this process holds open (from /proc/self/fd)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
    return count


def accepted(listener: socket.socket, stopping: threading.Event) -> Iterator[socket.socket]:
    """The connections ``listener`` (which has a timeout) accepts, until ``stopping`` is set or
    it is closed: the accept loop of the tests' raw targets."""
    while not stopping.is_set():
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield sock
