"""The dashboard's routes (``ecsemu.gateway.dashboard``) on a bare Flask app: the page under
its security policy, only the shipped files, the JSON never cached, nothing that writes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ecsemu.dashboard import STATIC_FILES
from ecsemu.gateway.dashboard import register_dashboard


@pytest.fixture
def web() -> FlaskClient:
    app = Flask("dashboard-routes")
    calls: list[int] = []

    def state() -> dict[str, Any]:
        calls.append(1)
        return {"scopes": [{"accountId": "123456789012", "region": "us-east-1", "clusters": [], "n": len(calls)}]}

    register_dashboard(app, state)
    return app.test_client()


@pytest.mark.parametrize("path", ["/_ecsemu/ui", "/_ecsemu/ui/"])
def test_the_page_is_served_under_a_same_origin_policy(web: FlaskClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    assert '<script src="/_ecsemu/ui/static/dashboard.js" defer></script>' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere


def test_only_the_shipped_files_are_served(web: FlaskClient) -> None:
    for name, media_type in STATIC_FILES.items():
        if name == "index.html":
            continue
        response = web.get(f"/_ecsemu/ui/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == media_type
    for name in ("index.html", "state.py", "__init__.py", "..%2F__init__.py", "../__init__.py", "missing.js"):
        assert web.get(f"/_ecsemu/ui/static/{name}").status_code == 404, name


def test_the_state_is_fresh_json_each_time(web: FlaskClient) -> None:
    first, second = web.get("/_ecsemu/ui/api/state"), web.get("/_ecsemu/ui/api/state")
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.headers["Cache-Control"] == "no-store"
    assert first.json is not None and second.json is not None
    assert (first.json["scopes"][0]["n"], second.json["scopes"][0]["n"]) == (1, 2)


@pytest.mark.parametrize("path", ["/_ecsemu/ui", "/_ecsemu/ui/api/state", "/_ecsemu/ui/static/dashboard.js"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_nothing_writes(web: FlaskClient, path: str, method: str) -> None:
    assert web.open(path, method=method).status_code == 405


def test_the_script_never_writes_markup_from_data() -> None:
    from ecsemu.dashboard import static_file  # noqa: PLC0415

    script = (static_file("dashboard.js") or b"").decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script.replace("never innerHTML", ""), sink
