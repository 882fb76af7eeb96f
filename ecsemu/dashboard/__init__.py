"""The dashboard: a read-only web page over the store, at ``/_ecsemu/ui``.

Two halves, apart:

- ``state.py`` (with ``load_balancers.py``): a pure function of the store that builds the page's
  JSON — clusters, services and their deployments, tasks, load balancers. It reads records
  through the typed models and knows nothing of HTTP.
- ``static/``: the page itself (``index.html``, ``dashboard.js``, ``dashboard.css``), plain files
  shipped in the package: no build step, nothing fetched from anywhere but ecsemu. The script
  polls ``/_ecsemu/ui/api/state`` about once a second and writes every value with
  ``textContent`` (never as HTML).

The gateway (``ecsemu.gateway.dashboard``) serves both; ``STATIC_FILES`` names the only files it
may hand out, with their media types.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

STATIC_FILES: Final = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


def static_file(name: str) -> bytes | None:
    """The bytes of one shipped file; None for any name not in ``STATIC_FILES``."""
    if name not in STATIC_FILES:
        return None
    return resources.files(__name__).joinpath("static", name).read_bytes()
