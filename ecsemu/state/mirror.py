"""A reader's mirror of some kinds of the store, kept current from the change feed.

The reconciler reads the same records every round; most did not change since the last one.
A ``Mirror`` asks the store only for the keys changed since its revision
(``Store.read_changes``), decodes only those, and keeps every record between rounds.

Invariants:
- After ``refresh()`` the mirror holds exactly the store's records of its kinds as of one
  revision (a consistent cut: the store collects the changed bodies under its lock in one
  step), in the store's order (births ascending). A key whose birth changed (deleted and
  written again between two refreshes) moves to the end, as it did in the store.
- The store's lock is held only to collect the changed bodies: O(keys changed), not
  O(records). Decoding happens outside it.
- **Readers get copies.** The mirror keeps each record as an immutable image (``marshal``
  bytes of the decoded JSON) and every read builds a fresh object from it. We chose copies
  over sharing decoded objects because the planner does mutate its inputs today (the awsvpc
  path of ``task_lifecycle._toward_stopped`` marks the attachments of the *input* status
  DELETED), and the runtime keeps parts of a launch it is handed; sharing would let one round
  see what another round wrote in passing. A copy from a marshal image costs less than a
  ``json.loads`` of the same record (``bench/store_scaling.py``: a round's read of 20,000
  unchanged tasks, ~360 ms against ~460 ms), and no store lock is held while copying (the
  lock is held ~3 µs instead of the whole read). Once the planner is proved not to mutate its
  inputs, sharing decoded records would make the read nearly free.
- One thread owns a mirror (the reconciler's); it is not thread-safe.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Iterable

from ecsemu.context import Scope
from ecsemu.state.store import Record, Store

Image = tuple[int, bytes]  # (birth, marshal image of the decoded record)


class Mirror:
    def __init__(self, store: Store, kinds: Iterable[str]) -> None:
        self.store = store
        self.kinds = frozenset(kinds)
        self.revision = -1  # nothing read yet: the first refresh is a complete read
        self._tables: dict[tuple[Scope, str], dict[str, Image]] = {}

    def refresh(self) -> int:
        """Catch up with the store; the number of records decoded."""
        changes = self.store.read_changes(self.revision, self.kinds)
        if changes.complete:
            self._tables = {}
        reborn: dict[tuple[Scope, str], list[tuple[int, str, bytes]]] = {}
        for change, birth, body in changes.records:
            table_key = (change.scope, change.kind)
            table = self._tables.setdefault(table_key, {})
            if body is None:
                table.pop(change.id, None)
                continue
            image = marshal.dumps(json.loads(body))
            held = table.get(change.id)
            if held is not None and held[0] == birth:
                table[change.id] = (birth, image)  # rewritten: it keeps its place
            else:
                # New, or born again since the last refresh: later than every record held.
                table.pop(change.id, None)
                reborn.setdefault(table_key, []).append((birth, change.id, image))
        for table_key, rows in reborn.items():
            table = self._tables[table_key]
            for birth, record_id, image in sorted(rows):
                table[record_id] = (birth, image)
        self._tables = {key: table for key, table in self._tables.items() if table}
        self.revision = changes.revision
        return len(changes.records)

    def scopes(self) -> list[Scope]:
        """The scopes holding any record of the mirrored kinds, sorted."""
        return sorted({scope for scope, _kind in self._tables})

    def items(self, scope: Scope, kind: str) -> list[tuple[str, Record]]:
        """``(id, fresh copy)`` pairs, in the store's order."""
        return [
            (record_id, marshal.loads(image))
            for record_id, (_birth, image) in self._tables.get((scope, kind), {}).items()
        ]

    def get(self, scope: Scope, kind: str, record_id: str) -> Record | None:
        held = self._tables.get((scope, kind), {}).get(record_id)
        if held is None:
            return None
        record: Record = marshal.loads(held[1])
        return record

    def count(self, scope: Scope, kind: str) -> int:
        return len(self._tables.get((scope, kind), {}))

    def ids(self, scope: Scope, kind: str) -> list[str]:
        return list(self._tables.get((scope, kind), {}))
