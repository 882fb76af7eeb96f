"""The dashboard's routes on the admin Flask app: the page, its shipped files, its JSON.

- ``GET /_ecsemu/ui`` (and ``/_ecsemu/ui/``): the page (``index.html``), under a
  Content-Security-Policy that allows only ecsemu's own origin (no inline script or style, no
  frames, no form posts).
- ``GET /_ecsemu/ui/static/<name>``: one of ``ecsemu.dashboard.STATIC_FILES`` — nothing else
  is served from the package, whatever the name.
- ``GET /_ecsemu/ui/api/state``: what ``state()`` returns (``ecsemu.dashboard.state``'s
  document), as JSON, never cached.

Invariant: read-only. No route here changes anything, and every answer says
``X-Content-Type-Options: nosniff`` (a JSON answer is never read as a script or a page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from flask import Flask, Response, jsonify

from ecsemu.dashboard import STATIC_FILES, static_file

PAGE_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _file_response(name: str) -> Response:
    body = static_file(name)
    if body is None:
        return Response("not found\n", status=404, mimetype="text/plain")
    response = Response(body, content_type=STATIC_FILES[name])
    response.headers["Cache-Control"] = "no-cache"
    return response


def _hardened(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


def register_dashboard(admin: Flask, state: Callable[[], dict[str, Any]]) -> None:
    """Add the dashboard's read-only routes to ``admin``; ``state`` builds the page's JSON."""

    @admin.get("/_ecsemu/ui")
    @admin.get("/_ecsemu/ui/")
    def dashboard_page() -> Response:
        return _hardened(_file_response("index.html"))

    @admin.get("/_ecsemu/ui/static/<name>")
    def dashboard_static(name: str) -> Response:
        if name == "index.html":  # the page has its own address
            return _hardened(Response("not found\n", status=404, mimetype="text/plain"))
        return _hardened(_file_response(name))

    @admin.get("/_ecsemu/ui/api/state")
    def dashboard_api_state() -> Response:
        response = jsonify(state())
        response.headers["Cache-Control"] = "no-store"
        return _hardened(response)
