"""The engine end to end, with real sockets on 127.0.0.1 and in-process backends."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from ecsemu.lb import (
    FixedResponse,
    Forward,
    HealthCheckSpec,
    HostHeader,
    HttpHeader,
    HttpRequestMethod,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    PathPattern,
    QueryString,
    QueryStringPair,
    Redirect,
    RuleSpec,
    TargetGroupSpec,
    TargetHealth,
    TargetKey,
    TargetSpec,
)
from ecsemu.lb.engine import default_loop_factory

from .backends import Backend
from .probes import free_port, open_sockets, wait_until
from .proxy_support import lb_threads

NO_CHECKS = HealthCheckSpec(enabled=False)
FAST_CHECKS = HealthCheckSpec(
    path="/health", interval_s=0.05, timeout_s=0.3, healthy_threshold=2, unhealthy_threshold=2
)


# --------------------------------------------------------------------------- helpers




@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def backend(self) -> str:
        return self.headers.get("x-backend", "")


def read_reply(conn: http.client.HTTPConnection) -> Reply:
    response = conn.getresponse()
    body = response.read()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def request(port: int, path: str = "/", *, method: str = "GET", headers: dict[str, str] | None = None,
            body: Any = None, timeout: float = 10.0, chunked: bool = False) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        return read_reply(conn)
    finally:
        conn.close()


def group(arn: str, *backends: Backend, algorithm: str = "round_robin", health: HealthCheckSpec = NO_CHECKS,
          protocol: str = "HTTP") -> TargetGroupSpec:
    return TargetGroupSpec(
        arn=arn,
        protocol=protocol,  # type: ignore[arg-type]
        algorithm=algorithm,  # type: ignore[arg-type]
        health=health,
        targets=tuple(TargetSpec(id=b.name, port=b.port) for b in backends),
    )


def listener(default: Any, *rules: RuleSpec, arn: str = "listener", port: int = 0, idle_timeout_s: float = 5.0,
             protocol: str = "HTTP") -> ListenerSpec:
    return ListenerSpec(
        arn=arn,
        port=port,
        protocol=protocol,  # type: ignore[arg-type]
        idle_timeout_s=idle_timeout_s,
        rules=(*rules, RuleSpec(action=default)),
    )


def key(tg_arn: str, backend: Backend) -> TargetKey:
    return TargetKey(tg_arn, backend.name, backend.port)


def state_of(engine: LoadBalancerEngine, tg_arn: str, backend: Backend) -> TargetHealth | None:
    return engine.target_health().get(key(tg_arn, backend))






# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def backend() -> Iterator[Callable[[str], Backend]]:
    started: list[Backend] = []

    def make(name: str) -> Backend:
        started.append(Backend(name))
        return started[-1]

    yield make
    for b in started:
        b.stop()


def serve(engine: LoadBalancerEngine, *groups: TargetGroupSpec, listeners: tuple[ListenerSpec, ...] = ()) -> int:
    listeners = listeners or (listener(Forward.to(groups[0].arn)),)
    engine.apply(LbSnapshot(listeners=listeners, target_groups=groups))
    port = engine.bound_port(listeners[0].arn)
    assert port
    return port


# --------------------------------------------------------------------------- balancing


def test_round_robin_in_exact_order(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    a, b, c = backend("a"), backend("b"), backend("c")
    port = serve(engine, group("tg", a, b, c))
    assert [request(port).backend for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]
    counts = engine.request_counts()
    assert (counts[key("tg", a)], counts[key("tg", b)], counts[key("tg", c)]) == (3, 2, 2)


def test_least_outstanding_requests_avoids_the_busy_target(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    a, b = backend("a"), backend("b")
    port = serve(engine, group("tg", a, b, algorithm="least_outstanding_requests"))
    slow: list[Reply] = []
    worker = threading.Thread(target=lambda: slow.append(request(port, "/slow?s=1.0")))
    worker.start()
    busy = wait_until(
        lambda: next((x for x in (a, b) if engine.in_flight("tg", x.name, x.port) == 1), None), what="one busy target"
    )
    other = b if busy is a else a
    assert [request(port).backend for _ in range(5)] == [other.name] * 5
    worker.join(10)
    assert slow[0].status == 200 and slow[0].backend == busy.name
    assert engine.in_flight("tg", busy.name, busy.port) == 0


def test_weighted_forward_splits_exactly(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    a, b = backend("a"), backend("b")
    split = Forward(weights=(("tg-a", 3), ("tg-b", 1)))
    port = serve(engine, group("tg-a", a), group("tg-b", b), listeners=(listener(split),))
    assert Counter(request(port).backend for _ in range(8)) == Counter({"a": 6, "b": 2})


# --------------------------------------------------------------------------- rules and actions


def test_rules_route_by_path_host_header_method_and_query(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    names = ["default", "path", "host", "header", "method", "query"]
    backends = {name: backend(name) for name in names}
    groups = tuple(group(f"tg-{n}", b) for n, b in backends.items())
    rules = (
        RuleSpec(priority=10, conditions=(PathPattern(values=("/api/*",)),), action=Forward.to("tg-path")),
        RuleSpec(priority=20, conditions=(HostHeader(values=("*.example.com",)),), action=Forward.to("tg-host")),
        RuleSpec(priority=30, conditions=(HttpHeader(name="X-Canary", values=("yes",)),), action=Forward.to("tg-header")),
        RuleSpec(priority=40, conditions=(HttpRequestMethod(values=("DELETE",)),), action=Forward.to("tg-method")),
        RuleSpec(priority=50, conditions=(QueryString(values=(QueryStringPair(key="v", value="2"),)),), action=Forward.to("tg-query")),
    )
    port = serve(engine, *groups, listeners=(listener(Forward.to("tg-default"), *rules),))
    assert request(port, "/api/users").backend == "path"
    assert request(port, "/API/users").backend == "default"
    assert request(port, "/", headers={"Host": "Shop.Example.com:8080"}).backend == "host"
    assert request(port, "/", headers={"x-canary": "YES"}).backend == "header"
    assert request(port, "/", method="DELETE").backend == "method"
    assert request(port, "/?v=2").backend == "query"
    assert request(port, "/?v=3").backend == "default"
    # Priority decides between two matching rules.
    assert request(port, "/api/x?v=2", method="DELETE").backend == "path"


def test_fixed_response_and_redirect(engine: LoadBalancerEngine) -> None:
    rules = (
        RuleSpec(priority=1, conditions=(PathPattern(values=("/old/*",)),),
                 action=Redirect(status_code="HTTP_301", path="/new/#{path}", query="#{query}&moved=1")),
        RuleSpec(priority=2, conditions=(PathPattern(values=("/https",)),),
                 action=Redirect(status_code="HTTP_302", protocol="HTTPS", port="443")),
    )
    fixed = FixedResponse(status=418, content_type="application/json", body='{"teapot":true}')
    port = serve(engine, listeners=(listener(fixed, *rules),))
    reply = request(port, "/anything")
    assert (reply.status, reply.body) == (418, b'{"teapot":true}')
    assert reply.headers["content-type"] == "application/json" and reply.headers["server"] == "awselb/2.0"
    moved = request(port, "/old/page?a=1", headers={"Host": "site.test"})
    assert moved.status == 301
    assert moved.headers["location"] == f"http://site.test:{port}/new/old/page?a=1&moved=1"
    secure = request(port, "/https", headers={"Host": "site.test"})
    assert (secure.status, secure.headers["location"]) == (302, "https://site.test:443/https")


# --------------------------------------------------------------------------- errors


def test_503_when_the_group_has_no_registered_target(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    a = backend("a")
    port = serve(engine, group("tg"))
    reply = request(port)
    assert reply.status == 503 and reply.headers["server"] == "awselb/2.0"
    assert reply.body.startswith(b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>")
    draining = replace(group("tg", a), targets=(TargetSpec(id="a", port=a.port, draining_since=time.time()),))
    serve(engine, draining)
    assert request(port).status == 503


def test_502_when_the_target_refuses_resets_or_sends_garbage(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    closed_port = free_port()
    refused = TargetGroupSpec(arn="tg-refused", health=NO_CHECKS, targets=(TargetSpec(id="gone", port=closed_port),))
    a = backend("a")
    port = serve(engine, refused, group("tg", a), listeners=(
        listener(Forward.to("tg"), RuleSpec(priority=1, conditions=(PathPattern(values=("/refused",)),),
                                            action=Forward.to("tg-refused"))),
    ))
    for path in ("/refused", "/garbage", "/reset"):
        reply = request(port, path)
        assert reply.status == 502, path
        assert b"<title>502 Bad Gateway</title>" in reply.body
    assert request(port, "/fine").status == 200


def test_504_when_the_target_is_slower_than_the_idle_timeout(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    a = backend("a")
    port = serve(engine, group("tg", a), listeners=(listener(Forward.to("tg"), idle_timeout_s=0.3),))
    started = time.monotonic()
    reply = request(port, "/slow?s=2")
    assert reply.status == 504 and b"504 Gateway Time-out" in reply.body
    assert time.monotonic() - started < 1.5
    assert engine.in_flight("tg", "a", a.port) == 0


def test_bad_request_is_400_and_closes(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    port = serve(engine, group("tg", backend("a")))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in data


# --------------------------------------------------------------------------- health


def test_health_states_reasons_and_fail_open(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    a, b = backend("a"), backend("b")
    a.set_health(500)
    b.set_health(404)
    port = serve(engine, group("tg", a, b, health=FAST_CHECKS))
    wait_until(lambda: state_of(engine, "tg", a) == TargetHealth(
        "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"), what="a unhealthy")
    wait_until(lambda: (s := state_of(engine, "tg", b)) is not None and s.state == "unhealthy", what="b unhealthy")
    # No healthy target: the load balancer fails open to all registered targets.
    assert sorted(request(port).backend for _ in range(4)) == ["a", "a", "b", "b"]


def test_an_unhealthy_target_leaves_the_rotation_and_comes_back(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    a, b = backend("a"), backend("b")
    changes: list[TargetKey] = []
    unsubscribe = engine.subscribe(changes.append)
    port = serve(engine, group("tg", a, b, health=FAST_CHECKS))
    wait_until(lambda: all(state_of(engine, "tg", x) == TargetHealth("healthy") for x in (a, b)), what="both healthy")
    a.set_health(503)
    wait_until(lambda: (s := state_of(engine, "tg", a)) is not None and s.state == "unhealthy", what="a unhealthy")
    assert {request(port).backend for _ in range(6)} == {"b"}
    a.set_health(200)
    wait_until(lambda: state_of(engine, "tg", a) == TargetHealth("healthy"), what="a healthy again")
    assert {request(port).backend for _ in range(6)} == {"a", "b"}
    assert key("tg", a) in changes and key("tg", b) in changes
    unsubscribe()


def test_timeouts_refusals_disabled_checks_and_unused_groups(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    slow, idle = backend("slow"), backend("idle")
    slow.server.health_delay_s = 1.0
    gone = TargetSpec(id="gone", port=free_port())
    checked = replace(group("tg", slow, health=FAST_CHECKS), targets=(TargetSpec(id="slow", port=slow.port), gone))
    unchecked = group("tg-unchecked", idle)
    unused = group("tg-unused", idle, health=FAST_CHECKS)
    rules = (RuleSpec(priority=1, conditions=(PathPattern(values=("/u",)),), action=Forward.to("tg-unchecked")),)
    serve(engine, checked, unchecked, unused, listeners=(listener(Forward.to("tg"), *rules),))
    wait_until(lambda: state_of(engine, "tg", slow) == TargetHealth("unhealthy", "Target.Timeout", "Request timed out"))
    wait_until(lambda: engine.target_health().get(TargetKey("tg", "gone", gone.port)) == TargetHealth(
        "unhealthy", "Target.FailedHealthChecks", "Health checks failed"))
    assert state_of(engine, "tg-unchecked", idle) == TargetHealth(
        "unavailable", "Target.HealthCheckDisabled", "Health checks are disabled")
    assert state_of(engine, "tg-unused", idle) == TargetHealth(
        "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
    assert idle.server.health_checks == 0


def test_new_targets_start_initial_and_apply_is_idempotent(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    a = backend("a")
    slow_checks = replace(FAST_CHECKS, interval_s=0.2, healthy_threshold=3)
    snapshot = LbSnapshot(listeners=(listener(Forward.to("tg")),), target_groups=(group("tg", a, health=slow_checks),))
    engine.apply(snapshot)
    first = state_of(engine, "tg", a)
    assert first is not None and first.state == "initial"
    port = engine.bound_port("listener")
    wait_until(lambda: state_of(engine, "tg", a) == TargetHealth("healthy"))
    engine.apply(snapshot)
    assert engine.bound_port("listener") == port
    assert state_of(engine, "tg", a) == TargetHealth("healthy")


# --------------------------------------------------------------------------- draining


def test_draining_loses_no_request_under_steady_load(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    a, b = backend("a"), backend("b")
    tg = group("tg", a, b)
    port = serve(engine, tg)
    failures: list[str] = []
    served: Counter[str] = Counter()
    stop = threading.Event()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                conn.request("GET", "/slow?s=0.02")
                reply = read_reply(conn)
                if reply.status != 200:
                    failures.append(f"{reply.status} {reply.body[:80]!r}")
                served[reply.backend] += 1
            except (OSError, http.client.HTTPException) as error:
                failures.append(repr(error))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()

    workers = [threading.Thread(target=client) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: served["a"] > 10 and served["b"] > 10, what="load on both targets")
        drained = replace(tg, targets=(TargetSpec(id="a", port=a.port), TargetSpec(id="b", port=b.port, draining_since=time.time())))
        engine.apply(LbSnapshot(listeners=(listener(Forward.to("tg")),), target_groups=(drained,)))
        sent_to_b = engine.request_counts()[key("tg", b)]
        assert state_of(engine, "tg", b) == TargetHealth(
            "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
        wait_until(lambda: engine.in_flight("tg", "b", b.port) == 0, what="b drained")
        engine.apply(LbSnapshot(listeners=(listener(Forward.to("tg")),), target_groups=(group("tg", a),)))
        assert state_of(engine, "tg", b) is None
        after = served["a"]
        wait_until(lambda: served["a"] > after + 20, what="more load on a")
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
    assert failures == []
    assert engine.request_counts()[key("tg", b)] == sent_to_b
    assert b.hits["/slow"] == sent_to_b


# --------------------------------------------------------------------------- connections and bodies


def test_keep_alive_on_both_sides(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    a = backend("a")
    port = serve(engine, group("tg", a))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    replies = []
    for _ in range(5):
        conn.request("GET", "/")
        replies.append(read_reply(conn))
        if not replies[-1]:
            break
        sock = conn.sock
        assert sock is not None
    assert conn.sock is sock  # the same client connection all along
    conn.close()
    assert {r.status for r in replies} == {200}
    assert len({r.headers["x-conn"] for r in replies}) == 1  # the same upstream connection too


def test_forwarded_headers_reach_the_target(engine: LoadBalancerEngine, backend: Callable[[str], Backend]) -> None:
    port = serve(engine, group("tg", backend("a")))
    reply = request(port, headers={"X-Forwarded-For": "203.0.113.7"})
    assert reply.headers["x-seen-x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert reply.headers["x-seen-x-forwarded-proto"] == "http"
    assert reply.headers["x-seen-x-forwarded-port"] == str(port)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", reply.headers["x-seen-x-amzn-trace-id"])


def test_chunked_bodies_and_streamed_responses_pass_through(
    engine: LoadBalancerEngine, backend: Callable[[str], Backend]
) -> None:
    port = serve(engine, group("tg", backend("a")))
    payload = [b"alpha-", b"beta-", b"gamma" * 1000]
    echoed = request(port, "/echo", method="POST", body=iter(payload), chunked=True)
    assert echoed.status == 200 and echoed.body == b"".join(payload)
    assert echoed.headers["x-seen-transfer-encoding"] == "chunked"
    assert echoed.headers["transfer-encoding"] == "chunked"
    sized = request(port, "/echo", method="POST", body=b"x" * 100_000)
    assert sized.body == b"x" * 100_000
    streamed = request(port, "/chunked")
    assert streamed.body == b"chunk-" + b"a" * 5
    until_close = request(port, "/close")
    assert until_close.body == b"until-close-a" and until_close.headers["transfer-encoding"] == "chunked"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_https_target_group_speaks_tls_to_its_targets(engine: LoadBalancerEngine, tmp_path: Path) -> None:
    cert, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key_file), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key_file)
    secure = Backend("secure", tls=context)
    try:
        tg = replace(group("tg", secure, health=FAST_CHECKS), protocol="HTTPS",
                     health=replace(FAST_CHECKS, protocol="HTTPS"))
        port = serve(engine, tg)
        wait_until(lambda: state_of(engine, "tg", secure) == TargetHealth("healthy"), what="HTTPS checks pass")
        reply = request(port, "/over-tls")
        assert (reply.status, reply.backend) == (200, "secure")
    finally:
        secure.stop()


# --------------------------------------------------------------------------- ports and lifecycle


def test_port_fallback_and_offset(backend: Callable[[str], Backend]) -> None:
    a = backend("a")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    taken_port = int(taken.getsockname()[1])
    wanted = free_port()
    lb = LoadBalancerEngine(port_offset=1000)
    lb.start()
    try:
        listeners = (
            listener(Forward.to("tg"), arn="taken", port=taken_port - 1000),
            listener(Forward.to("tg"), arn="offset", port=wanted - 1000),
            listener(Forward.to("tg"), arn="out-of-range", port=65000),
        )
        lb.apply(LbSnapshot(listeners=listeners, target_groups=(group("tg", a),)))
        fallback = lb.bound_port("taken")
        assert fallback and fallback != taken_port
        assert lb.bound_port("offset") == wanted
        assert lb.bound_port("out-of-range") not in (None, 66000)
        for arn in ("taken", "offset", "out-of-range"):
            port = lb.bound_port(arn)
            assert port is not None and request(port).backend == "a"
    finally:
        lb.stop()
        taken.close()


def test_removed_listeners_close_and_stop_leaves_nothing_open(backend: Callable[[str], Backend]) -> None:
    a = backend("a")
    before = open_sockets()
    others = lb_threads()
    lb = LoadBalancerEngine()
    lb.start()
    lb.apply(LbSnapshot(listeners=(listener(Forward.to("tg"), arn="one"), listener(Forward.to("tg"), arn="two")),
                        target_groups=(group("tg", a, health=FAST_CHECKS),)))
    one, two = lb.bound_port("one"), lb.bound_port("two")
    assert one and two
    keep_alive = http.client.HTTPConnection("127.0.0.1", two, timeout=5)
    keep_alive.request("GET", "/")
    assert read_reply(keep_alive).status == 200
    assert request(one).status == 200
    lb.apply(LbSnapshot(listeners=(listener(Forward.to("tg"), arn="two"),), target_groups=(group("tg", a),)))
    assert lb.bound_port("one") is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", one), timeout=2).close()
    lb.stop()
    keep_alive.close()
    assert lb_threads() <= others
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", two), timeout=2).close()
    wait_until(lambda: open_sockets() <= before, timeout=5, what="every socket closed")


def test_the_engine_runs_on_uvloop_when_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert default_loop_factory() is uvloop.new_event_loop
    lb = LoadBalancerEngine()
    lb.start()
    try:
        assert isinstance(lb._loop, uvloop.Loop)
    finally:
        lb.stop()
