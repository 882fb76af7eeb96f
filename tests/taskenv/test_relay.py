"""Unit tests of ecsemu.taskenv.relay: a real EndpointRelay between a listening socket on
127.0.0.1 (standing in for the socket inside a task's namespace) and a small echo server on
127.0.0.1 (standing in for the gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ecsemu.taskenv.relay import MAX_CONNECTIONS_PER_TASK, EndpointRelay

TASK = "arn:aws:ecs:us-east-1:123456789012:task/default/aaaa"
OTHER = "arn:aws:ecs:us-east-1:123456789012:task/default/bbbb"


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # every relayed connection at once, none waiting for a SYN retry

    def __init__(self) -> None:
        self.open = 0
        self.accepted = 0
        self.count_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), EchoHandler)


class EchoHandler(socketserver.BaseRequestHandler):
    server: EchoServer

    def handle(self) -> None:
        with self.server.count_lock:
            self.server.open += 1
            self.server.accepted += 1
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass
        finally:
            with self.server.count_lock:
                self.server.open -= 1


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def relay(echo: EchoServer) -> Iterator[EndpointRelay]:
    relay = EndpointRelay(echo.server_address[1])
    yield relay
    settle(relay)
    for task_arn in relay.serving():
        relay.withdraw(task_arn)
    wait_until(lambda: echo.open == 0, what="the relayed connections to end")
    settle(relay)
    relay.stop()


def settle(relay: EndpointRelay) -> None:
    """Let every relayed connection end before the loop closes: ``stop()`` cancels open ones but
    does not wait for them (see the report on relay.py), and a coroutine left pending on a
    closed loop fails when it is collected, in whichever test that happens."""
    wait_until(lambda: not any(relay._tasks.values()), what="the relay's connections to end")
    loop = relay.start()
    for _ in range(20):  # a few rounds of the loop: cancelled tasks finish their clean-up
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=5)


def task_socket() -> socket.socket:
    """The stand-in for the socket made inside a task's namespace: listening, non-blocking."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.setblocking(False)
    return listener


def connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.settimeout(5)
    return client


def exchange(client: socket.socket, data: bytes) -> bytes:
    client.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_bytes_are_relayed_both_ways(relay: EndpointRelay) -> None:
    listener = task_socket()
    port = listener.getsockname()[1]
    relay.serve(TASK, listener)
    assert relay.serving() == [TASK]
    with connect(port) as client:
        assert exchange(client, b"GET /v4/abc HTTP/1.1\r\nHost: 169.254.170.2\r\n\r\n").startswith(b"GET /v4/abc")
        big = bytes(range(256)) * 1024  # more than one chunk
        assert exchange(client, big) == big


def test_a_half_close_reaches_the_gateway_and_the_answer_still_comes_back(relay: EndpointRelay) -> None:
    listener = task_socket()
    relay.serve(TASK, listener)
    with connect(listener.getsockname()[1]) as client:
        client.sendall(b"last words")
        client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(1024):
            received += chunk
        assert received == b"last words"


def test_withdraw_closes_the_socket_and_open_connections(relay: EndpointRelay, echo: EchoServer) -> None:
    listener, other = task_socket(), task_socket()
    port = listener.getsockname()[1]
    relay.serve(TASK, listener)
    relay.serve(OTHER, other)
    client = connect(port)
    assert exchange(client, b"ping") == b"ping"
    kept = connect(other.getsockname()[1])
    assert exchange(kept, b"ping") == b"ping"
    relay.withdraw(TASK)
    assert relay.serving() == [OTHER]
    with contextlib.suppress(ConnectionResetError):
        assert client.recv(1024) == b""  # closed by the relay
    client.close()
    with pytest.raises(OSError):
        connect(port).close()
    # The other task's connection goes on.
    assert exchange(kept, b"still here") == b"still here"
    kept.close()
    relay.withdraw(TASK)  # again: nothing to do


def test_withdrawing_open_connections_logs_no_error(
    relay: EndpointRelay, echo: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    listener = task_socket()
    relay.serve(TASK, listener)
    with caplog.at_level(logging.ERROR), connect(listener.getsockname()[1]) as client:
        assert exchange(client, b"ping") == b"ping"
        relay.withdraw(TASK)
        wait_until(lambda: echo.open == 0, what="the relayed connection to close")

        def errors() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

        with contextlib.suppress(AssertionError):  # an error, if any, is logged as the task ends
            wait_until(errors, timeout=0.5)
        assert errors() == []


def test_serving_again_replaces_the_tasks_socket(relay: EndpointRelay) -> None:
    first, second = task_socket(), task_socket()
    relay.serve(TASK, first)
    relay.serve(TASK, second)
    assert relay.serving() == [TASK]
    with pytest.raises(OSError):
        connect(first.getsockname()[1]).close()
    with connect(second.getsockname()[1]) as client:
        assert exchange(client, b"x") == b"x"


def closed_by_peer(client: socket.socket) -> bool:
    """Whether the other end closed (EOF or reset), reading without waiting long."""
    client.settimeout(0.05)
    try:
        return client.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_connection_beyond_the_limit_is_closed_at_once(relay: EndpointRelay, echo: EchoServer) -> None:
    listener = task_socket()
    port = listener.getsockname()[1]
    relay.serve(TASK, listener)
    clients = [connect(port) for _ in range(MAX_CONNECTIONS_PER_TASK)]
    extra = [connect(port) for _ in range(3)]
    try:
        wait_until(lambda: echo.open == MAX_CONNECTIONS_PER_TASK, what="the first connections to be relayed")
        # The ones beyond the limit hold nothing of ecsemu's: they are closed.
        wait_until(lambda: all(closed_by_peer(c) for c in extra), what="the extra connections to be closed")
        assert echo.open == MAX_CONNECTIONS_PER_TASK
        # Another task has its own allowance.
        other = task_socket()
        relay.serve(OTHER, other)
        with connect(other.getsockname()[1]) as outsider:
            assert exchange(outsider, b"mine") == b"mine"
        # One closes: a new connection is relayed whole.
        clients.pop(0).close()
        wait_until(lambda: echo.open == MAX_CONNECTIONS_PER_TASK - 1, what="the closed one to be gone")
        late = connect(port)
        clients.append(late)
        assert exchange(late, b"after") == b"after"
    finally:
        for client in clients + extra:
            client.close()
    wait_until(lambda: echo.open == 0, what="every relayed connection to close")


def test_a_gateway_that_does_not_answer_closes_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here once closed
    relay = EndpointRelay(closed_port)
    try:
        listener = task_socket()
        relay.serve(TASK, listener)
        with (
            caplog.at_level(logging.WARNING, logger="ecsemu.taskenv.relay"),
            connect(listener.getsockname()[1]) as client,
        ):
            client.sendall(b"hello")
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(1024) == b""
            wait_until(
                lambda: any("could not reach the gateway" in r.getMessage() for r in caplog.records), what="the warning"
            )
    finally:
        relay.stop()


def test_stop_without_start_and_withdraw_before_serving_are_harmless() -> None:
    relay = EndpointRelay(1)
    relay.withdraw(TASK)
    relay.stop()
    assert relay.serving() == []


def test_stop_closes_every_socket_and_the_loop(echo: EchoServer) -> None:
    relay = EndpointRelay(echo.server_address[1])
    listener = task_socket()
    port = listener.getsockname()[1]
    relay.serve(TASK, listener)
    loop = relay.start()
    relay.stop()
    assert loop.is_closed()
    with pytest.raises(OSError):
        connect(port).close()
    relay.stop()  # twice: harmless
