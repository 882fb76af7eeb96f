"""Browser safety: which HTTP requests the gateway answers at all.

A web page the user opens can make the browser send requests to ``127.0.0.1``: form posts and
"simple" ``fetch`` calls go out without asking anyone, and DNS rebinding (a name the page's
site controls, re-pointed at 127.0.0.1) lets the page read the answers too. ecsemu's API can
start containers, so three rules keep pages out:

1. **Host**: every request (AWS API and admin alike) must name, in its ``Host`` header, a
   loopback address (``127.0.0.0/8``, ``[::1]``), ``localhost``, or a name the operator added
   (``--allowed-host``), with or without a port. A rebound name is none of these. A request
   without ``Host`` (HTTP/1.0 tools) is not a browser's and passes.
2. **Origin**: a request that carries ``Origin`` (browsers add it to cross-site POSTs and to
   every ``fetch``) must come from such a host too; ``Origin: null`` (sandboxed frames,
   ``file:`` pages) is foreign. Non-browser clients (boto3, the AWS CLI, Terraform) send none.
3. **Content type**: a state-changing admin request (``POST``/``PUT``/``PATCH``/``DELETE``
   under ``/_ecsemu``) must say ``Content-Type: application/json``. A page can send that only
   after a CORS preflight, and ecsemu grants none: no answer ever carries an
   ``Access-Control-Allow-*`` header. (AWS JSON-protocol calls need ``X-Amz-Target``, which
   forces a preflight the same way.)

Everything here is pure: ``RequestGuard.refusal`` reads a WSGI environ and says why it is
refused, or None.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ADMIN_PREFIX = "/_ecsemu"
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MIMETYPE = "application/json"
LOCAL_NAMES = frozenset({"localhost"})


def normalize_name(name: str) -> str:
    """A host name as compared: lower case, without brackets or one trailing dot."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name[:-1] if name.endswith(".") and not name.endswith("..") else name


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header (``"[::1]:4566"`` → ``"::1"``); None when malformed."""
    header = header.strip()
    if header.startswith("["):
        end = header.find("]")
        if end < 0 or (header[end + 1 :] and not _is_port(header[end + 1 :])):
            return None
        return normalize_name(header[: end + 1])
    name, colon, port = header.rpartition(":")
    if not colon:
        name = header
    elif not port.isdigit() or ":" in name:
        return None
    return normalize_name(name) if name else None


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit()


def is_loopback(name: str) -> bool:
    """``localhost``, or a literal address in 127.0.0.0/8 or ::1 (IPv4-mapped too)."""
    if name in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the HTTP status and a message that names the fix."""

    status: int
    message: str


@dataclass(frozen=True)
class RequestGuard:
    """The three rules above, with the names the operator allowed (normalized)."""

    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def allowing(cls, names: Iterable[str]) -> RequestGuard:
        return cls(frozenset(normalize_name(name) for name in names if name.strip()))

    def host_allowed(self, name: str) -> bool:
        return is_loopback(name) or name in self.allowed_hosts

    def origin_allowed(self, origin: str) -> bool:
        try:
            parts = urlsplit(origin.strip())
            hostname = parts.hostname
            parts.port  # noqa: B018 (raises ValueError for a port that is not one)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not hostname:
            return False
        return self.host_allowed(normalize_name(hostname))

    def refusal(self, environ: Mapping[str, Any]) -> Refusal | None:
        """Why the request of ``environ`` must not be answered, or None when it may be."""
        host = environ.get("HTTP_HOST")
        if host is not None:
            name = host_name(host)
            if name is None or not self.host_allowed(name):
                return Refusal(
                    403,
                    f"ecsemu answers only requests addressed to localhost or a loopback address, not Host {host!r}; "
                    "start it with --allowed-host NAME (or ECSEMU_ALLOWED_HOSTS) to allow another name.",
                )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self.origin_allowed(origin):
            return Refusal(403, f"ecsemu does not answer requests from the web origin {origin!r}.")
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/"))
        if method in STATE_CHANGING_METHODS and (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
            mimetype = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
            if mimetype != JSON_MIMETYPE:
                return Refusal(415, f"{method} {path} needs Content-Type: {JSON_MIMETYPE} (send a JSON body, {{}} when empty).")
        return None


def without_cors_grants(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` less any ``Access-Control-Allow-*``: ecsemu grants no cross-origin access."""
    return [(name, value) for name, value in headers if not name.lower().startswith("access-control-allow-")]
