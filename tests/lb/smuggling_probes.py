"""The request-smuggling probes of issue 11, with the answer nginx gives each.

``REFUSED``: nginx 1.22.1 (Debian 12's ``nginx-light``, as a reverse proxy with
``proxy_http_version 1.1``) answered them with this status and forwarded nothing; so must the
load balancer. ``STRICTER_THAN_NGINX``: nginx forwards them (or, for a few, answers otherwise);
llhttp refuses them, so the load balancer answers the status given and forwards nothing —
never the other way round. ``FORWARDED``: nginx forwards them as one request; so does the
load balancer, with the framing it parsed (``Forwarded`` says what the target must see).

Measured by starting nginx on 127.0.0.1 with a raw-socket upstream that records every byte
(``nginx_reference.py`` beside this file); rerun it when nginx is upgraded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


def req(line: bytes, *fields: bytes, body: bytes = b"") -> bytes:
    return line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


H: Final = b"Host: a"
SMUGGLED: Final = b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
BIG: Final = b"a" * 17000
"""Over an ALB's 16 KiB bound for the request line and for one field (nginx's is 8 KiB)."""

REFUSED: Final[dict[str, tuple[bytes, int]]] = {
    # issue 11, finding 2
    "bare-lf-in-header-block": (
        b"POST / HTTP/1.1\r\nHost: a\r\nX-Pad: 1\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
    "vt-before-colon": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding\x0b: chunked", b"Content-Length: 5",
                            body=b"0\r\n\r\n"), 400),
    "bare-cr-in-value": (req(b"GET / HTTP/1.1", H, b"X-A: 1\rTransfer-Encoding: chunked"), 400),
    "nul-in-name": (req(b"GET / HTTP/1.1", H, b"X\x00A: 1"), 400),
    "nul-in-value": (req(b"GET / HTTP/1.1", H, b"X-A: 1\x002"), 400),
    "ctl-in-name": (req(b"GET / HTTP/1.1", H, b"X\x01A: 1"), 400),
    "space-in-name": (req(b"GET / HTTP/1.1", H, b"X A: 1"), 400),
    "space-before-colon": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding : chunked", body=b"0\r\n\r\n"), 400),
    "tab-before-colon": (req(b"GET / HTTP/1.1", H, b"X-A\t: 1"), 400),
    "two-hosts": (req(b"GET / HTTP/1.1", H, b"Host: b"), 400),
    "two-equal-hosts": (req(b"GET / HTTP/1.1", H, H), 400),
    "two-content-lengths-differ": (req(b"POST / HTTP/1.1", H, b"Content-Length: 1", b"Content-Length: 2",
                                       body=b"ab"), 400),
    "two-content-lengths-same": (req(b"POST / HTTP/1.1", H, b"Content-Length: 2", b"Content-Length: 2",
                                     body=b"ab"), 400),
    "ctl-in-target": (req(b"GET /a\x01b HTTP/1.1", H), 400),
    "del-in-target": (req(b"GET /a\x7fb HTTP/1.1", H), 400),
    "nul-in-target": (req(b"GET /a\x00b HTTP/1.1", H), 400),
    "tab-in-target": (req(b"GET /a\tb HTTP/1.1", H), 400),
    "ctl-in-method": (req(b"G\x01ET / HTTP/1.1", H), 400),
    "8bit-in-method": (req(b"G\xc3\xa9T / HTTP/1.1", H), 400),
    "lowercase-method": (req(b"get / HTTP/1.1", H), 400),
    "no-leading-slash": (req(b"GET a HTTP/1.1", H), 400),
    "options-asterisk": (req(b"OPTIONS * HTTP/1.1", H), 400),
    "get-asterisk": (req(b"GET * HTTP/1.1", H), 400),
    "connect-authority": (req(b"CONNECT a:443 HTTP/1.1", b"Host: a:443"), 400),
    "absolute-form-userinfo": (req(b"GET http://u@b/x HTTP/1.1", H), 400),
    "absolute-form-without-host": (req(b"GET http://b/x HTTP/1.1"), 400),
    # framing
    "content-length-and-chunked": (req(b"POST / HTTP/1.1", H, b"Content-Length: 5", b"Transfer-Encoding: chunked",
                                       body=b"0\r\n\r\n"), 400),
    "content-length-list": (req(b"POST / HTTP/1.1", H, b"Content-Length: 2, 2", body=b"ab"), 400),
    "content-length-plus": (req(b"POST / HTTP/1.1", H, b"Content-Length: +2", body=b"ab"), 400),
    "content-length-negative": (req(b"POST / HTTP/1.1", H, b"Content-Length: -1"), 400),
    "content-length-hex": (req(b"POST / HTTP/1.1", H, b"Content-Length: 0x2", body=b"ab"), 400),
    "content-length-space-inside": (req(b"POST / HTTP/1.1", H, b"Content-Length: 1 2", body=b"ab"), 400),
    "content-length-huge": (req(b"POST / HTTP/1.1", H, b"Content-Length: 99999999999999999999999"), 400),
    "content-length-empty": (req(b"POST / HTTP/1.1", H, b"Content-Length: "), 400),
    "te-gzip": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: gzip", body=b"ab"), 501),
    "te-gzip-chunked": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n"), 501),
    "te-chunked-gzip": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked, gzip", body=b"0\r\n\r\n"), 501),
    "te-chunked-comma": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked,", body=b"0\r\n\r\n"), 501),
    "te-xchunked": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n"), 501),
    "te-identity": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: identity", body=b"0\r\n\r\n"), 501),
    "te-empty": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: ", b"Content-Length: 2", body=b"ab"), 501),
    "te-chunked-twice": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                             body=b"0\r\n\r\n"), 400),
    "te-in-http10": (req(b"POST / HTTP/1.0", H, b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"), 400),
    "chunk-size-invalid": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked", body=b"zz\r\nab\r\n0\r\n\r\n"),
                           400),
    "chunk-size-overflow": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked",
                                body=b"fffffffffffffffff1\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-size-leading-space": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked",
                                     body=b" 2\r\nab\r\n0\r\n\r\n"), 400),
    "chunk-data-too-long": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked",
                                body=b"2\r\nabc\r\n0\r\n\r\n"), 400),
    # heads
    "obs-fold": (req(b"GET / HTTP/1.1", H, b"X-A: 1", b" 2"), 400),
    "leading-space-first-field": (req(b"GET / HTTP/1.1", b" X-A: 1", H), 400),
    "empty-name": (req(b"GET / HTTP/1.1", H, b": 1"), 400),
    "no-colon": (req(b"GET / HTTP/1.1", H, b"X-A 1"), 400),
    "no-host-http11": (req(b"GET / HTTP/1.1"), 400),
    "empty-host": (req(b"GET / HTTP/1.1", b"Host: "), 400),
    "host-with-slash": (req(b"GET / HTTP/1.1", b"Host: a/b"), 400),
    "host-with-space": (req(b"GET / HTTP/1.1", b"Host: a b"), 400),
    "host-with-dot-dot": (req(b"GET / HTTP/1.1", b"Host: a..b"), 400),
    "duplicate-if-modified-since": (req(b"GET / HTTP/1.1", H, b"If-Modified-Since: a", b"If-Modified-Since: b"), 400),
    "duplicate-if-none-match": (req(b"GET / HTTP/1.1", H, b"If-None-Match: a", b"If-None-Match: b"), 400),
    "duplicate-expect": (req(b"GET / HTTP/1.1", H, b"Expect: a", b"Expect: b"), 400),
    "version-2": (req(b"GET / HTTP/2.0", H), 505),
    "version-3": (req(b"GET / HTTP/3.0", H), 505),
    "version-lowercase": (req(b"GET / http/1.1", H), 400),
    "version-garbage": (req(b"GET / HTTP/1.1x", H), 400),
    "prior-knowledge-http2": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    "trace": (req(b"TRACE / HTTP/1.1", H), 405),
    "request-line-too-long": (req(b"GET /" + BIG + b" HTTP/1.1", H), 414),
    "field-too-long": (req(b"GET / HTTP/1.1", H, b"X-A: " + BIG), 400),
    "head-too-long": (req(b"GET / HTTP/1.1", H, *[b"X-%d: %s" % (i, b"a" * 8000) for i in range(9)]), 400),
}

STRICTER_THAN_NGINX: Final[dict[str, tuple[bytes, int, str]]] = {
    "bare-lf-line-ends": (b"GET / HTTP/1.1\nHost: a\n\n", 400, "nginx forwards"),
    "ctl-in-value": (req(b"GET / HTTP/1.1", H, b"X-A: 1\x012"), 400, "nginx forwards the byte"),
    "del-in-value": (req(b"GET / HTTP/1.1", H, b"X-A: 1\x7f2"), 400, "nginx forwards the byte"),
    "8bit-in-name": (req(b"GET / HTTP/1.1", H, b"X-\xc3\xa9: 1"), 400, "nginx drops the field and forwards"),
    "8bit-in-target": (req(b"GET /caf\xc3\xa9 HTTP/1.1", H), 400, "nginx forwards"),
    "unknown-method": (req(b"FOO / HTTP/1.1", H), 400, "nginx forwards; llhttp knows ~45 methods"),
    "trailing-space-in-request-line": (req(b"GET / HTTP/1.1 ", H), 400, "nginx forwards"),
    "version-1-2": (req(b"GET / HTTP/1.2", H), 505, "nginx forwards as HTTP/1.1"),
    "chunk-lines-ended-by-lf": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked", body=b"2\nab\n0\n\n"),
                                400, "nginx forwards"),
    "content-length-in-trailers": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked",
                                       body=b"0\r\nContent-Length: 5\r\n\r\n"), 400, "nginx drops trailers"),
    "space-in-trailer-name": (req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked", body=b"0\r\nX A: 5\r\n\r\n"),
                              400, "nginx drops trailers"),
    "http09": (b"GET /\r\n\r\n", 400, "nginx answers in HTTP/0.9"),
    "upgrade-with-a-body": (req(b"POST / HTTP/1.1", H, b"Connection: Upgrade", b"Upgrade: websocket",
                                b"Content-Length: 3", body=b"abc"), 400, "nginx forwards (llhttp skips the body)"),
}


@dataclass(frozen=True)
class Forwarded:
    """What the target must receive: exactly one request, with these (and nothing after it)."""

    method: bytes
    target: bytes
    host: bytes | None
    body: bytes
    framing: str
    """"length", "chunked" or "none": how the forwarded body is delimited."""


FORWARDED: Final[dict[str, tuple[bytes, Forwarded]]] = {
    # issue 11, finding 2: Connection must never drop the framing or the Host
    "connection-names-content-length": (
        req(b"POST / HTTP/1.1", H, b"Connection: keep-alive, Content-Length",
            b"Content-Length: %d" % len(SMUGGLED), body=SMUGGLED),
        Forwarded(b"POST", b"/", b"a", SMUGGLED, "length"),
    ),
    "connection-names-transfer-encoding": (
        req(b"POST / HTTP/1.1", H, b"Connection: Transfer-Encoding", b"Transfer-Encoding: chunked",
            body=b"5\r\nhello\r\n0\r\n\r\n"),
        Forwarded(b"POST", b"/", b"a", b"hello", "chunked"),
    ),
    "connection-names-host": (req(b"GET / HTTP/1.1", H, b"Connection: host"), Forwarded(b"GET", b"/", b"a", b"", "none")),
    # the absolute form: its authority is the host (RFC 9112 §3.2.2), as nginx reads it
    "absolute-form-other-host": (req(b"GET http://b/x?q=1 HTTP/1.1", H), Forwarded(b"GET", b"/x?q=1", b"b", b"", "none")),
    "absolute-form-same-host": (req(b"GET http://a/ HTTP/1.1", H), Forwarded(b"GET", b"/", b"a", b"", "none")),
    "te-chunked-upper-case": (
        req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: CHUNKED", body=b"2\r\nok\r\n0\r\n\r\n"),
        Forwarded(b"POST", b"/", b"a", b"ok", "chunked"),
    ),
    "chunk-extension": (
        req(b"POST / HTTP/1.1", H, b"Transfer-Encoding: chunked", body=b"2;x=y\r\nok\r\n0\r\n\r\n"),
        Forwarded(b"POST", b"/", b"a", b"ok", "chunked"),
    ),
    "content-length-leading-zero": (
        req(b"POST / HTTP/1.1", H, b"Content-Length: 02", body=b"ok"), Forwarded(b"POST", b"/", b"a", b"ok", "length"),
    ),
    "no-host-http10": (req(b"GET / HTTP/1.0"), Forwarded(b"GET", b"/", None, b"", "none")),
    "two-user-agents": (req(b"GET / HTTP/1.1", H, b"User-Agent: a", b"User-Agent: b"),
                        Forwarded(b"GET", b"/", b"a", b"", "none")),
    "8bit-in-value": (req(b"GET / HTTP/1.1", H, b"X-A: caf\xc3\xa9"), Forwarded(b"GET", b"/", b"a", b"", "none")),
    "websocket-upgrade-without-body": (
        req(b"GET /ws HTTP/1.1", H, b"Connection: Upgrade", b"Upgrade: websocket"),
        Forwarded(b"GET", b"/ws", b"a", b"", "none"),
    ),
    "leading-empty-lines": (b"\r\n\r\n" + req(b"GET / HTTP/1.1", H), Forwarded(b"GET", b"/", b"a", b"", "none")),
}
