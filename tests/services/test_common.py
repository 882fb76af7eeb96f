"""Page tokens and request digests shared by the services (ecsemu.services.common)."""

from __future__ import annotations

import base64
import json

import pytest

from ecsemu.services.common import page, request_digest


class Bad(Exception):
    pass


def _token(offset: object) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def test_pages_follow_one_another_to_the_end() -> None:
    items = list(range(7))
    first, token = page(items, None, 3, Bad)
    second, token2 = page(items, token, 3, Bad)
    third, token3 = page(items, token2, 3, Bad)
    assert (first, second, third, token3) == ([0, 1, 2], [3, 4, 5], [6], None)


@pytest.mark.parametrize("token", ["not base64!", base64.b64encode(b"[]").decode(), _token("x"), _token(None)])
def test_a_malformed_token_is_the_callers_error(token: str) -> None:
    with pytest.raises(Bad):
        page([1, 2, 3], token, 2, Bad)


def test_a_negative_offset_is_refused_unless_the_service_accepts_it() -> None:
    with pytest.raises(Bad):
        page(list(range(10)), _token(-3), 100, Bad)  # ELBv2's Marker
    assert page(list(range(10)), _token(-3), 100, Bad, negative_ok=True) == ([7, 8, 9], _token(0))  # ECS's nextToken


def test_the_client_token_does_not_change_the_digest() -> None:
    asked = {"cluster": "a", "count": 1}
    assert request_digest({**asked, "clientToken": "t1"}) == request_digest({**asked, "clientToken": "t2"})
    assert request_digest(asked) != request_digest({**asked, "count": 2})
