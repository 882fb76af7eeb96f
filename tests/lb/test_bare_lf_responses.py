"""Targets whose responses end lines in a bare LF (RFC 9112 §2.2), through both engines.

Many small servers and CGI scripts end the status line, the header fields, the empty line,
chunk-size lines and trailers with a LF alone. nginx and curl read such responses; so does
the load balancer — its health checker and its proxy (llhttp's response parser, with the
leniencies ``http1.RESPONSE_LENIENCIES``) — and it sends them on to clients with CRLF. A bare CR (one not before a LF) stays an error. Requests
stay strict: a bare LF or bare CR in a client's request is answered 400 and never forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
from collections.abc import Iterator
from typing import Final

import pytest

from ecsemu.lb import (
    HealthCheckSpec,
    LbSnapshot,
    LoadBalancerEngine,
    TargetGroupSpec,
    TargetHealth,
    TargetKey,
    TargetSpec,
)
from ecsemu.lb.healthcheck import probe
from ecsemu.lb.http1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    Event,
    Framing,
    HttpError,
    RequestHead,
    RequestParser,
    ResponseHead,
    ResponseParser,
)

from .probes import accepted, wait_until
from .proxy_backends import LOCALHOST, NO_CHECKS, TIMEOUT_S
from .proxy_support import Client, forward_listener, get, served

# --------------------------------------------------------------------------- responses

LENGTH: Final = b"HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Backend: lf\nContent-Length: 5\n\nhello"
MIXED: Final = b"HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 5\r\n\nmixed"
CHUNKED: Final = (
    b"HTTP/1.1 200 OK\nTrailer: X-Checksum\nTransfer-Encoding: chunked\n\n"
    b"5\nhello\n7;ext=1\r\n, world\r\n0\nX-Checksum: abc\n\n"
)
CHUNKED_NO_TRAILERS: Final = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nConnection: close\n\n5\nhello\n0\n\n"
INTERIM: Final = b"HTTP/1.1 103 Early Hints\nLink: </a.css>; rel=preload\n\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok"
UNTIL_CLOSE: Final = b"HTTP/1.0 200 OK\nX-Old: yes\n\nold-style body"
NO_CONTENT: Final = b"HTTP/1.1 204 No Content\nX-Backend: lf\n\n"
HEALTH: Final = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"
FAILING_HEALTH: Final = b"HTTP/1.1 500 Internal Server Error\nContent-Length: 4\n\nfail"

BARE_CR_IN_FIELD: Final = b"HTTP/1.1 200 OK\nX-A: 1\rX-Smuggled: 2\nContent-Length: 2\n\nok"
BARE_CR_IN_STATUS_LINE: Final = b"HTTP/1.1 200 O\rK\nContent-Length: 2\n\nok"
BARE_CR_BEFORE_CRLF: Final = b"HTTP/1.1 200 OK\nX-A: 1\r\r\n\r\nok"
BARE_CR_IN_CHUNK_LINE: Final = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\rX\nhello\n0\n\n"
BARE_CR_AFTER_CHUNK: Final = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\r0\n\n"


# --------------------------------------------------------------------------- the parser


def response_events(raw: bytes, method: bytes = b"GET", eof: bool = False) -> list[Event]:
    parser = ResponseParser()
    parser.expect_response(method)
    parser.feed(raw)
    if eof:
        parser.feed_eof()
    events: list[Event] = []
    while (event := parser.next_event()) is not NEED_DATA and not isinstance(event, EndOfMessage):
        events.append(event)
    events.append(event)
    return events


def heads(events: list[Event]) -> list[ResponseHead]:
    return [e for e in events if isinstance(e, ResponseHead)]


def body(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Data))


def test_parser_reads_a_bare_lf_head() -> None:
    events = response_events(LENGTH)
    [head] = heads(events)
    assert (head.status, head.reason, head.framing, head.content_length) == (200, b"OK", Framing.LENGTH, 5)
    assert head.headers == [(b"Content-Type", b"text/plain"), (b"X-Backend", b"lf"), (b"Content-Length", b"5")]
    assert body(events) == b"hello" and isinstance(events[-1], EndOfMessage)


def test_parser_reads_lines_ended_either_way_in_one_head() -> None:
    events = response_events(MIXED)
    [head] = heads(events)
    assert head.headers == [(b"X-A", b"1"), (b"X-B", b"2"), (b"Content-Length", b"5")]
    assert body(events) == b"mixed"


def test_parser_reads_bare_lf_chunks_and_trailers() -> None:
    events = response_events(CHUNKED)
    assert heads(events)[0].framing is Framing.CHUNKED
    assert body(events) == b"hello, world"
    end = events[-1]
    assert isinstance(end, EndOfMessage) and end.trailers == [(b"X-Checksum", b"abc")]


def test_parser_reads_interim_and_close_delimited_bare_lf_responses() -> None:
    events = response_events(INTERIM)
    assert [h.status for h in heads(events)] == [103, 200] and body(events) == b"ok"
    old = response_events(UNTIL_CLOSE, eof=True)
    assert heads(old)[0].framing is Framing.UNTIL_CLOSE and body(old) == b"old-style body"
    assert heads(response_events(NO_CONTENT))[0].status == 204


@pytest.mark.parametrize(
    "raw", [BARE_CR_IN_FIELD, BARE_CR_IN_STATUS_LINE, BARE_CR_BEFORE_CRLF, BARE_CR_IN_CHUNK_LINE, BARE_CR_AFTER_CHUNK]
)
def test_parser_still_refuses_a_bare_cr(raw: bytes) -> None:
    with pytest.raises(HttpError):
        response_events(raw)


def test_parser_reads_a_bare_lf_last_chunk_without_trailers() -> None:
    events = response_events(CHUNKED_NO_TRAILERS)
    assert body(events) == b"hello" and events[-1] == EndOfMessage([])


@pytest.mark.parametrize("raw", [LENGTH, MIXED, CHUNKED, CHUNKED_NO_TRAILERS, INTERIM])
def test_parser_gives_the_same_events_for_any_two_splits(raw: bytes) -> None:
    whole = response_events(raw)
    merged = (heads(whole), body(whole), whole[-1])
    for i, j in itertools.combinations(range(1, len(raw)), 2):
        parser = ResponseParser()
        parser.expect_response(b"GET")
        events: list[Event] = []
        for piece in (raw[:i], raw[i:j], raw[j:]):
            parser.feed(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                events.append(event)
                if isinstance(event, EndOfMessage):
                    break
        assert (heads(events), body(events), events[-1]) == merged, (i, j)


def request_events(raw: bytes) -> list[Event]:
    parser = RequestParser()
    parser.feed(raw)
    events: list[Event] = []
    while (event := parser.next_event()) is not NEED_DATA and not isinstance(event, EndOfMessage):
        events.append(event)
    return events


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\rX-B: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\nX-U: 2\r\n\r\n",
    ],
)
def test_requests_stay_strict(raw: bytes) -> None:
    with pytest.raises(HttpError) as refused:
        request_events(raw)
    assert refused.value.status == 400


def test_a_request_ended_by_bare_lfs_is_refused_at_once() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\nHost: t\n\n")
    with pytest.raises(HttpError) as refused:
        parser.next_event()
    assert refused.value.status == 400
    assert isinstance(request_events(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")[0], RequestHead)


# --------------------------------------------------------------------------- a bare-LF target


class BareLfTarget:
    """A threaded raw-socket server on 127.0.0.1 that answers each path with the bytes given
    (keep-alive: the connection carries on unless the answer has no length and ends at close)."""

    def __init__(self, answers: dict[bytes, bytes], closing: frozenset[bytes] = frozenset()) -> None:
        self.answers = answers
        self.closing = closing
        self.connections = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socks: set[socket.socket] = set()
        self._listener = socket.create_server((LOCALHOST, 0))
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        for sock in accepted(self._listener, self._stopping):
            sock.settimeout(None)
            with self._lock:
                self.connections += 1
                self._socks.add(sock)
                thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._answer_requests(sock)
        except OSError:
            pass  # the proxy went away
        finally:
            with self._lock:
                self._socks.discard(sock)
            sock.close()

    def _answer_requests(self, sock: socket.socket) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            with self._lock:
                self.requests.append(path)
            sock.sendall(self.answers.get(path, LENGTH))
            if path in self.closing:
                return

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)


ANSWERS: Final = {
    b"/length": LENGTH,
    b"/mixed": MIXED,
    b"/chunked": CHUNKED,
    b"/interim": INTERIM,
    b"/close": UNTIL_CLOSE,
    b"/204": NO_CONTENT,
    b"/health": HEALTH,
    b"/failing": FAILING_HEALTH,
    b"/cr-field": BARE_CR_IN_FIELD,
    b"/cr-status": BARE_CR_IN_STATUS_LINE,
    b"/cr-before-crlf": BARE_CR_BEFORE_CRLF,
    b"/cr-chunk-line": BARE_CR_IN_CHUNK_LINE,
    b"/cr-after-chunk": BARE_CR_AFTER_CHUNK,
}


@pytest.fixture
def target() -> Iterator[BareLfTarget]:
    server = BareLfTarget(ANSWERS, closing=frozenset({b"/close"}))
    yield server
    server.stop()


def group(target: BareLfTarget, health: HealthCheckSpec = NO_CHECKS) -> TargetGroupSpec:
    return TargetGroupSpec(arn="tg", health=health, targets=(TargetSpec(id="lf", port=target.port),))


def serve(lb: LoadBalancerEngine, tg: TargetGroupSpec) -> int:
    lb.apply(LbSnapshot(listeners=(forward_listener(tg.arn),), target_groups=(tg,)))
    port = lb.bound_port("listener")
    assert port
    return port


def assert_crlf_only(raw: bytes) -> None:
    """What the client got has no bare LF in its head (nor in chunk lines and trailers)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b""), raw


# --------------------------------------------------------------------------- through the proxy


def test_bare_lf_responses_reach_the_client_with_crlf(engine: LoadBalancerEngine, target: BareLfTarget) -> None:
    port = serve(engine, group(target))
    with Client(port) as client:
        client.send(get("/length") + get("/mixed") + get("/chunked") + get("/interim") + get("/204"))
        length, mixed, chunked, interim, no_content = client.responses([b"GET"] * 5)
    assert (length.status, length.framing, length.body) == (200, "length", b"hello")
    assert (length.get(b"content-type"), length.get(b"x-backend")) == (b"text/plain", b"lf")
    assert (mixed.get(b"x-a"), mixed.get(b"x-b"), mixed.body) == (b"1", b"2", b"mixed")
    assert (chunked.framing, chunked.body, chunked.trailers) == ("chunked", b"hello, world", [(b"X-Checksum", b"abc")])
    assert interim.interim == [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"]
    assert interim.body == b"ok"
    assert no_content.status == 204 and no_content.get(b"x-backend") == b"lf"
    for response in (length, mixed, chunked, interim, no_content):
        assert_crlf_only(response.raw)
    assert b"\n0\r\nX-Checksum: abc\r\n\r\n" in chunked.raw
    # one upstream connection carried them all, kept alive between them
    assert target.connections == 1
    assert served(engine, TargetKey("tg", "lf", target.port)) == 5


def test_a_close_delimited_bare_lf_response(engine: LoadBalancerEngine, target: BareLfTarget) -> None:
    port = serve(engine, group(target))
    with Client(port) as client:
        client.send(get("/close"))
        response = client.response()
    assert (response.status, response.framing, response.body) == (200, "chunked", b"old-style body")
    assert response.get(b"x-old") == b"yes"
    assert_crlf_only(response.raw)


@pytest.mark.parametrize("path", ["/cr-field", "/cr-status", "/cr-before-crlf"])
def test_a_bare_cr_in_a_response_head_is_still_a_502(
    engine: LoadBalancerEngine, target: BareLfTarget, path: str
) -> None:
    port = serve(engine, group(target))
    with Client(port) as client:
        client.send(get(path))
        response = client.response()
    assert response.status == 502
    assert b"X-Smuggled" not in response.raw


@pytest.mark.parametrize("path", ["/cr-chunk-line", "/cr-after-chunk"])
def test_a_bare_cr_in_a_chunked_body_cuts_the_response(
    engine: LoadBalancerEngine, target: BareLfTarget, path: str
) -> None:
    port = serve(engine, group(target))
    with Client(port) as client:
        client.send(get(path))
        rest = client.rest_until_close()
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert not rest.endswith(b"0\r\n\r\n")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /length HTTP/1.1\r\nHost: t\r\nX-A: 1\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /length HTTP/1.1\r\nHost: t\r\nX-A: 1\rX-B: 2\r\n\r\n",
        b"GET /length HTTP/1.1\nHost: t\n\n",
    ],
)
def test_a_bare_lf_or_cr_in_a_request_is_refused(
    engine: LoadBalancerEngine, target: BareLfTarget, request_bytes: bytes
) -> None:
    port = serve(engine, group(target))
    with Client(port) as client:
        client.send(request_bytes)
        client.sock.shutdown(socket.SHUT_WR)
        response = client.response()
    assert response.status == 400
    assert target.requests == []


# --------------------------------------------------------------------------- health checks

FAST_CHECKS: Final = HealthCheckSpec(
    path="/health", interval_s=0.05, timeout_s=1.0, healthy_threshold=2, unhealthy_threshold=2
)


def probe_once(target: BareLfTarget, path: str) -> tuple[bool, str | None]:
    spec = HealthCheckSpec(path=path, timeout_s=TIMEOUT_S)
    result = asyncio.run(probe(TargetSpec(id="lf", port=target.port), spec))
    return result.ok, result.reason


def test_a_health_check_reads_a_bare_lf_answer(target: BareLfTarget) -> None:
    assert probe_once(target, "/health") == (True, None)
    assert probe_once(target, "/interim") == (True, None)
    assert probe_once(target, "/failing") == (False, "Target.ResponseCodeMismatch")
    assert probe_once(target, "/cr-field") == (False, "Target.FailedHealthChecks")


def test_a_bare_lf_target_becomes_healthy_and_serves(engine: LoadBalancerEngine, target: BareLfTarget) -> None:
    port = serve(engine, group(target, FAST_CHECKS))
    key = TargetKey("tg", "lf", target.port)

    def health() -> TargetHealth | None:
        return engine.target_health().get(key)

    wait_until(lambda: health() == TargetHealth("healthy"), what="the bare-LF target healthy")
    with Client(port) as client:
        client.send(get("/length"))
        assert client.response().body == b"hello"
    assert health() == TargetHealth("healthy")
