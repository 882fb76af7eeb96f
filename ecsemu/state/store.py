"""A durable store of JSON records, keyed by scope, kind and id.

Invariants:
- Records are JSON documents. The store keeps each one serialized, so every read returns a
  fresh copy and no caller can mutate what another sees.
- Every write goes to memory and, when a path is given, to SQLite (WAL) before the call
  returns: a record that a write call returned is on disk, even if the process is killed.
- ``transaction()`` makes several reads and writes atomic; writes inside it are committed to
  SQLite together when the outermost transaction ends. A failed transaction leaves every
  record as it was, in its place in the order. Listeners hear of the changed keys after the
  commit, outside the store's lock; a listener that fails is logged and does not undo or fail
  the write, nor keep the other listeners from hearing it.
- Kinds are plain strings chosen by the services ("cluster", "task", ...). Ordering within a
  kind is insertion order (the order ids were first written).
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from ecsemu.context import Scope

log = logging.getLogger(__name__)

Record = dict[str, Any]


class Change(NamedTuple):
    """A key that was written or deleted."""

    scope: Scope
    kind: str
    id: str


Listener = Callable[[list[Change]], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    account TEXT NOT NULL, region TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (account, region, kind, id)
)
"""


class Store:
    """Records in memory, written through to SQLite when ``path`` is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._tables: dict[tuple[Scope, str], dict[str, str]] = {}
        self._seq = 0
        self._depth = 0
        self._pending: builtins.list[Change] = []
        # Memory-only undo images: (key, body before, position in its table before).
        self._undo: builtins.list[tuple[tuple[Scope, str, str], str | None, int]] = []
        self._listeners: builtins.list[Listener] = []
        self._db: sqlite3.Connection | None = None
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._load()

    def _load(self) -> None:
        assert self._db is not None
        rows = self._db.execute("SELECT account, region, kind, id, seq, body FROM records ORDER BY seq")
        for account, region, kind, record_id, seq, body in rows:
            self._tables.setdefault((Scope(account, region), kind), {})[record_id] = body
            self._seq = max(self._seq, seq)

    # -- listeners -----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with the changed keys after each committed write."""
        self._listeners.append(listener)

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store for a read-modify-write; nested calls join the outer one."""
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._undo = []
                if self._db is not None:
                    self._db.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._rollback()
                raise
            self._depth -= 1
            if not outermost:
                return
            if self._db is not None:
                self._db.execute("COMMIT")
            changes, self._pending, self._undo = self._pending, [], []
        if changes:
            for listener in builtins.list(self._listeners):
                try:
                    listener(changes)
                except Exception:  # the write is committed; a listener's bug must not undo that
                    log.exception("store listener %r failed", listener)

    def _rollback(self) -> None:
        # Memory was written as we went; reload the touched tables from the last good state.
        if self._db is not None:
            self._db.execute("ROLLBACK")
            self._tables.clear()
            self._load()
        else:
            # Without SQLite we keep undo images for the transaction, undone newest first.
            for (scope, kind, record_id), body, position in reversed(self._undo):
                table = self._tables.setdefault((scope, kind), {})
                if body is None:
                    table.pop(record_id, None)
                elif record_id in table:
                    table[record_id] = body  # rewritten in place: its position never moved
                else:
                    # It was deleted: put it back where it was, so the order is as before.
                    items = builtins.list(table.items())
                    items.insert(position, (record_id, body))
                    table.clear()
                    table.update(items)
        self._pending = []
        self._undo = []

    # -- reads ---------------------------------------------------------------------------

    def get(self, scope: Scope, kind: str, record_id: str) -> Record | None:
        with self._lock:
            body = self._tables.get((scope, kind), {}).get(record_id)
        return None if body is None else json.loads(body)

    def list(self, scope: Scope, kind: str) -> builtins.list[Record]:
        with self._lock:
            bodies = builtins.list(self._tables.get((scope, kind), {}).values())
        return [json.loads(body) for body in bodies]

    def ids(self, scope: Scope, kind: str) -> builtins.list[str]:
        with self._lock:
            return builtins.list(self._tables.get((scope, kind), {}))

    def scopes(self) -> builtins.list[Scope]:
        with self._lock:
            return sorted({scope for (scope, _kind), table in self._tables.items() if table})

    # -- writes --------------------------------------------------------------------------

    def put(self, scope: Scope, kind: str, record_id: str, record: Record) -> None:
        body = json.dumps(record, separators=(",", ":"))
        with self.transaction():
            table = self._tables.setdefault((scope, kind), {})
            self._remember(scope, kind, record_id, table.get(record_id))
            table[record_id] = body
            if self._db is not None:
                self._seq += 1
                self._db.execute(
                    "INSERT INTO records (account, region, kind, id, seq, body) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT (account, region, kind, id) DO UPDATE SET body = excluded.body",
                    (scope.account_id, scope.region, kind, record_id, self._seq, body),
                )
            self._pending.append(Change(scope, kind, record_id))

    def update(self, scope: Scope, kind: str, record_id: str, change: Callable[[Record], None]) -> Record | None:
        """Apply ``change`` to a copy of the record and store it; None when absent."""
        with self.transaction():
            record = self.get(scope, kind, record_id)
            if record is None:
                return None
            change(record)
            self.put(scope, kind, record_id, record)
            return record

    def delete(self, scope: Scope, kind: str, record_id: str) -> None:
        with self.transaction():
            table = self._tables.get((scope, kind), {})
            if record_id not in table:
                return
            if self._db is None:
                self._remember(scope, kind, record_id, table[record_id], builtins.list(table).index(record_id))
            del table[record_id]
            if self._db is not None:
                self._db.execute(
                    "DELETE FROM records WHERE account=? AND region=? AND kind=? AND id=?",
                    (scope.account_id, scope.region, kind, record_id),
                )
            self._pending.append(Change(scope, kind, record_id))

    def reset(self) -> None:
        """Forget every record of every scope."""
        with self.transaction():
            for (scope, kind), table in self._tables.items():
                for record_id in table:
                    self._pending.append(Change(scope, kind, record_id))
            self._tables.clear()
            self._undo = []
            if self._db is not None:
                self._db.execute("DELETE FROM records")

    def _remember(self, scope: Scope, kind: str, record_id: str, previous: str | None, position: int = -1) -> None:
        """Keep an undo image (memory-only stores); ``position`` matters for deletions only."""
        if self._db is None:
            self._undo.append(((scope, kind, record_id), previous, position))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
