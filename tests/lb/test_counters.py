"""The engine's traffic counters (``LoadBalancerEngine.traffic_counters``): each counter, per
load balancer and per (load balancer, target group), with real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ecsemu.lb import (
    FixedResponse,
    Forward,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    PathPattern,
    Redirect,
    RuleSpec,
    TargetGroupSpec,
    TargetSpec,
)
from ecsemu.model.lb_metrics import TrafficCounters, load_balancer_dimension, target_group_dimension

from .probes import free_port, wait_until
from .proxy_backends import NO_CHECKS
from .proxy_support import Client, fetch, get, start_engine

LB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/50dc6c495c0c9188"
TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/73e2d6bc24d8a067"


class _Handler(BaseHTTPRequestHandler):
    """``/status/<code>`` answers that status; ``?ms=`` waits first; anything else: 200."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        wait_ms = int(parse_qs(url.query).get("ms", ["0"])[0])
        if wait_ms:
            time.sleep(wait_ms / 1000)  # the target's own latency, the thing measured
        parts = url.path.split("/")
        status = int(parts[2]) if len(parts) > 2 and parts[1] == "status" else 200
        body = b"" if status in (204, 304) else b"status %d" % status
        self.send_response(status)
        if status in (301, 302):
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[int]:
    """An HTTP/1.1 keep-alive target on 127.0.0.1; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


def group(arn: str, *ports: int, protocol: str = "HTTP") -> TargetGroupSpec:
    return TargetGroupSpec(
        arn=arn,
        protocol=protocol,  # type: ignore[arg-type]
        health=NO_CHECKS,
        targets=tuple(TargetSpec(id=f"t{port}", port=port) for port in ports),
    )


def listener(*rules: RuleSpec, arn: str = "listener", lb: str = LB, protocol: str = "HTTP") -> ListenerSpec:
    return ListenerSpec(
        arn=arn,
        port=0,
        protocol=protocol,  # type: ignore[arg-type]
        idle_timeout_s=5.0,
        rules=rules,
        load_balancer_arn=lb,
    )


def forward(tg_arn: str = TG) -> RuleSpec:
    return RuleSpec(action=Forward.to(tg_arn))


def serve(engine: LoadBalancerEngine, *groups: TargetGroupSpec, listeners: tuple[ListenerSpec, ...]) -> int:
    engine.apply(LbSnapshot(listeners=listeners, target_groups=groups))
    port = engine.bound_port(listeners[0].arn)
    assert port
    return port


def counters(engine: LoadBalancerEngine) -> dict[tuple[str, str | None], TrafficCounters]:
    return {c.key: c for c in engine.traffic_counters()}


def settled(
    engine: LoadBalancerEngine, key: tuple[str, str | None], check: Callable[[TrafficCounters], bool]
) -> TrafficCounters:
    """The counters of ``key`` once ``check`` holds (polled with a deadline)."""

    def ready() -> TrafficCounters | None:
        found = counters(engine).get(key)
        return found if found is not None and check(found) else None

    result: TrafficCounters = wait_until(ready, what=f"counters of {key}")
    return result


def codes(c: TrafficCounters) -> tuple[int, ...]:
    return (c.target_2xx, c.target_3xx, c.target_4xx, c.target_5xx, c.elb_3xx, c.elb_4xx, c.elb_5xx)


# --------------------------------------------------------------------------- responses from targets


def test_target_status_classes_per_target_group_and_load_balancer(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    statuses = [200, 204, 302, 404, 404, 503]
    with Client(port) as client:
        for status in statuses:
            client.send(get(f"/status/{status}"))
            assert client.response().status == status
    pair = settled(engine, (LB, TG), lambda c: c.target_response_count == 6)
    totals = counters(engine)[(LB, None)]
    for c in (pair, totals):
        assert c.request_count == 6
        assert codes(c) == (2, 1, 2, 1, 0, 0, 0)
        assert c.target_response_count == 6
        assert c.target_response_time_sum_s >= 0
    assert totals.new_connections == 1
    assert pair.new_connections == 0
    assert set(counters(engine)) == {(LB, TG), (LB, None)}


def test_response_time_is_summed_from_request_sent_to_response_head(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    started = time.monotonic()
    for _ in range(2):
        assert fetch(port, get("/slow?ms=150")).status == 200
    elapsed = time.monotonic() - started
    pair = settled(engine, (LB, TG), lambda c: c.target_response_count == 2)
    assert 0.3 <= pair.target_response_time_sum_s <= elapsed
    totals = counters(engine)[(LB, None)]
    assert totals.target_response_time_sum_s == pair.target_response_time_sum_s
    assert totals.target_response_count == 2


def test_interim_responses_are_not_counted(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    request = b"GET /status/200 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"
    assert fetch(port, request).status == 200
    pair = settled(engine, (LB, TG), lambda c: c.target_response_count == 1)
    assert codes(pair) == (1, 0, 0, 0, 0, 0, 0)


# --------------------------------------------------------------------------- the load balancer's own answers


def test_no_target_is_a_503_of_the_load_balancer(engine: LoadBalancerEngine) -> None:
    port = serve(engine, group(TG), listeners=(listener(forward()),))
    assert fetch(port, get("/")).status == 503
    assert fetch(port, get("/")).status == 503
    totals = settled(engine, (LB, None), lambda c: c.request_count == 2)
    assert codes(totals) == (0, 0, 0, 0, 0, 0, 2)
    assert (totals.elb_502, totals.elb_503, totals.elb_504) == (0, 2, 0)
    assert (LB, TG) not in counters(engine)  # no target chosen: the group carried nothing


def test_target_failures_are_the_load_balancers_502(engine: LoadBalancerEngine) -> None:
    nobody = free_port()
    port = serve(engine, group(TG, nobody), listeners=(listener(forward()),))
    assert fetch(port, get("/")).status == 502
    pair = settled(engine, (LB, TG), lambda c: c.elb_5xx == 1)
    totals = counters(engine)[(LB, None)]
    for c in (pair, totals):
        assert c.request_count == 1
        assert codes(c) == (0, 0, 0, 0, 0, 0, 1)
        assert (c.elb_502, c.elb_503, c.elb_504) == (1, 0, 0)
        assert c.target_response_count == 0


def test_fixed_responses_and_redirects(engine: LoadBalancerEngine) -> None:
    rules = (
        RuleSpec(priority=1, conditions=(PathPattern(values=("/missing",)),), action=FixedResponse(status=404)),
        RuleSpec(priority=2, conditions=(PathPattern(values=("/ok",)),), action=FixedResponse(status=200, body="ok")),
        RuleSpec(priority=3, conditions=(PathPattern(values=("/down",)),), action=FixedResponse(status=503)),
        RuleSpec(
            priority=4,
            conditions=(PathPattern(values=("/old",)),),
            action=Redirect(status_code="HTTP_301", path="/new"),
        ),
        RuleSpec(action=Redirect(status_code="HTTP_302", path="/new")),
    )
    port = serve(engine, listeners=(listener(*rules),))
    with Client(port) as client:
        for path, status in (("/missing", 404), ("/ok", 200), ("/down", 503), ("/old", 301), ("/x", 302)):
            client.send(get(path))
            assert client.response().status == status
    totals = settled(engine, (LB, None), lambda c: c.request_count == 5)
    assert codes(totals) == (0, 0, 0, 0, 2, 1, 1)
    assert (totals.elb_502, totals.elb_503, totals.elb_504) == (0, 1, 0)
    assert totals.target_response_count == 0
    assert list(counters(engine)) == [(LB, None)]


def test_a_malformed_request_counts_as_an_elb_4xx_not_a_request(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    assert fetch(port, b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n").status == 400
    totals = settled(engine, (LB, None), lambda c: c.elb_4xx == 1)
    assert totals.request_count == 0
    assert (LB, TG) not in counters(engine)


# --------------------------------------------------------------------------- bytes, connections, keys


def test_processed_bytes_are_request_and_response_bytes(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    request = get("/status/200")
    response = fetch(port, request)
    totals = settled(engine, (LB, None), lambda c: c.target_response_count == 1)
    # The client's bytes plus the target's (the load balancer rewrites a few headers on the way).
    assert totals.processed_bytes >= len(request) + len(response.body)
    assert totals.processed_bytes < len(request) + 2 * len(response.raw) + 200


def test_listeners_of_one_load_balancer_add_up_and_a_listener_without_one_counts_alone(
    engine: LoadBalancerEngine, target: int
) -> None:
    first = listener(forward(), arn="l1")
    second = listener(forward(), arn="l2")
    alone = ListenerSpec(arn="l3", port=0, rules=(forward(),))
    engine.apply(LbSnapshot(listeners=(first, second, alone), target_groups=(group(TG, target),)))
    for arn in ("l1", "l2", "l3"):
        port = engine.bound_port(arn)
        assert port
        assert fetch(port, get("/")).status == 200
    settled(engine, (LB, TG), lambda c: c.request_count == 2)
    settled(engine, ("l3", TG), lambda c: c.request_count == 1)
    assert counters(engine)[(LB, None)].new_connections == 2
    assert counters(engine)[("l3", None)].target_2xx == 1


def test_weighted_forward_counts_each_group(engine: LoadBalancerEngine, target: int) -> None:
    other = TG.replace("73e2d6bc24d8a067", "0000000000000001")
    split = RuleSpec(action=Forward(weights=((TG, 1), (other, 1))))
    port = serve(engine, group(TG, target), group(other, target), listeners=(listener(split),))
    with Client(port) as client:
        for _ in range(4):
            client.send(get("/"))
            assert client.response().status == 200
    settled(engine, (LB, TG), lambda c: c.request_count == 2)
    settled(engine, (LB, other), lambda c: c.request_count == 2)
    assert counters(engine)[(LB, None)].request_count == 4


def test_counters_are_forgotten_with_their_group_and_start_from_zero(engine: LoadBalancerEngine, target: int) -> None:
    snapshot = LbSnapshot(listeners=(listener(forward()),), target_groups=(group(TG, target),))
    engine.apply(snapshot)
    port = engine.bound_port("listener")
    assert port
    assert fetch(port, get("/")).status == 200
    settled(engine, (LB, TG), lambda c: c.request_count == 1)
    engine.apply(LbSnapshot(listeners=(listener(forward()),)))  # the target group is gone
    assert (LB, TG) not in counters(engine)
    assert counters(engine)[(LB, None)].request_count == 1  # the load balancer is still there
    engine.apply(snapshot)
    assert fetch(port, get("/")).status == 200
    assert settled(engine, (LB, TG), lambda c: c.request_count == 1).target_2xx == 1
    engine.apply(LbSnapshot())  # the load balancer is gone too
    assert counters(engine) == {}


def test_counters_are_monotonic_frozen_copies(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    assert fetch(port, get("/")).status == 200
    before = settled(engine, (LB, TG), lambda c: c.request_count == 1)
    with pytest.raises(AttributeError):
        before.request_count = 5  # type: ignore[misc]
    assert fetch(port, get("/")).status == 200
    after = settled(engine, (LB, TG), lambda c: c.request_count == 2)
    assert before.request_count == 1
    assert after.target_2xx == 2


def test_reading_from_many_threads_while_serving(engine: LoadBalancerEngine, target: int) -> None:
    port = serve(engine, group(TG, target), listeners=(listener(forward()),))
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            found = counters(engine).get((LB, TG))
            seen.append(found.request_count if found else 0)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(3)]
    for reader in readers:
        reader.start()
    with Client(port) as client:
        for _ in range(50):
            client.send(get("/"))
            assert client.response().status == 200
    stop.set()
    for reader in readers:
        reader.join(5)
    assert settled(engine, (LB, TG), lambda c: c.request_count == 50).target_2xx == 50
    assert seen  # each reader read (and never failed)


def test_a_stopped_engine_reports_nothing() -> None:
    lb = start_engine()
    lb.stop()
    assert lb.traffic_counters() == []
    assert LoadBalancerEngine().traffic_counters() == []


# --------------------------------------------------------------------------- TCP (NLB)


def test_tcp_flows_and_bytes(engine: LoadBalancerEngine, target: int) -> None:
    nlb = LB.replace("/app/", "/net/")
    port = serve(engine, group(TG, target, protocol="TCP"), listeners=(listener(forward(), lb=nlb, protocol="TCP"),))
    request = get("/status/200", extra=b"Connection: close\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while data := sock.recv(65536):
            received += data
    assert received.startswith(b"HTTP/1.1 200")
    pair = settled(engine, (nlb, TG), lambda c: c.processed_bytes == len(request) + len(received))
    totals = counters(engine)[(nlb, None)]
    for c in (pair, totals):
        assert c.new_flows == 1
        assert c.processed_bytes == len(request) + len(received)
        assert c.request_count == 0


# --------------------------------------------------------------------------- dimensions


def test_dimension_values_are_the_arns_resources() -> None:
    assert load_balancer_dimension(LB) == "app/web/50dc6c495c0c9188"
    assert target_group_dimension(TG) == "targetgroup/web/73e2d6bc24d8a067"
    assert load_balancer_dimension("listener") == "listener"
    record = TrafficCounters(load_balancer_arn=LB, target_group_arn=None)
    assert (record.load_balancer, record.target_group) == ("app/web/50dc6c495c0c9188", None)
