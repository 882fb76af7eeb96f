"""The HTTP/1.1 parser (llhttp through httptools): framing, keep-alive, errors, any split of the bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsemu.lb.http1 import (
    CLOSED,
    MAX_FIELD_BYTES,
    MAX_REQUEST_LINE_BYTES,
    NEED_DATA,
    PAUSED,
    Data,
    EndOfMessage,
    Event,
    Framing,
    HttpError,
    RequestHead,
    RequestParser,
    ResponseHead,
    ResponseParser,
    chunk,
    last_chunk,
    serialize_head,
)


def drain(parser: RequestParser | ResponseParser) -> list[Event]:
    events: list[Event] = []
    while True:
        event = parser.next_event()
        if event in (NEED_DATA, PAUSED, CLOSED):
            events.append(event)
            return events
        events.append(event)


def body_of(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Data))


def request_events(raw: bytes) -> list[Event]:
    parser = RequestParser()
    parser.feed(raw)
    return drain(parser)


def test_simple_get_is_head_then_end() -> None:
    events = request_events(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = events[0]
    assert isinstance(head, RequestHead)
    assert (head.method, head.target, head.http11, head.keep_alive) == (b"GET", b"/a?b=1", True, True)
    assert head.get(b"host") == b"x"
    assert isinstance(events[1], EndOfMessage)
    assert events[2] is PAUSED


def test_content_length_body() -> None:
    events = request_events(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
    assert body_of(events) == b"hello"
    assert isinstance(events[-2], EndOfMessage)


def test_chunked_body_with_extensions_and_trailers() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n"
    events = request_events(raw)
    assert isinstance(events[0], RequestHead) and events[0].framing is Framing.CHUNKED
    assert body_of(events) == b"hello0123456789"
    end = events[-2]
    assert isinstance(end, EndOfMessage) and end.trailers == [(b"X-Sum", b"1")]


@pytest.mark.parametrize(
    ("version", "connection", "keep"),
    [(b"HTTP/1.1", b"", True), (b"HTTP/1.1", b"Connection: close\r\n", False),
     (b"HTTP/1.0", b"", False), (b"HTTP/1.0", b"Connection: Keep-Alive\r\n", True)],
)
def test_keep_alive_semantics(version: bytes, connection: bytes, keep: bool) -> None:
    host = b"Host: h\r\n" if version == b"HTTP/1.1" else b""
    head = request_events(b"GET / " + version + b"\r\n" + host + connection + b"\r\n")[0]
    assert isinstance(head, RequestHead) and head.keep_alive is keep


def test_next_request_waits_until_started() -> None:
    parser = RequestParser()
    parser.feed(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
    first = drain(parser)
    assert [type(e) for e in first[:2]] == [RequestHead, EndOfMessage] and first[-1] is PAUSED
    parser.start_next_request()
    second = drain(parser)
    assert isinstance(second[0], RequestHead) and second[0].target == b"/2"


def test_clean_close_between_requests() -> None:
    parser = RequestParser()
    parser.feed_eof()
    assert parser.next_event() is CLOSED


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nBad Name : v\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", 400),
    ],
)
def test_malformed_requests(raw: bytes, status: int) -> None:
    with pytest.raises(HttpError) as caught:
        request_events(raw)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("pieces", "status"),
    [
        ([b"GET /" + b"a" * MAX_REQUEST_LINE_BYTES + b" HTTP/1.1\r\nHost: h\r\n\r\n"], 414),
        ([b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * MAX_FIELD_BYTES + b"\r\n\r\n"], 400),
        ([b"GET / HTTP/1.1\r\nHost: h\r\n", *[b"X-%d: %s\r\n" % (i, b"a" * 8000) for i in range(9)], b"\r\n"], 400),
        ([b"GET / HTTP/1.1\r\nHost: h\r\nX: ", *[b"a" * 8192] * 20], 400),
    ],
    ids=["request-line", "one-field", "whole-head", "a-field-that-never-ends"],
)
def test_oversized_heads_get_nginx_statuses(pieces: list[bytes], status: int) -> None:
    """As an ALB bounds them (16 KiB line or field, 64 KiB head), with nginx's answers."""
    parser = RequestParser()
    for piece in pieces:
        parser.feed(piece)
    with pytest.raises(HttpError) as caught:
        drain(parser)
    assert caught.value.status == status


def test_eof_inside_a_body_is_an_error() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
    drain(parser)
    parser.feed_eof()
    with pytest.raises(HttpError):
        drain(parser)


# --------------------------------------------------------------------------- responses


def response_events(raw: bytes, method: bytes = b"GET", eof: bool = False) -> list[Event]:
    parser = ResponseParser()
    parser.expect_response(method)
    parser.feed(raw)
    if eof:
        parser.feed_eof()
    return drain(parser)


def test_response_framings() -> None:
    length = response_events(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    assert isinstance(length[0], ResponseHead) and length[0].framing is Framing.LENGTH and body_of(length) == b"hi"
    head = response_events(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", method=b"HEAD")
    assert isinstance(head[1], EndOfMessage)
    for status in (204, 304):
        events = response_events(b"HTTP/1.1 %d X\r\nContent-Length: 9\r\n\r\n" % status)
        assert isinstance(events[1], EndOfMessage)
    until_close = response_events(b"HTTP/1.1 200 OK\r\n\r\nstream", eof=True)
    assert isinstance(until_close[0], ResponseHead) and until_close[0].framing is Framing.UNTIL_CLOSE
    assert not until_close[0].keep_alive and body_of(until_close) == b"stream"
    assert isinstance(until_close[-2], EndOfMessage)


def test_interim_response_then_final() -> None:
    events = response_events(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert [e.status for e in events if isinstance(e, ResponseHead)] == [100, 200]
    assert isinstance(events[2], EndOfMessage)


def test_garbage_status_line() -> None:
    with pytest.raises(HttpError):
        response_events(b"NOT HTTP AT ALL\r\n\r\n")


# --------------------------------------------------------------------------- any split


REQUESTS = [
    b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
    b"PUT /z HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x\r\ndefg\r\n0\r\nT: v\r\n\r\n",
]


def normalized(events: list[Event]) -> list[object]:
    """Events with body pieces merged, so splits only change the piece boundaries."""
    out: list[object] = []
    for event in events:
        if isinstance(event, Data):
            if out and isinstance(out[-1], bytes):
                out[-1] += event.data
            else:
                out.append(event.data)
        elif event is not NEED_DATA:
            out.append(event)
    return out


def parse_in_pieces(raw: bytes, points: list[int]) -> list[object]:
    """Feed ``raw`` cut at ``points``; start each next request as soon as one ends."""
    parser = RequestParser()
    got: list[Event] = []
    for start, end in itertools.pairwise(points):
        parser.feed(raw[start:end])
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                break
            if event is PAUSED:
                parser.start_next_request()
                continue
            got.append(event)
    return [e for e in normalized(got) if e is not PAUSED]


@given(st.lists(st.integers(0, 400), max_size=12))
def test_any_split_gives_the_same_messages(cuts: list[int]) -> None:
    raw = b"".join(REQUESTS)
    expected = parse_in_pieces(raw, [0, len(raw)])
    assert sum(isinstance(e, RequestHead) for e in expected) == len(REQUESTS)
    points = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    assert parse_in_pieces(raw, points) == expected


@given(st.binary(max_size=300), st.integers(1, 50))
def test_chunk_round_trip(payload: bytes, piece: int) -> None:
    encoded = b"".join(chunk(payload[i : i + piece]) for i in range(0, len(payload), piece)) + last_chunk([])
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + encoded)
    assert body_of(drain(parser)) == payload


def test_serialize_head() -> None:
    assert serialize_head(b"HTTP/1.1 200 OK", [(b"A", b"1")]) == b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"
    assert last_chunk([(b"T", b"v")]) == b"0\r\nT: v\r\n\r\n"
