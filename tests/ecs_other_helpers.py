"""Shared by the tests of the ECS resource kinds beside clusters, services and tasks: a refused
call must leave the records it could have written exactly as they were.

Use the ``remember_emulator`` fixture (``pytestmark = pytest.mark.usefixtures(...)``) so that
``stored`` and ``error_of`` know the live emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecsemu.app import Emulator

# The kinds these operations write; a refused call must leave them (and API-written parts of
# clusters and services) exactly as they were.
KINDS = ("account_setting", "container_instance", "capacity_provider", "task_set", "cluster")
_emulator: list[Emulator] = []


@pytest.fixture
def remember_emulator(emulator: Emulator) -> Iterator[None]:
    _emulator.append(emulator)
    yield
    _emulator.clear()


def stored() -> dict[tuple[Any, ...], Any]:
    store = _emulator[0].store
    state: dict[tuple[Any, ...], Any] = {}
    with store.transaction():
        for scope in store.scopes():
            for kind in (*KINDS, "service"):
                for record_id, record in zip(store.ids(scope, kind), store.list(scope, kind), strict=True):
                    state[(scope, kind, record_id)] = record["spec"] if kind == "service" else record
    return state


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    """The (code, message) a refused call answers with; it must have written nothing."""
    before = stored()
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stored() == before, "a refused call changed the store"
    return error["Code"], error["Message"]
