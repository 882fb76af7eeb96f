"""What the store's tests share: two scopes, a store of each flavour, and an error to abort with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ecsemu.context import Scope
from ecsemu.state.store import Store

A = Scope("111111111111", "us-east-1")
B = Scope("222222222222", "eu-west-1")
FLAVOURS = ["memory", "sqlite"]


class Boom(Exception):
    """Raised inside a transaction to make it fail."""


def open_store(flavour: str, tmp_path: Path) -> Iterator[Store]:
    """A memory-only or a durable (SQLite) store, closed after the test."""
    instance = Store(None if flavour == "memory" else tmp_path / "state.sqlite3")
    yield instance
    instance.close()
