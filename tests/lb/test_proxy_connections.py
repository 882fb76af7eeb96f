"""The HTTP proxy, part 2: keep-alive and balancing, errors, large bodies, counters, pooled
connections, listener removal (see test_proxy_messages.py)."""


from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from typing import Final

import pytest

from ecsemu.lb import (
    FixedResponse,
    Forward,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    PathPattern,
    RuleSpec,
    TargetGroupSpec,
    TargetKey,
    TargetSpec,
)
from ecsemu.lb.responses import error_response

from .probes import free_port, open_sockets, wait_until
from .proxy_backends import (
    NO_CHECKS,
    TIMEOUT_S,
    RawBackend,
    field_value,
    pattern,
)
from .proxy_support import (
    Client,
    chunked_post,
    fetch,
    forward_listener,
    get,
    key,
    lb_threads,
    normalized,
    post,
    serve,
    served,
    start_engine,
    tg,
)

# --------------------------------------------------------------------------- 4. keep-alive and balancing


def test_two_hundred_requests_on_one_connection_round_robin_exactly(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    seen = []
    with Client(port) as client:
        for i in range(200):
            client.send(get(f"/r{i}"))
            response = client.response()
            assert response.status == 200
            seen.append(response.get(b"X-Backend"))
    assert seen == [b"a", b"b"] * 100
    assert (a.connections, b.connections) == (1, 1)  # pooled upstream connections, reused each time
    assert [r.index for r in a.requests()] == list(range(1, 101))
    counts = engine.request_counts()
    assert (counts[key("tg", a)], counts[key("tg", b)]) == (100, 100)
    assert served(engine, key("tg", a)) == 100


def test_weighted_forward_order(engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]) -> None:
    a, b = backends("a"), backends("b")
    split = ListenerSpec(arn="listener", port=0, rules=(RuleSpec(action=Forward(weights=(("tg-a", 3), ("tg-b", 1)))),))
    port = serve(engine, tg("tg-a", a), tg("tg-b", b), listeners=(split,))
    with Client(port) as client:
        order = []
        for _ in range(8):
            client.send(get())
            order.append(client.response().get(b"X-Backend"))
    assert order == [b"a", b"a", b"b", b"a"] * 2


def test_a_new_snapshot_applies_to_open_keep_alive_connections(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a))
    with Client(port) as client, Client(port) as held:
        held.send(get("/hold"))
        wait_until(lambda: a.requests("/hold"), what="the held request at a")
        client.send(get("/1"))
        assert client.response().body == b"a /1"  # on a second connection to a, now idle in the pool
        assert a.live_connections() == 2
        serve(engine, tg("tg", b))  # a deregistered, b registered
        wait_until(lambda: a.live_connections() == 1, what="the idle pooled connection to a closed")
        client.send(get("/2"))
        assert client.response().body == b"b /2"
        a.release.set()
        assert held.response().body == b"a /hold"  # the request in flight completes
        held.send(get("/3"))
        assert held.response().body == b"b /3"
        # A rule that needs the request's path: the next request follows it, on the same connection.
        teapot = RuleSpec(priority=1, conditions=(PathPattern(values=("/fixed",)),),
                          action=FixedResponse(status=418, body="teapot"))
        serve(engine, tg("tg", b), listeners=(ListenerSpec(arn="listener", port=0, idle_timeout_s=5.0,
                                                           rules=(teapot, RuleSpec(action=Forward.to("tg")))),))
        client.send(get("/fixed"))
        fixed = client.response()
        assert (fixed.status, fixed.body) == (418, b"teapot")
        client.send(get("/4"))
        assert client.response().body == b"b /4"
    assert engine.bound_port("listener") == port


def test_concurrent_clients_each_get_their_own_answers(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    failures: list[str] = []

    def client_loop(n: int) -> None:
        try:
            with Client(port) as client:
                for i in range(25):
                    tag = f"c{n}-r{i}"
                    kind = (n + i) % 3
                    if i == 20 and n % 4 == 0:  # this connection goes on in the Python engine
                        client.send(chunked_post("/echo", tag.encode(), b"-chunked"))
                        response = client.response(b"POST")
                        ok = response.body == tag.encode() + b"-chunked"
                    elif kind == 0:
                        client.send(get(f"/{tag}"))
                        response = client.response()
                        ok = response.body.endswith(b" /" + tag.encode())
                    elif kind == 1:
                        client.send(post("/echo", tag.encode() * 50))
                        response = client.response(b"POST")
                        ok = response.body == tag.encode() * 50
                    else:
                        client.send(get(f"/big?size={1000 + n * 37 + i}"))
                        response = client.response()
                        ok = response.body == pattern(1000 + n * 37 + i)
                    if not ok or response.status != 200:
                        failures.append(f"{tag}: {response.raw[:200]!r}")
        except (OSError, AssertionError) as error:
            failures.append(f"client {n}: {error!r}")

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S * 2)
    assert failures == []
    counts = engine.request_counts()
    assert counts[key("tg", a)] + counts[key("tg", b)] == 32 * 25
    assert served(engine, key("tg", a)) + served(engine, key("tg", b)) == 32 * 25
    assert engine.in_flight("tg", "a", a.port) == engine.in_flight("tg", "b", b.port) == 0


# --------------------------------------------------------------------------- 5. errors


def error_page(status: int, *, keep: bool = True, head: bool = False) -> bytes:
    return error_response(status, b"<date>", keep_alive=keep, head_only=head)


def test_502_when_the_target_refuses(engine: LoadBalancerEngine) -> None:
    gone = TargetGroupSpec(arn="tg", health=NO_CHECKS, targets=(TargetSpec(id="gone", port=free_port()),))
    port = serve(engine, gone)
    with Client(port) as client:
        client.send(get())
        assert normalized(client.response().raw) == error_page(502)
        client.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert normalized(client.response(b"HEAD").raw) == error_page(502, head=True)
        client.send(get(extra=b"Connection: close\r\n"))
        assert normalized(client.response().raw) == error_page(502, keep=False)
        assert client.closed()
    assert engine.in_flight("tg", "gone", gone.targets[0].port) == 0
    assert engine.request_counts()[TargetKey("tg", "gone", gone.targets[0].port)] == 3


@pytest.mark.parametrize("failure", ["eof", "reset", "garbage"])
def test_502_when_the_target_fails_before_answering(
    failure: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    with Client(port) as client:
        client.send(get(f"/{failure}"))
        assert normalized(client.response().raw) == error_page(502)
        assert engine.in_flight("tg", "a", a.port) == 0
        client.send(get("/fine"))  # the client connection was kept, as the 502 said
        assert client.response().body == b"a /fine"
        client.send(b"HEAD /%s HTTP/1.1\r\nHost: t\r\n\r\n" % failure.encode())
        assert normalized(client.response(b"HEAD").raw) == error_page(502, head=True)
    assert served(engine, key("tg", a)) == 3


def test_error_pages_are_byte_exact(engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]) -> None:
    a = backends("a")
    gone = TargetGroupSpec(arn="tg-gone", health=NO_CHECKS, targets=(TargetSpec(id="gone", port=free_port()),))
    listeners = (forward_listener("tg", arn="main"), forward_listener("tg-gone", arn="gone"),
                 forward_listener("tg-empty", arn="empty"))
    serve(engine, tg("tg", a), gone, tg("tg-empty"), listeners=listeners)
    main, refused, empty = (engine.bound_port(arn) for arn in ("main", "gone", "empty"))
    assert main and refused and empty
    pages = [
        normalized(fetch(main, get("/garbage")).raw),
        normalized(fetch(refused, get()).raw),
        normalized(fetch(empty, get()).raw),
        normalized(fetch(empty, get(extra=b"Connection: close\r\n")).raw),
    ]
    assert pages == [error_page(502), error_page(502), error_page(503), error_page(503, keep=False)]


def test_503_without_targets_keeps_the_connection(engine: LoadBalancerEngine) -> None:
    port = serve(engine, tg("tg"))
    with Client(port) as client:
        client.send(get())
        assert normalized(client.response().raw) == error_page(503)
        client.send(post("/with-body", b"12345") + b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/again"))
        responses = client.responses([b"POST", b"HEAD", b"GET"])
        assert [normalized(r.raw) for r in responses] == [error_page(503), error_page(503, head=True), error_page(503)]
        client.send(get(extra=b"Connection: close\r\n") + get("/never"))
        assert normalized(client.response().raw) == error_page(503, keep=False)
        assert client.closed()


def test_504_when_the_target_is_slower_than_the_idle_timeout(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a), listeners=(forward_listener("tg", idle_timeout_s=1.0),))
    with Client(port) as client:
        started = time.monotonic()
        client.send(get("/slow?ms=4000"))
        response = client.response()
        elapsed = time.monotonic() - started
    assert normalized(response.raw) == error_page(504)
    assert 0.9 <= elapsed < 2.5
    assert engine.in_flight("tg", "a", a.port) == 0


@pytest.mark.parametrize(("path", "status"), [("/slow?ms=3000", 504), ("/slow-eof?ms=400", 502)])
def test_the_connection_is_still_usable_after_a_late_error(
    path: str, status: int, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """The 504 (or a 502 after a slow target gave up) says ``Connection: keep-alive``: a client
    reusing the connection a moment later, well within the idle timeout, is served."""
    a = backends("a")
    port = serve(engine, tg("tg", a), listeners=(forward_listener("tg", idle_timeout_s=0.6),))
    with Client(port) as client:
        client.send(get(path))
        assert normalized(client.response().raw) == error_page(status)
        # The client's own think time (not a synchronisation): under half the idle timeout, but
        # enough that the idle timeout, counted from the request, has passed.
        time.sleep(0.25 if status == 504 else 0.35)
        client.send(get("/next"))
        assert client.response().body == b"a /next"


def test_a_response_cut_mid_body_cuts_the_client(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    received = {}
    port = serve(engine, tg("tg", a))
    for path in ("/cut", "/cut-chunked"):
        with Client(port) as client:
            client.send(get(path))
            received[path] = normalized(client.rest_until_close())
        assert engine.in_flight("tg", "a", a.port) == 0
    assert fetch(port, get("/fine")).body == b"a /fine"
    assert received["/cut"] == b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nContent-Length: 100\r\n\r\n0123456789"
    assert received["/cut-chunked"] == (
        b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"
    )


# --------------------------------------------------------------------------- 6. large bodies, backpressure


@pytest.mark.parametrize("framing", ["length", "close"])
def test_a_5mib_response_read_slowly_arrives_intact(
    framing: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    size = 5 * 1024 * 1024
    with Client(port, rcvbuf=16384) as client:
        client.send(get(f"/big?size={size}&close={int(framing == 'close')}"))
        time.sleep(0.2)  # a slow reader: nothing read at first, so every buffer on the way fills
        deadline = time.monotonic() + TIMEOUT_S
        reads = 0
        while len(client.buf) < size:
            client._fill(deadline)
            assert not client.eof
            reads += 1
            if reads % 64 == 0:
                time.sleep(0.002)  # and then small reads, with pauses
        response = client.response()
        assert response.framing == ("length" if framing == "length" else "chunked")
        assert len(response.body) == size
        assert hashlib.sha256(response.body).digest() == hashlib.sha256(pattern(size)).digest()
        assert engine.in_flight("tg", "a", a.port) == 0
        client.send(get("/after"))
        assert client.response().body == b"a /after"


@pytest.mark.parametrize("size", [60 * 1024, 65536, 65537, 1024 * 1024])
def test_request_bodies_arrive_intact(
    size: int, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    body = pattern(size)[::-1]
    request = post("/echo", body)
    with Client(port) as client:
        head_end = request.index(b"\r\n\r\n") + 4
        client.send(request[:head_end])
        for i in range(head_end, len(request), 4096):  # the body in pieces, as it comes off a slow disk
            client.send(request[i : i + 4096])
        response = client.response()
        client.send(get("/after"))
        assert client.response().body == b"a /after"
    assert response.status == 200 and response.body == body
    received = a.requests("/echo")
    assert len(received) == 1 and received[0].body == body
    assert field_value(received[0].headers, b"content-length") == str(size).encode()
    assert served(engine, key("tg", a)) == 2


def absorbed_before_the_cut(port: int, size: int) -> int:
    """Bytes a client that reads nothing receives of a response that cannot complete (the
    idle timeout cuts it): what the kernel's buffers on the way hold."""
    with Client(port, rcvbuf=4096) as client:
        client.send(get(f"/big?size={size}"))
        time.sleep(0.6)  # the stalled client (the scenario, not a synchronisation): twice the idle timeout
        return len(client.rest_until_close())


MALFORMED_REQUESTS: Final[dict[str, bytes]] = {
    "bad-content-length": b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n",
    "unsupported-transfer-coding": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    "length-and-chunked": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "http2-version": b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
}


@pytest.mark.parametrize("case", list(MALFORMED_REQUESTS))
def test_malformed_requests_are_answered_and_closed(
    case: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    with Client(serve(engine, tg("tg", a))) as client:
        client.send(MALFORMED_REQUESTS[case])
        answer = normalized(client.rest_until_close())
    assert re.search(rb"HTTP/1\.1 (400|501|505) [^\r]*\r\n.*Connection: close\r\n\r\n<html>", answer, re.S)
    assert a.requests() == []


def test_a_malformed_request_pipelined_after_a_plain_one(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """The plain request is forwarded and answered; then the malformed one gets its 400 and the
    connection closes."""
    a = backends("a")
    port = serve(engine, tg("tg", a))
    with Client(port) as client:
        client.send(get("/first") + b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n")
        data = normalized(client.rest_until_close())
    assert [r.path for r in a.requests()] == ["/first"]
    assert data == b"HTTP/1.1 200 OK\r\nX-Backend: a\r\nContent-Length: 8\r\n\r\na /first" + error_response(
        400, b"<date>", keep_alive=False
    )


# --------------------------------------------------------------------------- 7. disconnects and counters


def test_a_client_leaving_mid_response_does_not_disturb_the_next(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    for leave in (Client.close, Client.abort):
        with Client(port, rcvbuf=16384) as client:
            client.send(get(f"/big?size={5 * 1024 * 1024}"))
            while len(client.buf) < 100_000:
                client._fill(time.monotonic() + TIMEOUT_S)
            leave(client)
        wait_until(lambda: engine.in_flight("tg", "a", a.port) == 0, what="the abandoned request to end")
        response = fetch(port, get("/next"))
        assert (response.status, response.body) == (200, b"a /next")
        assert engine.in_flight("tg", "a", a.port) == 0


def test_in_flight_counts_follow_requests_and_aborts(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    assert fetch(port, get("/quick")).status == 200
    assert engine.in_flight("tg", "a", a.port) == 0  # counted down before the answer's last byte
    with Client(port) as held:
        held.send(get("/hold"))
        wait_until(lambda: a.requests("/hold"), what="the request at the target")
        assert wait_until(lambda: engine.in_flight("tg", "a", a.port) == 1, what="one request in flight")
        a.release.set()
        assert held.response().body == b"a /hold"
        assert engine.in_flight("tg", "a", a.port) == 0
    with Client(port) as slow:
        slow.send(get("/slow?ms=5000"))
        wait_until(lambda: a.requests("/slow"), what="the slow request at the target")
        assert engine.in_flight("tg", "a", a.port) == 1
        started = time.monotonic()
        slow.abort()
    wait_until(lambda: engine.in_flight("tg", "a", a.port) == 0, timeout=3.0, what="the aborted request to end")
    assert time.monotonic() - started < 3.0


def test_request_counts_cover_every_request(engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    with Client(port) as client:
        for i in range(3):
            client.send(get(f"/plain{i}"))
            assert client.response().status == 200
    for i in range(2):
        assert fetch(port, chunked_post("/echo", b"x%d" % i), b"POST").status == 200
    assert fetch(port, post("/echo", b"y" * 100_000), b"POST").status == 200
    counts = engine.request_counts()
    assert counts[key("tg", a)] + counts[key("tg", b)] == 6
    assert len(a.requests()) + len(b.requests()) == 6
    assert served(engine, key("tg", a)) + served(engine, key("tg", b)) == 6
    assert engine.in_flight("tg", "a", a.port) == engine.in_flight("tg", "b", b.port) == 0


# --------------------------------------------------------------------------- 8. stale pooled connections


@pytest.mark.parametrize("route", ["/stale", "/stale-reset", "/close-after"])
def test_a_stale_pooled_connection_is_retried_on_a_fresh_one(
    route: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    with Client(port) as client:
        client.send(get(route))
        assert client.response().body == b"a " + route.encode()
        client.send(post(route, b"z" * 60_000))  # replayed whole on the fresh connection
        second = client.response(b"POST")
        assert (second.status, second.body) == (200, b"a " + route.encode())
    assert a.connections == 2
    last = a.requests()[-1]
    assert (last.conn, last.index, last.body) == (2, 1, b"z" * 60_000)
    assert engine.request_counts()[key("tg", a)] == 2
    assert engine.in_flight("tg", "a", a.port) == 0
    assert served(engine, key("tg", a)) == 2


# --------------------------------------------------------------------------- 9. listener removal and stop


def test_removing_a_listener_closes_its_idle_connections_and_finishes_busy_ones(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    listeners = (forward_listener("tg", arn="main"), forward_listener("tg", arn="other"))
    port = serve(engine, tg("tg", a), listeners=listeners)
    with Client(port) as idle, Client(port) as chunked_conn, Client(port) as busy:
        idle.send(get("/idle"))
        assert idle.response().status == 200
        chunked_conn.send(chunked_post("/echo", b"chunked"))
        assert chunked_conn.response(b"POST").body == b"chunked"
        busy.send(get("/hold"))
        wait_until(lambda: a.requests("/hold"), what="the held request at the target")
        engine.apply(LbSnapshot(listeners=(listeners[1],), target_groups=(tg("tg", a),)))
        assert engine.bound_port("main") is None
        assert idle.closed(), "the idle keep-alive connection was not closed"
        assert chunked_conn.closed(), "the idle connection that sent a chunked body was not closed"
        a.release.set()
        assert busy.response().body == b"a /hold"
        assert busy.closed()
    with pytest.raises(ConnectionRefusedError):
        Client(port).close()
    other = engine.bound_port("other")
    assert other and fetch(other, get("/still")).body == b"a /still"


def test_stop_leaves_no_socket_open(backends: Callable[[str], RawBackend]) -> None:
    a = backends("a")
    before = open_sockets()
    others = lb_threads()
    lb = start_engine()
    port = serve(lb, tg("tg", a))
    clients = [Client(port) for _ in range(3)]
    try:
        idle, chunked, busy = clients
        idle.send(get("/idle"))
        assert idle.response().status == 200
        chunked.send(chunked_post("/echo", b"chunked"))
        assert chunked.response(b"POST").body == b"chunked"
        busy.send(get("/slow?ms=8000"))
        wait_until(lambda: a.requests("/slow"), what="the slow request at the target")
        lb.stop()
        for client in clients:
            assert client.closed(), "a client connection outlived the engine"
    finally:
        for client in clients:
            client.close()
    assert lb_threads() <= others
    with pytest.raises(ConnectionRefusedError):
        Client(port).close()
    wait_until(lambda: open_sockets() <= before, timeout=5, what="every socket closed")
