"""TCP listeners end to end: bytes relayed both ways, health checked by connect, and a target
that speaks first (a banner) relayed whole."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ecsemu.lb import (
    Forward,
    HealthCheckSpec,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    RuleSpec,
    TargetGroupSpec,
    TargetHealth,
    TargetKey,
    TargetSpec,
)

from .probes import wait_until

FAST_TCP_CHECKS = HealthCheckSpec(protocol="TCP", interval_s=0.05, timeout_s=0.3, healthy_threshold=2, unhealthy_threshold=2)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())


class _Banner(_Echo):
    def handle(self) -> None:
        self.request.sendall(b"220 ready\r\n")
        super().handle()


@contextmanager
def tcp_target(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    """A threaded TCP server on 127.0.0.1 answering with ``handler``; yields its port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def serve_tcp(engine: LoadBalancerEngine, tg_arn: str, target_id: str, target_port: int) -> int:
    """A TCP listener forwarding to one target; the listener's bound port."""
    group = TargetGroupSpec(arn=tg_arn, protocol="TCP", health=FAST_TCP_CHECKS, targets=(TargetSpec(id=target_id, port=target_port),))
    listener = ListenerSpec(arn="listener", port=0, protocol="TCP", idle_timeout_s=5.0, rules=(RuleSpec(action=Forward.to(tg_arn)),))
    engine.apply(LbSnapshot(listeners=(listener,), target_groups=(group,)))
    port = engine.bound_port("listener")
    assert port
    return port


def test_tcp_listener_proxies_bytes_both_ways(engine: LoadBalancerEngine) -> None:
    with tcp_target(_Echo) as echo_port:
        port = serve_tcp(engine, "tg-tcp", "echo", echo_port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"hello tcp")
            assert sock.recv(100) == b"HELLO TCP"
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(100) == b""
        wait_until(lambda: engine.target_health().get(TargetKey("tg-tcp", "echo", echo_port)) == TargetHealth("healthy"))
        assert engine.request_counts()[TargetKey("tg-tcp", "echo", echo_port)] == 1
        wait_until(lambda: engine.in_flight("tg-tcp", "echo", echo_port) == 0)


def test_tcp_listener_relays_a_target_that_speaks_first(engine: LoadBalancerEngine) -> None:
    """A banner sent on connect, and the client's first bytes sent before the target connection
    opened, both arrive (uvloop may deliver a client's bytes although reading was paused)."""
    with tcp_target(_Banner) as banner_port:
        port = serve_tcp(engine, "tg-banner", "banner", banner_port)
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"hello")
                received = b""
                while len(received) < len(b"220 ready\r\nHELLO"):
                    data = sock.recv(100)
                    assert data, received
                    received += data
                assert received == b"220 ready\r\nHELLO"
