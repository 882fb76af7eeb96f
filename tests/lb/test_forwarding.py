"""Header rewriting towards targets and clients, and the load balancer's own responses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsemu.lb.forwarding import (
    client_body_framing,
    client_response_head,
    new_trace_id,
    trace_header,
    upstream_request_head,
)
from ecsemu.lb.http1 import NEED_DATA, Framing, RequestHead, RequestParser, ResponseHead, ResponseParser
from ecsemu.lb.model import FixedResponse, Redirect
from ecsemu.lb.responses import error_response, fixed_response, html_page, redirect_location, redirect_response

DATE = b"Thu, 26 Nov 2026 10:00:00 GMT"


def head_of(raw: bytes) -> RequestHead:
    parser = RequestParser()
    parser.feed(raw)
    event = parser.next_event()
    assert isinstance(event, RequestHead)
    return event


def forwarded(raw: bytes, trace: str = "1-00000001-000000000000000000000001") -> RequestHead:
    out = upstream_request_head(head_of(raw), client_ip="127.0.0.9", scheme=b"http", listener_port=8080, trace_id=trace)
    return head_of(out)


def test_x_forwarded_headers_are_added() -> None:
    head = forwarded(b"GET /p HTTP/1.1\r\nHost: app\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n")
    assert head.get(b"x-forwarded-for") == b"127.0.0.9"
    assert head.get(b"x-forwarded-proto") == b"http"
    assert head.get(b"x-forwarded-port") == b"8080"
    assert head.get(b"host") == b"app"
    assert head.get(b"connection") is None and head.get(b"keep-alive") is None
    assert head.http11 and head.target == b"/p"


def test_x_forwarded_for_is_appended_and_proto_port_replaced() -> None:
    head = forwarded(
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n"
        b"X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n\r\n"
    )
    assert head.get(b"x-forwarded-for") == b"1.1.1.1, 2.2.2.2, 127.0.0.9"
    assert [v for n, v in head.headers if n.lower() == b"x-forwarded-proto"] == [b"http"]
    assert [v for n, v in head.headers if n.lower() == b"x-forwarded-port"] == [b"8080"]


def test_fields_named_by_connection_are_dropped_and_chunked_is_refrained() -> None:
    head = forwarded(b"POST / HTTP/1.1\r\nHost: h\r\nConnection: x-secret\r\nX-Secret: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert head.get(b"x-secret") is None
    assert head.framing is Framing.CHUNKED


@given(st.floats(0, 2**32 - 1), st.integers(0, 2**96 - 1))
def test_trace_id_format(epoch: float, bits: int) -> None:
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", new_trace_id(epoch, bits))


def test_trace_header_root_self_and_custom_fields() -> None:
    tid = "1-67891233-abcdef012345678912345678"
    assert trace_header(None, tid) == b"Root=" + tid.encode()
    root = b"Root=1-67891233-000000000000000000000000"
    assert trace_header(root, tid) == b"Self=" + tid.encode() + b";" + root
    assert trace_header(root + b";CalledFrom=app", tid) == b"Self=" + tid.encode() + b";" + root + b";CalledFrom=app"
    assert trace_header(b"Self=1-0-0;" + root, tid) == b"Self=" + tid.encode() + b";" + root


def test_response_head_to_clients() -> None:
    parser = ResponseParser()
    parser.expect_response(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nX-App: 1\r\n\r\n")
    response = parser.next_event()
    assert not isinstance(response, type(NEED_DATA))
    assert client_body_framing(response, True) is Framing.CHUNKED  # type: ignore[arg-type]
    assert client_body_framing(response, False) is Framing.UNTIL_CLOSE  # type: ignore[arg-type]
    raw = client_response_head(response, framing=Framing.CHUNKED, client_http11=True, keep_alive=False)  # type: ignore[arg-type]
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"X-App: 1\r\n" in raw and b"Transfer-Encoding: chunked\r\n" in raw and b"Connection: close\r\n" in raw
    assert b"keep-alive" not in raw


@pytest.mark.parametrize("named", [b"Content-Length", b"content-length, keep-alive", b"Host", b"Transfer-Encoding"])
def test_connection_never_drops_the_framing_or_the_host(named: bytes) -> None:
    """RFC 9110 §7.6.1; issue 11: ``Connection: Content-Length`` sent the body on as a request."""
    body = b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
    raw = b"POST / HTTP/1.1\r\nHost: app\r\nConnection: " + named + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
    head = forwarded(raw)
    assert head.get(b"content-length") == b"%d" % len(body)
    assert head.framing is Framing.LENGTH and head.get(b"host") == b"app"
    chunked = forwarded(b"POST / HTTP/1.1\r\nHost: app\r\nConnection: " + named + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert chunked.get(b"transfer-encoding") == b"chunked" and chunked.get(b"host") == b"app"


def test_a_content_length_beside_chunked_never_reaches_the_client() -> None:
    parser = ResponseParser()
    parser.expect_response(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n")
    response = parser.next_event()
    assert isinstance(response, ResponseHead) and response.framing is Framing.CHUNKED
    for client_http11 in (True, False):
        framing = client_body_framing(response, client_http11)
        raw = client_response_head(response, framing=framing, client_http11=client_http11, keep_alive=False)
        assert b"content-length" not in raw.lower()


# --------------------------------------------------------------------------- own responses


def test_error_pages_are_albs() -> None:
    assert len(html_page(503)) == 162
    assert len(html_page(502)) == 122
    raw = error_response(502, DATE, keep_alive=True)
    assert raw.startswith(b"HTTP/1.1 502 Bad Gateway\r\nServer: awselb/2.0\r\nDate: " + DATE)
    assert raw.endswith(b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
    assert b"Content-Type: text/html\r\nContent-Length: 122\r\n" in raw
    assert error_response(504, DATE, keep_alive=False, head_only=True).endswith(b"Connection: close\r\n\r\n")
    assert b"HTTP/1.1 503 Service Temporarily Unavailable" in error_response(503, DATE, keep_alive=True)
    assert b"HTTP/1.1 504 Gateway Time-out" in error_response(504, DATE, keep_alive=True)


def test_fixed_response() -> None:
    raw = fixed_response(FixedResponse(status=404, content_type="application/json", body='{"a":1}'), DATE, keep_alive=True)
    assert raw.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b"Content-Type: application/json\r\nContent-Length: 7\r\n" in raw and raw.endswith(b'\r\n\r\n{"a":1}')


def test_redirect_location_keywords() -> None:
    default = Redirect(status_code="HTTP_301")
    assert redirect_location(default, protocol="HTTP", host="a.com", port=80, path="/x/y", query="q=1") == "http://a.com:80/x/y?q=1"
    to_https = Redirect(status_code="HTTP_302", protocol="HTTPS", port="443", path="/new/#{path}", query="#{query}&v=2")
    assert redirect_location(to_https, protocol="HTTP", host="a.com", port=80, path="/x", query="") == "https://a.com:443/new/x?&v=2"
    other_host = Redirect(status_code="HTTP_301", host="example.#{host}", query="")
    assert redirect_location(other_host, protocol="HTTP", host="a.com", port=8080, path="/", query="z") == "http://example.a.com:8080/"
    raw = redirect_response(to_https, "https://a.com:443/", DATE, keep_alive=True)
    assert raw.startswith(b"HTTP/1.1 302 Found\r\n") and b"Location: https://a.com:443/\r\n" in raw
