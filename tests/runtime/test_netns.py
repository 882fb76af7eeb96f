"""Unit tests of ecsemu.runtime.netns on a network namespace of a process this test starts itself
(``unshare --net sleep``): the socket listens on 169.254.170.2:80 inside it, a client inside
it (``nsenter --net ... curl``) reaches it, and the host's own namespace never gets the address.

Needs root (setns, and an address on the namespace's lo); skipped otherwise. Only the processes
started here are signalled, by PID.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecsemu.runtime import netns

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="entering network namespaces needs root"),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("unshare", "nsenter", "ip", "curl")),
        reason="needs util-linux's unshare and nsenter, iproute2's ip and curl",
    ),
]


def host_has_endpoint_address() -> bool:
    shown = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, check=True, timeout=10).stdout
    return netns.TASK_ENDPOINT_ADDRESS in shown or netns.TASK_ENDPOINT_ADDRESS in Path("/proc/net/fib_trie").read_text()


def in_namespace(pid: int, *command: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", *command], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def task_pid() -> Iterator[int]:
    """A process in a network namespace of its own, with lo up (as Docker leaves a container's)."""
    process = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        own = os.readlink("/proc/self/ns/net")
        deadline = 50
        while os.readlink(f"/proc/{process.pid}/ns/net") == own and deadline:  # until unshare has exec'd
            deadline -= 1
            threading.Event().wait(0.02)
        assert os.readlink(f"/proc/{process.pid}/ns/net") != own
        assert in_namespace(process.pid, "ip", "link", "set", "lo", "up").returncode == 0
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def test_available_as_root() -> None:
    own = os.readlink("/proc/thread-self/ns/net")
    assert netns.available() is True
    # The probe ran on a thread of its own: this thread is where it was.
    assert os.readlink("/proc/thread-self/ns/net") == own


def test_listen_in_serves_inside_the_namespace_only(task_pid: int) -> None:
    before = host_has_endpoint_address()
    own = os.readlink("/proc/thread-self/ns/net")
    listener = netns.listen_in(task_pid)
    try:
        assert listener.getsockname() == (netns.TASK_ENDPOINT_ADDRESS, netns.TASK_ENDPOINT_PORT)
        assert listener.getblocking() is False
        assert os.readlink("/proc/thread-self/ns/net") == own  # this thread never moved
        shown = in_namespace(task_pid, "ip", "-4", "addr", "show", "dev", "lo").stdout
        assert f"{netns.TASK_ENDPOINT_ADDRESS}/32" in shown

        answered: list[bytes] = []

        def serve_one() -> None:
            listener.settimeout(10)
            connection, _ = listener.accept()
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                answered.append(request)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ninside")

        server = threading.Thread(target=serve_one, daemon=True)
        server.start()
        fetched = in_namespace(
            task_pid, "curl", "-sS", "--noproxy", "*", "-m", "8", f"http://{netns.TASK_ENDPOINT_ADDRESS}/v4/x"
        )
        server.join(timeout=10)
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout == "inside"
        assert answered and answered[0].startswith(b"GET /v4/x HTTP/1.1\r\n")
    finally:
        listener.close()
    # The host never had the address, and has not now.
    assert not before and not host_has_endpoint_address()
    with socket.socket() as probe, pytest.raises(OSError):
        probe.bind((netns.TASK_ENDPOINT_ADDRESS, 0))  # not an address of this (the host's) namespace


def test_a_second_socket_after_the_first_is_closed(task_pid: int) -> None:
    first = netns.listen_in(task_pid)
    first.close()
    second = netns.listen_in(task_pid)  # the address is there already: adding it again is harmless
    try:
        assert second.getsockname() == (netns.TASK_ENDPOINT_ADDRESS, netns.TASK_ENDPOINT_PORT)
    finally:
        second.close()


def test_two_sockets_at_once_in_one_namespace_are_refused(task_pid: int) -> None:
    first = netns.listen_in(task_pid)
    try:
        with pytest.raises(netns.NamespaceError):
            netns.listen_in(task_pid)
    finally:
        first.close()


def test_a_process_that_is_gone_is_a_namespace_error() -> None:
    process = subprocess.Popen(["true"])
    process.wait(timeout=10)
    with pytest.raises(netns.NamespaceError):
        netns.listen_in(process.pid)
