"""What a request must satisfy beyond llhttp's grammar before it is forwarded. Pure.

llhttp (``http1``) already refuses what RFC 9112 forbids in the syntax: control characters,
spaces or a NUL in field names, NUL/CR/control characters in values, a bare CR or LF
anywhere in the head, obsolete line folding, an invalid or duplicated ``Content-Length``,
``Content-Length`` beside ``Transfer-Encoding``, malformed chunk lines, unknown methods and
bytes outside the URI grammar in the request target. This module adds the rules nginx
applies on top of the grammar, with nginx's status (measured against nginx 1.22, Debian 12):

* ``Host``: required in HTTP/1.1; one only; not empty; no ``/``, no byte ≤ 0x20 or 0x7F, no
  ``..``  → 400.
* Fields nginx keeps one of (``UNIQUE_FIELDS``) sent twice → 400.
* ``Transfer-Encoding``: sent twice, or in an HTTP/1.0 request → 400; anything but a lone
  ``chunked`` (any case, surrounding spaces allowed) → 501.
* Request target: origin-form (starting with ``/``) or absolute-form (``scheme://authority``
  with no userinfo); ``*``, authority-form, ``CONNECT`` and anything else → 400. An
  absolute-form target is forwarded in origin-form and its authority becomes the ``Host``
  (RFC 9112 §3.2.2: the target's authority wins over the ``Host`` field), so the rules, the
  target and the load balancer all read the same host.
* Version: HTTP/1.0 or HTTP/1.1; HTTP/0.9 → 400; another major version → 505.
* ``TRACE`` → 405, as nginx and an ALB answer it.
"""

from __future__ import annotations

import re
from typing import Final

UNIQUE_FIELDS: Final = frozenset(
    {
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-match",
        b"if-none-match",
        b"if-range",
        b"content-range",
        b"expect",
    }
)
"""Fields nginx refuses to see twice in one request (400)."""

FRAMING_FIELDS: Final = frozenset({b"content-length", b"transfer-encoding", b"host"})
"""Fields that hop-by-hop stripping never removes, whatever ``Connection`` names (RFC 9110 §7.6.1)."""


class RequestRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_version(version: str) -> bool:
    """True for HTTP/1.1, False for HTTP/1.0; anything else is refused."""
    if version == "1.1":
        return True
    if version == "1.0":
        return False
    if version.startswith("0."):
        raise RequestRejected(400, "HTTP/0.9 request")
    raise RequestRejected(505, f"unsupported HTTP version {version}")


_BAD_HOST: Final = re.compile(rb"[\x00-\x20\x7f/]|\.\.")


def valid_host(value: bytes) -> bool:
    """nginx's ``Host`` check: not empty, no ``/``, no byte ≤ 0x20 or 0x7F, no ``..``."""
    return bool(value.rstrip(b".")) and _BAD_HOST.search(value) is None


def check_fields(names: list[bytes], http11: bool) -> None:
    """``names``: the lower-case field names, in order. Duplicates and missing ``Host``."""
    seen: set[bytes] = set()
    for name in names:
        if name in UNIQUE_FIELDS:
            if name in seen:
                raise RequestRejected(400, f"duplicate {name.decode('latin-1')} field")
            seen.add(name)
    if http11 and b"host" not in seen:
        raise RequestRejected(400, "HTTP/1.1 request without Host")
    if not http11 and b"transfer-encoding" in seen:
        raise RequestRejected(400, "Transfer-Encoding in an HTTP/1.0 request")


def check_transfer_coding(value: bytes) -> None:
    if value.strip(b" \t").lower() != b"chunked":
        raise RequestRejected(501, "unsupported transfer coding")


def origin_form(method: bytes, target: bytes) -> tuple[bytes, bytes | None]:
    """The target to forward (origin-form) and, for an absolute-form target, its authority."""
    if method == b"CONNECT":
        raise RequestRejected(400, "CONNECT is not served")
    if method == b"TRACE":
        raise RequestRejected(405, "TRACE is not allowed")
    if target[:1] == b"/":
        return target, None
    scheme, sep, rest = target.partition(b"://")
    if not sep or not scheme.isalpha():
        raise RequestRejected(400, "request target is neither origin-form nor absolute-form")
    end = len(rest)
    for stop in (b"/", b"?", b"#"):
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    authority, path = rest[:end], rest[end:]
    if b"@" in authority or not valid_host(authority):
        raise RequestRejected(400, "invalid authority in an absolute-form target")
    if not path.startswith(b"/"):
        path = b"/" + path
    return path, authority
