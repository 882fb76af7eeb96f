"""Helpers shared by the benchmarks that start ecsemu and Docker containers.

Loopback only; every wait has a deadline (a benchmark that cannot finish says why and stops).
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any

DEADLINE_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(predicate: Callable[[], Any], what: str, interval: float = 0.01, deadline_s: float = DEADLINE_S) -> Any:
    """``predicate``'s first truthy value, asked every ``interval`` s; exit past the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True, timeout=DEADLINE_S).stdout.strip()


def quietly(call: Callable[[], Any]) -> bool:
    """Whether ``call`` answered something truthy (an exception counts as no)."""
    try:
        return bool(call())
    except Exception:
        return False


def reset_and_wait(endpoint: str, cluster: str) -> None:
    """Reset ecsemu's state; its reconciler then removes the cluster's labelled containers."""
    try:
        request = urllib.request.Request(
            f"{endpoint}/_ecsemu/reset", data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        return
    poll(
        lambda: not docker("ps", "-aq", "--filter", f"label=com.amazonaws.ecs.cluster={cluster}"),
        "ecsemu's containers to go",
        interval=0.2,
    )
