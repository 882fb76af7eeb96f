"""Responses the load balancer writes itself: errors, fixed responses, redirects. Pure.

As an ALB answers them: ``Server: awselb/2.0``, a ``Date``, and for errors and redirects the
small HTML page (CRLF line ends; a 503 page is 162 bytes, a 502 page 122, as AWS's are).

* 502 Bad Gateway: the target refused or reset the connection, closed it before answering,
  or answered something that is not HTTP.
* 503 Service Temporarily Unavailable: the chosen target group has no registered target.
* 504 Gateway Time-out: the target did not answer within the idle timeout (or could not be
  connected to within the connection timeout).
* 400/405/414/501/505: the client's request was refused (``http1``, ``request_rules``: as nginx
  answers it); the connection is closed.
"""

from __future__ import annotations

import email.utils
from typing import Final

from ecsemu.lb.model import FixedResponse, Redirect

SERVER: Final = b"awselb/2.0"

REASONS: Final[dict[int, str]] = {
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    408: "Request Time-out",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
    505: "HTTP Version Not Supported",
}

_FIXED_REASONS: Final[dict[int, str]] = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    418: "I'm a teapot",
    429: "Too Many Requests",
}


def reason_phrase(status: int) -> str:
    return REASONS.get(status) or _FIXED_REASONS.get(status) or "Unknown"


def http_date(epoch_s: float) -> bytes:
    return email.utils.formatdate(epoch_s, usegmt=True).encode("ascii")


def html_page(status: int) -> bytes:
    title = f"{status} {reason_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")


def _response(
    status: int,
    date: bytes,
    content_type: bytes,
    body: bytes,
    *,
    keep_alive: bool,
    head_only: bool,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    lines = [
        b"HTTP/1.1 %d %s" % (status, reason_phrase(status).encode("latin-1")),
        b"Server: " + SERVER,
        b"Date: " + date,
        b"Content-Type: " + content_type,
        b"Content-Length: %d" % len(body),
        b"Connection: keep-alive" if keep_alive else b"Connection: close",
    ]
    lines.extend(name + b": " + value for name, value in extra)
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head_only else body)


def error_response(status: int, date: bytes, *, keep_alive: bool, head_only: bool = False) -> bytes:
    return _response(status, date, b"text/html", html_page(status), keep_alive=keep_alive, head_only=head_only)


def fixed_response(action: FixedResponse, date: bytes, *, keep_alive: bool, head_only: bool = False) -> bytes:
    body = action.body.encode("utf-8")
    content_type = action.content_type.encode("latin-1")
    return _response(action.status, date, content_type, body, keep_alive=keep_alive, head_only=head_only)


def redirect_location(action: Redirect, *, protocol: str, host: str, port: int, path: str, query: str) -> str:
    """The ``Location`` of a redirect action; ``#{...}`` keywords take the request's values.

    ``protocol`` is ``"HTTP"`` or ``"HTTPS"``; ``path`` starts with "/" (``#{path}`` drops it);
    ``query`` is without its "?". The port is always written, as an ALB writes it.
    """

    def fill(template: str) -> str:
        return (
            template.replace("#{protocol}", protocol)
            .replace("#{host}", host)
            .replace("#{port}", str(port))
            .replace("#{path}", path.removeprefix("/"))
            .replace("#{query}", query)
        )

    scheme = fill(action.protocol).lower()
    new_path = fill(action.path)
    if not new_path.startswith("/"):
        new_path = "/" + new_path
    new_query = fill(action.query)
    location = f"{scheme}://{fill(action.host)}:{fill(action.port)}{new_path}"
    return f"{location}?{new_query}" if new_query else location


def redirect_response(action: Redirect, location: str, date: bytes, *, keep_alive: bool, head_only: bool = False) -> bytes:
    status = 301 if action.status_code == "HTTP_301" else 302
    return _response(
        status,
        date,
        b"text/html",
        html_page(status),
        keep_alive=keep_alive,
        head_only=head_only,
        extra=((b"Location", location.encode("utf-8")),),
    )
