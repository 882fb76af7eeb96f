"""Asserting that refused API calls change nothing: a snapshot of what the API wrote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecsemu.app import Emulator


def stored(emulator: Emulator) -> dict[tuple[Any, ...], Any]:
    """Everything the API wrote (a service's or task's spec; the reconciler owns status)."""
    store = emulator.store
    state: dict[tuple[Any, ...], Any] = {}
    with store.transaction():
        for scope in store.scopes():
            for kind in ("cluster", "taskdef", "taskdef_family", "service", "task"):
                for record_id, record in zip(store.ids(scope, kind), store.list(scope, kind), strict=True):
                    state[(scope, kind, record_id)] = record["spec"] if kind in ("service", "task") else record
    return state


@contextmanager
def refused(emulator: Emulator, code: str, message: str | None = None) -> Iterator[None]:
    """The call inside fails with ``code`` (and ``message``) and writes nothing at all."""
    before = stored(emulator)
    with pytest.raises(ClientError) as caught:
        yield
    error = caught.value.response["Error"]
    assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400), error
    if message is not None:
        assert error["Message"] == message
    assert stored(emulator) == before
