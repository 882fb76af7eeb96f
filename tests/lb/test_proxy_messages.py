"""The HTTP proxy, part 1: what targets and clients receive, pipelining.

Adversarial: raw bytes go through the engine to raw-socket backends on 127.0.0.1 that record
exactly what they receive and answer exactly what they are told (chunked, close-delimited,
interim, garbage, slow...). What the backend receives and what the client receives are
checked byte for byte, up to ``Date`` values, ``X-Amzn-Trace-Id`` values, the listener's port
and chunk boundaries.
"""


from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import pytest

from ecsemu.lb import (
    LoadBalancerEngine,
)
from ecsemu.lb.responses import html_page

from .proxy_backends import (
    MANY_OPTIONS,
    TIMEOUT_S,
    TRACE_RE,
    Header,
    RawBackend,
    Received,
    pattern,
)
from .proxy_support import (
    Client,
    Response,
    chunked_post,
    fetch,
    get,
    key,
    normalized,
    parse_response,
    post,
    serve,
    served,
    tg,
)

# --------------------------------------------------------------------------- 1. what the backend receives


def upstream(request_line: bytes, fields: list[bytes], xff: bytes, body: bytes = b"") -> bytes:
    """The request a target should receive (trace id and listener port as placeholders)."""
    added = [b"X-Forwarded-For: " + xff, b"X-Forwarded-Proto: http", b"X-Forwarded-Port: <port>",
             b"X-Amzn-Trace-Id: <trace>"]
    return b"\r\n".join([request_line, *fields, *added]) + b"\r\n\r\n" + body


BIG_FIELD: Final = b"X-Big: " + b"b" * 16000
"""Just under an ALB's 16 KiB bound for one header field."""
MANY_FIELDS: Final = [b"X-F-%03d: %d" % (i, i) for i in range(110)]

REQUEST_CASES: Final[dict[str, tuple[bytes, bytes]]] = {
    "rewrite": (
        b"POST /submit?x=1&y=%20 HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: raw-test\r\n"
        b"X-Forwarded-For: 203.0.113.7, 198.51.100.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n"
        b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-Checksum\r\n"
        b"Proxy-Connection: keep-alive\r\nx-Custom-CASE:   padded value \t\r\nAccept: */*\r\n"
        b"Content-Length: 11\r\n\r\nhello world",
        upstream(
            b"POST /submit?x=1&y=%20 HTTP/1.1",
            [b"Host: app.example.com", b"User-Agent: raw-test", b"x-Custom-CASE: padded value", b"Accept: */*",
             b"Content-Length: 11"],
            b"203.0.113.7, 198.51.100.2, 127.0.0.1",
            b"hello world",
        ),
    ),
    "http10-without-host": (
        b"GET /old HTTP/1.0\r\nAccept: text/html\r\n\r\n",
        upstream(b"GET /old HTTP/1.1", [b"Accept: text/html"], b"127.0.0.1"),
    ),
    "xff-repeated": (
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h"], b"10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1"),
    ),
    "xff-empty": (
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h"], b"127.0.0.1"),
    ),
    "empty-field-value": (
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Spaces:    \r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", b"X-Empty: ", b"X-Spaces: "], b"127.0.0.1"),
    ),
    "head-method": (
        b"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n",
        upstream(b"HEAD /head HTTP/1.1", [b"Host: h"], b"127.0.0.1"),
    ),
    "connection-names-a-field": (
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nX-Keep: 2\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", b"X-Keep: 2"], b"127.0.0.1"),
    ),
    "head-over-16k": (
        b"GET / HTTP/1.1\r\nHost: h\r\n" + BIG_FIELD + b"\r\nX-Second: 2\r\n" + BIG_FIELD.lower() + b"\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", BIG_FIELD, b"X-Second: 2", BIG_FIELD.lower()], b"127.0.0.1"),
    ),
    "over-100-fields": (
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"\r\n".join(MANY_FIELDS) + b"\r\n\r\n",
        upstream(b"GET / HTTP/1.1", [b"Host: h", *MANY_FIELDS], b"127.0.0.1"),
    ),
}


def normalized_request(received: Received, listener_port: int) -> bytes:
    raw = received.raw
    traces = TRACE_RE.findall(raw)
    assert len(traces) == 1, raw[:2000]
    assert abs(int(traces[0], 16) - time.time()) < 60  # the trace id's epoch is now
    port_field = b"\r\nX-Forwarded-Port: %d\r\n" % listener_port
    assert raw.count(port_field) == 1, raw[:2000]
    raw = raw.replace(port_field, b"\r\nX-Forwarded-Port: <port>\r\n")
    return TRACE_RE.sub(b"X-Amzn-Trace-Id: <trace>\r\n", raw)


@pytest.mark.parametrize("case", list(REQUEST_CASES))
def test_the_backend_receives_the_request_rewritten(
    case: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    request, expected = REQUEST_CASES[case]
    a = backends("a")
    port = serve(engine, tg("tg", a))
    method = request.split(b" ")[0]
    response = fetch(port, request, method)
    assert response.status == 200, response.raw
    assert normalized_request(a.requests()[-1], port) == expected
    assert served(engine, key("tg", a)) == 1


def test_a_request_trickled_byte_by_byte_arrives_whole(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    port = serve(engine, tg("tg", a))
    request = post("/echo", b"trickled body").replace(b"Host: t\r\n", b"Host: t\r\nX-Forwarded-For: 1.2.3.4\r\n")
    with Client(port) as client:
        for i in range(len(request)):
            client.send(request[i : i + 1])
        response = client.response()
    assert (response.status, response.body) == (200, b"trickled body")
    assert normalized_request(a.requests()[-1], port) == upstream(
        b"POST /echo HTTP/1.1", [b"Host: t", b"Content-Length: 13"], b"1.2.3.4, 127.0.0.1", b"trickled body"
    )
    assert served(engine, key("tg", a)) == 1


# --------------------------------------------------------------------------- 2. what the client receives


@dataclass(frozen=True)
class ClientCase:
    request: bytes
    method: bytes = b"GET"
    status: int = 200
    body: bytes = b""
    framing: str = "length"
    keep: bool = True
    present: tuple[Header, ...] = ()
    absent: tuple[bytes, ...] = ()
    trailers: tuple[Header, ...] = ()
    interim: tuple[int, ...] = ()


HOP_BY_HOP: Final = (b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade")

CLIENT_CASES: Final[dict[str, ClientCase]] = {
    "content-length": ClientCase(get("/length"), body=b"a /length", present=((b"X-Backend", b"a"),)),
    "chunked-with-trailers": ClientCase(
        get("/chunked"), body=b"hello, world", framing="chunked", trailers=((b"X-Checksum", b"abc"),),
        present=((b"Transfer-Encoding", b"chunked"),), absent=(b"content-length", b"trailer"),
    ),
    "chunked-trickled-byte-by-byte": ClientCase(
        get("/trickle"), body=b"hello, world", framing="chunked", trailers=((b"X-Checksum", b"abc"),),
    ),
    "chunked-to-an-http10-client": ClientCase(
        get("/chunked", version=b"HTTP/1.0", extra=b"Connection: keep-alive\r\n"), body=b"hello, world",
        framing="close", keep=False, present=((b"Connection", b"close"),), absent=(b"transfer-encoding",),
    ),
    "close-delimited-to-an-http11-client": ClientCase(
        get("/close"), body=b"until-close", framing="chunked", present=((b"Transfer-Encoding", b"chunked"),),
    ),
    "close-delimited-to-an-http10-client": ClientCase(
        get("/close", version=b"HTTP/1.0"), body=b"until-close", framing="close", keep=False,
        present=((b"Connection", b"close"),), absent=(b"transfer-encoding",),
    ),
    "http10-target-close-delimited": ClientCase(
        get("/close10"), body=b"old-style body", framing="chunked",
    ),
    "head": ClientCase(
        b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n", method=b"HEAD", framing="none",
        present=((b"Content-Length", b"1234"), (b"Content-Type", b"text/plain")),
    ),
    "head-of-a-chunked-resource": ClientCase(
        b"HEAD /chunked HTTP/1.1\r\nHost: t\r\n\r\n", method=b"HEAD", framing="none",
        absent=(b"transfer-encoding", b"content-length"),
    ),
    "204": ClientCase(get("/204"), status=204, framing="none"),
    "304": ClientCase(get("/304"), status=304, framing="none", present=((b"ETag", b'"v1"'), (b"Content-Length", b"10"))),
    "interim-100-and-103": ClientCase(get("/interim"), body=b"final", interim=(100, 103)),
    "hop-by-hop-response-fields": ClientCase(
        get("/hop"), body=b"ok", present=((b"X-Public", b"yes"),), absent=(*HOP_BY_HOP, b"x-private"),
    ),
    "client-asks-close": ClientCase(
        get("/", extra=b"Connection: close\r\n"), body=b"a /", keep=False, present=((b"Connection", b"close"),),
    ),
    "http10-keep-alive": ClientCase(
        get("/", version=b"HTTP/1.0", extra=b"Connection: keep-alive\r\n"), body=b"a /",
        present=((b"Connection", b"keep-alive"),),
    ),
    "http10-default-close": ClientCase(
        get("/", version=b"HTTP/1.0"), body=b"a /", keep=False, present=((b"Connection", b"close"),),
    ),
    "transfer-coding-gzip-until-close": ClientCase(
        get("/te-gzip"), body=b"not-really-gzip", framing="chunked", present=((b"Transfer-Encoding", b"chunked"),),
    ),
    "http10-target-keep-alive": ClientCase(get("/keep-alive10"), body=b"ok", absent=(b"keep-alive", b"connection")),
    "bytes-beyond-the-body": ClientCase(get("/extra-bytes"), body=b"ok"),
    "head-answered-with-a-body": ClientCase(
        b"HEAD /head-with-body HTTP/1.1\r\nHost: t\r\n\r\n", method=b"HEAD", framing="none",
        present=((b"Content-Length", b"5"),),
    ),
    "interim-then-eof": ClientCase(
        get("/interim-then-eof"), status=502, body=html_page(502), interim=(100,),
    ),
    "40k-response-head": ClientCase(get("/big-head"), body=b"large head", present=((b"X-Large", b"l" * 40000),)),
    "120-response-fields": ClientCase(
        get("/many-headers"), body=b"cookies", present=((b"Set-Cookie", b"c000=v000; Path=/"),),
    ),
    "connection-naming-9-fields": ClientCase(
        get("/many-options"), body=b"options", present=((b"X-Kept", b"yes"),),
        absent=tuple(name.lower() for name in MANY_OPTIONS),
    ),
}


@dataclass
class Outcome:
    response: Response
    kept_alive: bool
    follow_up: bytes = b""

    def shape(self) -> tuple[object, ...]:
        return (self.response.shape(), self.kept_alive, self.follow_up)


def converse(port: int, case: ClientCase) -> Outcome:
    """Sends the case's request, reads the answer, then finds out whether the connection lives
    on: a follow-up request when it should, waiting for the close when it should not."""
    with Client(port) as client:
        client.send(case.request)
        response = client.response(case.method)
        if case.keep:
            client.send(get("/after"))
            try:
                after = client.response()
            except AssertionError:
                return Outcome(response, kept_alive=False)
            return Outcome(response, kept_alive=True, follow_up=normalized(after.raw))
        return Outcome(response, kept_alive=not client.closed())


@pytest.mark.parametrize("case", list(CLIENT_CASES))
def test_the_client_receives_the_response_reframed(
    case: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    spec = CLIENT_CASES[case]
    a = backends("a")
    outcome = converse(serve(engine, tg("tg", a)), spec)
    response = outcome.response
    assert (response.status, response.body, response.framing) == (spec.status, spec.body, spec.framing)
    assert outcome.kept_alive == spec.keep
    assert response.status_line.startswith(b"HTTP/1.1 ")
    assert [int(head[9:12]) for head in response.interim] == list(spec.interim)
    for name, value in spec.present:
        assert response.get(name) == value
    assert not response.names() & set(spec.absent), response.headers
    assert response.trailers == list(spec.trailers)
    if spec.keep:
        assert outcome.follow_up.startswith(b"HTTP/1.1 200 OK\r\n") and outcome.follow_up.endswith(b"a /after")
    assert served(engine, key("tg", a)) == (2 if spec.keep else 1)


@pytest.mark.parametrize("shape", ["one-request", "pipelined"])
def test_a_client_that_half_closes_still_gets_its_answers(
    shape: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """``shutdown(SHUT_WR)`` after the last request (as ``nc -N`` or some HTTP/1.0 clients do):
    the requests already sent are answered, then the connection closes."""
    a = backends("a")
    port = serve(engine, tg("tg", a))
    paths = ["/one"] if shape == "one-request" else ["/one", "/two", "/three"]
    with Client(port) as client:
        client.send(b"".join(get(p) for p in paths))
        client.sock.shutdown(socket.SHUT_WR)
        rest = client.rest_until_close()
    answers = []
    while rest:
        response, used = parse_response(rest, b"GET", eof=True)
        answers.append(response.body)
        rest = rest[used:]
    assert answers == [b"a " + p.encode() for p in paths]


# --------------------------------------------------------------------------- 3. pipelining


def test_a_pipeline_comes_back_in_order_and_complete(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    requests = [get(f"/p{i}") for i in range(20)]
    requests[5] = b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n"
    requests[9] = post("/echo", b"body-nine")
    requests[12] = get("/chunked")
    requests[15] = get("/interim")
    methods = [r.split(b" ")[0] for r in requests]
    with Client(serve(engine, tg("tg", a))) as client:
        client.send(b"".join(requests))
        responses = client.responses(methods)
        client.send(get("/last"))
        assert client.response().body == b"a /last"
    bodies = [r.body for r in responses]
    expected = [b"a /p%d" % i for i in range(20)]
    expected[5], expected[9], expected[12], expected[15] = b"", b"body-nine", b"hello, world", b"final"
    assert bodies == expected
    assert [r.status for r in responses] == [200] * 20
    assert served(engine, key("tg", a)) == 21


@pytest.mark.parametrize("first", ["small", "1MiB"])
def test_a_pipeline_mixing_plain_and_chunked_requests(
    first: str, engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    """Plain, then a chunked body, then plain again: all answered in order, intact."""
    a = backends("a")
    port = serve(engine, tg("tg", a))
    size = 1024 * 1024
    first_request = get("/first") if first == "small" else get(f"/big?size={size}")
    with Client(port) as client:
        client.send(first_request + chunked_post("/echo", b"hello", b" handed", b" off") + get("/third"))
        responses = client.responses([b"GET", b"POST", b"GET"])
        client.send(get("/fourth"))
        responses.append(client.response())
    bodies = [r.body for r in responses]
    assert bodies == [b"a /first" if first == "small" else pattern(size), b"hello handed off", b"a /third",
                      b"a /fourth"]
    assert [r.path for r in a.requests()] == ["/first" if first == "small" else "/big", "/echo", "/third", "/fourth"]
    assert a.requests("/echo")[0].body == b"hello handed off"
    assert served(engine, key("tg", a)) == 4


def test_a_pipeline_stops_at_connection_close(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a = backends("a")
    with Client(serve(engine, tg("tg", a))) as client:
        client.send(get("/1") + get("/2", extra=b"Connection: close\r\n") + get("/3"))
        first, second = client.responses([b"GET", b"GET"])
        assert (first.body, second.body, second.get(b"Connection")) == (b"a /1", b"a /2", b"close")
        assert client.closed()
    assert [r.path for r in a.requests()] == ["/1", "/2"]


def test_a_pipeline_larger_than_the_pipeline_buffer(
    engine: LoadBalancerEngine, backends: Callable[[str], RawBackend]
) -> None:
    a, b = backends("a"), backends("b")
    port = serve(engine, tg("tg", a, b))
    count = 250
    pad = b"X-Pad: " + b"p" * 400 + b"\r\n"
    with Client(port) as client:
        writer = client.send_in_background(b"".join(get(f"/n{i}", extra=pad) for i in range(count)))
        responses = client.responses([b"GET"] * count)
        writer.join(TIMEOUT_S)
    assert [r.body for r in responses] == [b"%s /n%d" % (b"ab"[i % 2 : i % 2 + 1], i) for i in range(count)]
    assert served(engine, key("tg", a)) + served(engine, key("tg", b)) == count
