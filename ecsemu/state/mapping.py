"""A ``MutableMapping`` over one kind of the store, for components that keep a little durable
state of their own (the simulated runtime's containers)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from ecsemu.context import Scope
from ecsemu.state.store import Store

INTERNAL_SCOPE = Scope("_ecsemu", "_internal")


class StoreMapping(MutableMapping[str, dict[str, Any]]):
    def __init__(self, store: Store, kind: str, scope: Scope = INTERNAL_SCOPE) -> None:
        self._store, self._kind, self._scope = store, kind, scope

    def __getitem__(self, key: str) -> dict[str, Any]:
        value = self._store.get(self._scope, self._kind, key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        self._store.put(self._scope, self._kind, key, value)

    def __delitem__(self, key: str) -> None:
        if self._store.get(self._scope, self._kind, key) is None:
            raise KeyError(key)
        self._store.delete(self._scope, self._kind, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.ids(self._scope, self._kind))

    def __len__(self) -> int:
        return self._store.count(self._scope, self._kind)
