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
- Two ways to read. ``shared_items`` hands out the mirror's own decoded objects, the same
  ones every round until the record changes: nothing is decoded or copied for an unchanged
  record, so a round's read costs O(records changed). Their reader must treat them as
  read-only — the planner does (it builds new status objects; see ``ecsemu.reconcile.plan``).
  ``items`` and ``get`` build a fresh copy (through ``marshal``, cheaper than ``json``) for a
  reader that may keep or change what it gets.
- With ``verify=True`` (the test suite turns it on) the mirror also keeps an immutable image
  (``marshal`` bytes) of each record as decoded, and ``verify_shared`` (run by the reconciler at
  the end of every round) compares each shared object with it; one that changed is logged and
  counted in ``Mirror.mutations``, so a reader that broke the read-only rule fails the tests in
  the round it did so, instead of corrupting later rounds.
- The store's lock is held only to collect the changed bodies (~3 µs a round).
- One thread owns a mirror (the reconciler's); it is not thread-safe.
"""

from __future__ import annotations

import json
import logging
import marshal
from collections.abc import Iterable
from typing import ClassVar, NamedTuple

from ecsemu.context import Scope
from ecsemu.state.store import Record, Store

log = logging.getLogger(__name__)


class Held(NamedTuple):
    birth: int
    shared: Record  # the decoded record handed out by shared_items: read-only by contract
    image: bytes | None  # with verify: a marshal image of it as decoded, to check it against


class Mirror:
    mutations: ClassVar[list[str]] = []  # shared records found changed (with verify=True)

    def __init__(self, store: Store, kinds: Iterable[str], *, verify: bool = False) -> None:
        self.store = store
        self.kinds = frozenset(kinds)
        self.verify = verify
        self.revision = -1  # nothing read yet: the first refresh is a complete read
        self._tables: dict[tuple[Scope, str], dict[str, Held]] = {}

    def verify_shared(self) -> None:
        """With ``verify``: note (log, ``Mirror.mutations``) every shared record that differs from
        what was decoded. The reconciler calls it at the end of each round."""
        if not self.verify:
            return
        for (scope, kind), table in self._tables.items():
            for record_id, held in table.items():
                if held.image is not None and marshal.loads(held.image) != held.shared:
                    what = f"{scope.account_id}/{scope.region} {kind} {record_id}"
                    log.error("a reader changed the shared record %s", what)
                    Mirror.mutations.append(what)

    def refresh(self) -> int:
        """Catch up with the store; the number of records decoded."""
        changes = self.store.read_changes(self.revision, self.kinds)
        if changes.complete:
            self._tables = {}
        reborn: dict[tuple[Scope, str], list[tuple[int, str, Held]]] = {}
        for change, birth, body in changes.records:
            table_key = (change.scope, change.kind)
            table = self._tables.setdefault(table_key, {})
            if body is None:
                table.pop(change.id, None)
                continue
            decoded = json.loads(body)
            fresh = Held(birth, decoded, marshal.dumps(decoded) if self.verify else None)
            held = table.get(change.id)
            if held is not None and held.birth == birth:
                table[change.id] = fresh  # rewritten: it keeps its place
            else:
                # New, or born again since the last refresh: later than every record held.
                table.pop(change.id, None)
                reborn.setdefault(table_key, []).append((birth, change.id, fresh))
        for table_key, rows in reborn.items():
            table = self._tables[table_key]
            for _birth, record_id, fresh in sorted(rows, key=lambda row: row[0]):
                table[record_id] = fresh
        self._tables = {key: table for key, table in self._tables.items() if table}
        self.revision = changes.revision
        return len(changes.records)

    def scopes(self) -> list[Scope]:
        """The scopes holding any record of the mirrored kinds, sorted."""
        return sorted({scope for scope, _kind in self._tables})

    def shared_items(self, scope: Scope, kind: str) -> list[tuple[str, Record]]:
        """``(id, record)`` pairs in the store's order, the mirror's own objects: read-only."""
        return [(record_id, held.shared) for record_id, held in self._tables.get((scope, kind), {}).items()]

    def items(self, scope: Scope, kind: str) -> list[tuple[str, Record]]:
        """``(id, fresh copy)`` pairs, in the store's order."""
        return [(record_id, _copy(held)) for record_id, held in self._tables.get((scope, kind), {}).items()]

    def get(self, scope: Scope, kind: str, record_id: str) -> Record | None:
        """A fresh copy of one record, or None."""
        held = self._tables.get((scope, kind), {}).get(record_id)
        if held is None:
            return None
        return _copy(held)

    def count(self, scope: Scope, kind: str) -> int:
        return len(self._tables.get((scope, kind), {}))

    def ids(self, scope: Scope, kind: str) -> list[str]:
        return list(self._tables.get((scope, kind), {}))


def _copy(held: Held) -> Record:
    record: Record = marshal.loads(held.image if held.image is not None else marshal.dumps(held.shared))
    return record
