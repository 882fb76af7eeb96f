"""How a request and its response are rewritten on their way through the proxy. Pure.

Towards the target (as an ALB does, in its default ``append`` mode)
------------------------------------------------------------------
* ``X-Forwarded-For``: the client's address is appended to the header the client sent (or
  the header is created with it).
* ``X-Forwarded-Proto``: the listener's protocol as the client used it (``http``), replacing
  any value the client sent; ``X-Forwarded-Port``: the port the client connected to.
* ``X-Amzn-Trace-Id``: absent → ``Root=1-<8 hex epoch s>-<24 hex>``; present with a ``Self``
  field → that field is updated; present without → a ``Self`` field is inserted first. Other
  fields are kept.
* ``Host`` and all end-to-end fields pass unchanged; hop-by-hop fields (``Connection`` and the
  fields it names, ``Keep-Alive``, ``Proxy-Connection``, ``TE``, ``Trailer``, ``Upgrade``,
  ``Transfer-Encoding``) are dropped: the proxy speaks HTTP/1.1 with keep-alive to targets and
  re-frames chunked bodies itself. ``Connection`` never drops ``Content-Length``,
  ``Transfer-Encoding`` or ``Host`` (RFC 9110 §7.6.1): a ``Connection: Content-Length`` would
  otherwise send the body on as a request of its own.

Towards the client
------------------
Hop-by-hop fields are dropped; the body keeps its ``Content-Length`` or is sent chunked (a
body delimited by the target's close is sent chunked to an HTTP/1.1 client, or until close to
an HTTP/1.0 one); ``Connection: close`` is added when the client connection ends after it.
"""

from __future__ import annotations

from typing import Final

from ecsemu.lb.http1 import Framing, Header, RequestHead, ResponseHead, serialize_head
from ecsemu.lb.request_rules import FRAMING_FIELDS

HOP_BY_HOP: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
_REPLACED: Final = frozenset({b"x-forwarded-proto", b"x-forwarded-port"})


def new_trace_id(epoch_s: float, random_96_bits: int) -> str:
    return f"1-{int(epoch_s) & 0xFFFFFFFF:08x}-{random_96_bits & ((1 << 96) - 1):024x}"


def trace_header(existing: bytes | None, trace_id: str) -> bytes:
    """The ``X-Amzn-Trace-Id`` value to forward, given the client's (if any)."""
    if not existing:
        return f"Root={trace_id}".encode("ascii")
    fields = [f.strip() for f in existing.split(b";") if f.strip()]
    self_field = f"Self={trace_id}".encode("ascii")
    if any(f.startswith(b"Self=") for f in fields):
        return b";".join(self_field if f.startswith(b"Self=") else f for f in fields)
    if not any(f.startswith(b"Root=") for f in fields):
        return b";".join([f"Root={trace_id}".encode("ascii"), *fields])
    return b";".join([self_field, *fields])


_CONNECTION_OPTIONS: Final = frozenset({b"keep-alive", b"close", b""})
_NEVER_DROPPED: Final = _CONNECTION_OPTIONS | FRAMING_FIELDS
"""Connection may name any field but these: the framing and the Host stay (RFC 9110 §7.6.1)."""
# Every name this module drops or rewrites has one of these lengths: others need no lower().
_WATCHED_LENGTHS: Final = frozenset({2, 7, 10, 15, 16, 17})


def _dropped_names(connection: tuple[bytes, ...]) -> frozenset[bytes]:
    """Hop-by-hop names, plus the fields the Connection header names."""
    if not connection:
        return HOP_BY_HOP
    extra = [token for token in connection if token not in _NEVER_DROPPED]
    return HOP_BY_HOP.union(extra) if extra else HOP_BY_HOP


def _end_to_end(headers: list[Header], connection: tuple[bytes, ...]) -> list[Header]:
    dropped = _dropped_names(connection)
    if dropped is HOP_BY_HOP:
        return [(n, v) for n, v in headers if len(n) not in _WATCHED_LENGTHS or n.lower() not in dropped]
    return [(n, v) for n, v in headers if n.lower() not in dropped]


def upstream_request_head(
    request: RequestHead, *, client_ip: str, scheme: bytes, listener_port: int, trace_id: str
) -> bytes:
    """The request head sent to the target (the body follows in the framing chosen here)."""
    dropped = _dropped_names(request.connection)
    watched_only = dropped is HOP_BY_HOP
    headers: list[Header] = []
    forwarded_for: bytes | None = None
    trace: bytes | None = None
    for name, value in request.headers:
        if watched_only and len(name) not in _WATCHED_LENGTHS:
            headers.append((name, value))
            continue
        lower = name.lower()
        if lower in dropped or lower in _REPLACED:
            continue
        if lower == b"x-forwarded-for":
            forwarded_for = value if forwarded_for is None else forwarded_for + b", " + value
            continue
        if lower == b"x-amzn-trace-id":
            trace = value
            continue
        headers.append((name, value))
    client = client_ip.encode("ascii")
    headers.append((b"X-Forwarded-For", forwarded_for + b", " + client if forwarded_for else client))
    headers.append((b"X-Forwarded-Proto", scheme))
    headers.append((b"X-Forwarded-Port", b"%d" % listener_port))
    headers.append((b"X-Amzn-Trace-Id", trace_header(trace, trace_id)))
    if request.framing is Framing.CHUNKED:
        headers.append((b"Transfer-Encoding", b"chunked"))
    return serialize_head(request.method + b" " + request.target + b" HTTP/1.1", headers)


def client_body_framing(response: ResponseHead, client_http11: bool) -> Framing:
    """How the response body is framed towards the client."""
    if response.framing is Framing.CHUNKED or response.framing is Framing.UNTIL_CLOSE:
        return Framing.CHUNKED if client_http11 else Framing.UNTIL_CLOSE
    return response.framing


def client_response_head(response: ResponseHead, *, framing: Framing, client_http11: bool, keep_alive: bool) -> bytes:
    """The response head sent to the client."""
    headers = _end_to_end(response.headers, response.connection)
    if response.framing is Framing.CHUNKED or response.framing is Framing.UNTIL_CLOSE:
        # A Content-Length beside a transfer coding does not frame this body: never pass it on.
        headers = [(n, v) for n, v in headers if len(n) != 14 or n.lower() != b"content-length"]
    if framing is Framing.CHUNKED:
        headers.append((b"Transfer-Encoding", b"chunked"))
    if not keep_alive:
        headers.append((b"Connection", b"close"))
    elif not client_http11:
        headers.append((b"Connection", b"keep-alive"))
    return serialize_head(b"HTTP/1.1 %d %b" % (response.status, response.reason), headers)


def interim_response_head(response: ResponseHead) -> bytes:
    """A 1xx response, passed on as it came (less hop-by-hop fields)."""
    headers = _end_to_end(response.headers, response.connection)
    return serialize_head(b"HTTP/1.1 %d %b" % (response.status, response.reason), headers)
