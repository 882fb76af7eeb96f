"""A durable store of JSON records, keyed by scope, kind and id.

Vocabulary (see also ``changes.py``): a **kind** is a plain string chosen by a service
("cluster", "task", ...); a record's **birth** is the seq of the write that created it; an id
of the form ``<head>/<rest>`` is **under** ``<head>`` (ECS ids are ``<cluster>/<task id>``,
``<cluster>/<service>``, ``<cluster>/<service>/<task set>``, so "under" is "in the cluster").

Invariants:
- Records are JSON documents. The store keeps each one serialized, so every read returns a
  fresh copy and no caller can mutate what another sees.
- Every write goes to memory and, when a path is given, to SQLite (WAL) before the call
  returns: a record that a write call returned is on disk, even if the process is killed.
- Ordering within a kind is insertion order (the order ids were first written), which is the
  order of births: a rewrite keeps its place, a deleted id written again goes last.
- Each kind has a secondary index per head (``under``): the same entries, in the same order,
  for the ids under that head. ``ids/list/items/count(..., under=h)`` cost O(records under h),
  whatever the number under other heads. Every write, rollback, reset and load keeps the two in
  step.
- ``transaction()`` makes several reads and writes atomic; writes inside it are committed to
  SQLite together when the outermost transaction ends. A failed transaction leaves every
  record as it was, in its place in the order: each write keeps an undo image (the entry it
  replaced) and a rollback restores those images, newest first, and ROLLs BACK SQLite's own
  transaction. Its cost is O(records touched); only a rollback that brings back a deleted
  record re-sorts that one kind (and head) by birth, which timsort does in linear time.
- ``snapshot()`` makes one API call's reads consistent: they all see one revision (no other
  thread's write lands between them). The gateway runs every call inside one.
- Listeners hear of the changed keys after the commit, outside the store's lock; a listener
  that fails is logged and does not undo or fail the write, nor keep the other listeners from
  hearing it.
- Incremental readers use ``read_changes(revision, kinds)``: the keys changed since their last
  revision with their JSON bodies, collected under the lock in one step (a consistent cut),
  decoded by the reader outside it (``mirror.py``: the reconciler's reader, which hands the
  planner copies rather than shared objects; its docstring says why). A rolled-back write re-announces the keys it touched in
  the feed (with their restored bodies): readers may see a change that changed nothing,
  never miss one.
- A durable store's directory is 0700 and its database files 0600 (``files.py``); a database
  that cannot be opened raises ``DataDirectoryError``.
- Side tables (``tables.py``) share the store's transactions: on the store's own SQLite
  connection when durable, on a private in-memory SQLite database when not.
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecsemu.context import Scope
from ecsemu.state.changes import Change, ChangedRecord, ChangeLog, ChangeSet
from ecsemu.state.files import DataDirectoryError, narrow_if_present, private_directory, private_file

__all__ = ["Change", "ChangeSet", "ChangedRecord", "Entry", "Listener", "Record", "Store", "head_of"]

log = logging.getLogger(__name__)

Record = dict[str, Any]
Listener = Callable[[list[Change]], None]
Entry = tuple[int, str]  # (birth, JSON body)
Table = dict[str, Entry]
TableKey = tuple[Scope, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    account TEXT NOT NULL, region TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (account, region, kind, id)
)
"""


def head_of(record_id: str) -> str | None:
    """The head an id is under (``"c1"`` for ``"c1/abc"``); None for ids without a ``/``."""
    head, slash, _rest = record_id.partition("/")
    return head if slash else None


def _birth(item: tuple[str, Entry]) -> int:
    return item[1][0]


@dataclass
class _Reset:
    """The undo image of a reset: the tables as they were."""

    tables: dict[TableKey, Table]
    heads: dict[TableKey, dict[str, Table]]


_Undo = tuple[Change, Entry | None] | _Reset


class Store:
    """Records in memory, written through to SQLite when ``path`` is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._tables: dict[TableKey, Table] = {}
        self._heads: dict[TableKey, dict[str, Table]] = {}
        self._seq = 0
        self._depth = 0
        self._pending: builtins.list[Change] = []
        self._reading = 0  # depth of snapshot() (the thread holding the lock is inside one)
        self._deferred: builtins.list[Change] = []  # committed inside a snapshot, told at its end
        self._undo: builtins.list[_Undo] = []
        self._log = ChangeLog()
        self._listeners: builtins.list[Listener] = []
        self._db: sqlite3.Connection | None = None
        self._side_db: sqlite3.Connection | None = None  # side tables of a memory-only store
        self._side_tables: builtins.list[str] = []
        self.path = path
        if path is not None:
            self._open(path)

    def _open(self, path: Path) -> None:
        """Open (or create) the database, private to its owner (``files.py``)."""
        private_directory(path.parent)
        private_file(path)
        for suffix in ("-wal", "-shm"):
            narrow_if_present(path.with_name(path.name + suffix))
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._load()
        except sqlite3.DatabaseError as error:
            raise DataDirectoryError(f"{path}: {error}") from error

    def _load(self) -> None:
        assert self._db is not None
        rows = self._db.execute("SELECT account, region, kind, id, seq, body FROM records ORDER BY seq")
        for account, region, kind, record_id, seq, body in rows:
            key = Change(Scope(account, region), kind, record_id)
            self._set(key, (seq, body))
            self._log.stamp(key, seq)
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
            try:
                for connection in (self._db, self._side_db):
                    if connection is not None and connection.in_transaction:
                        connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            changes, self._pending, self._undo = self._pending, [], []
            if self._reading:  # inside a snapshot: its end tells the listeners, outside the lock
                self._deferred.extend(changes)
                changes = []
        self._notify(changes)

    def _notify(self, changes: builtins.list[Change]) -> None:
        if changes:
            for listener in builtins.list(self._listeners):
                try:
                    listener(changes)
                except Exception:  # the write is committed; a listener's bug must not undo that
                    log.exception("store listener %r failed", listener)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Hold the store still for one API call: every read inside sees the same revision, so
        counts read beside the records they count always agree with them. Writers on other
        threads wait until it ends. Transactions inside it commit as usual when they end (a
        write is durable before the call answers); their listeners hear of them when the
        outermost snapshot ends, outside the lock. Nests, and joins an enclosing transaction."""
        deferred: builtins.list[Change] = []
        try:
            with self._lock:
                self._reading += 1
                try:
                    yield
                finally:
                    self._reading -= 1
                    if self._reading == 0:
                        deferred, self._deferred = self._deferred, []
        finally:  # a call that failed after committing a write still tells of it
            self._notify(deferred)

    def in_transaction(self) -> bool:
        """Whether the calling thread is inside ``transaction()``."""
        with self._lock:
            return self._depth > 0

    def _rollback(self) -> None:
        """Undo this transaction's writes, newest first: O(records touched)."""
        for connection in (self._db, self._side_db):
            if connection is not None and connection.in_transaction:
                connection.execute("ROLLBACK")
        disordered: set[tuple[TableKey, str | None]] = set()
        touched: dict[Change, None] = {}
        for image in reversed(self._undo):
            if isinstance(image, _Reset):
                self._tables, self._heads = image.tables, image.heads
                disordered.clear()  # those were the tables the reset had started afresh
                continue
            key, previous = image
            touched[key] = None
            if previous is None:
                self._unset(key)
                continue
            if key.id not in self._tables.get((key.scope, key.kind), {}):
                # A deletion undone: the entry comes back at the end, then goes to its place
                # (unless the end is its place: it was the youngest of its kind and head).
                table_key, head = (key.scope, key.kind), head_of(key.id)
                views = [self._tables.get(table_key, {})]
                if head is not None:
                    views.append(self._heads.get(table_key, {}).get(head, {}))
                if any(view and next(reversed(view.values()))[0] > previous[0] for view in views):
                    disordered.add((table_key, head))
            self._set(key, previous)
        for table_key, head in disordered:
            self._reorder(table_key, head)
        for key in touched:
            self._seq += 1
            self._log.stamp(key, self._seq)
        self._pending = []
        self._undo = []

    def _reorder(self, table_key: TableKey, head: str | None) -> None:
        """Sort one kind, and one head of it, by birth (an older undo may have emptied them)."""
        if table_key in self._tables:
            self._tables[table_key] = dict(sorted(self._tables[table_key].items(), key=_birth))
        heads = self._heads.get(table_key, {})
        if head is not None and head in heads:
            heads[head] = dict(sorted(heads[head].items(), key=_birth))

    # -- the two indexes, kept in step ---------------------------------------------------

    def _set(self, key: Change, entry: Entry) -> None:
        table_key = (key.scope, key.kind)
        self._tables.setdefault(table_key, {})[key.id] = entry
        head = head_of(key.id)
        if head is not None:
            self._heads.setdefault(table_key, {}).setdefault(head, {})[key.id] = entry

    def _unset(self, key: Change) -> None:
        table_key = (key.scope, key.kind)
        table = self._tables.get(table_key)
        if table is None or table.pop(key.id, None) is None:
            return
        if not table:
            del self._tables[table_key]
        head = head_of(key.id)
        if head is not None:
            heads = self._heads[table_key]
            under = heads[head]
            del under[key.id]
            if not under:
                del heads[head]
                if not heads:
                    del self._heads[table_key]

    def _is_live(self, key: Change) -> bool:
        return key.id in self._tables.get((key.scope, key.kind), {})

    def _view(self, scope: Scope, kind: str, under: str | None) -> Table:
        if under is None:
            return self._tables.get((scope, kind), {})
        return self._heads.get((scope, kind), {}).get(under, {})

    # -- reads ---------------------------------------------------------------------------

    def get(self, scope: Scope, kind: str, record_id: str) -> Record | None:
        with self._lock:
            entry = self._tables.get((scope, kind), {}).get(record_id)
        return None if entry is None else json.loads(entry[1])

    def list(self, scope: Scope, kind: str, under: str | None = None) -> builtins.list[Record]:
        """The kind's records in order; with ``under``, only the ids ``<under>/...``."""
        with self._lock:
            bodies = [body for _birth, body in self._view(scope, kind, under).values()]
        return [json.loads(body) for body in bodies]

    def items(self, scope: Scope, kind: str, under: str | None = None) -> builtins.list[tuple[str, Record]]:
        """``(id, record)`` pairs in order; with ``under``, only the ids ``<under>/...``."""
        with self._lock:
            entries = builtins.list(self._view(scope, kind, under).items())
        return [(record_id, json.loads(body)) for record_id, (_birth, body) in entries]

    def ids(self, scope: Scope, kind: str, under: str | None = None) -> builtins.list[str]:
        with self._lock:
            return builtins.list(self._view(scope, kind, under))

    def count(self, scope: Scope, kind: str, under: str | None = None) -> int:
        with self._lock:
            return len(self._view(scope, kind, under))

    def scopes(self) -> builtins.list[Scope]:
        with self._lock:
            return sorted({scope for (scope, _kind), table in self._tables.items() if table})

    @property
    def revision(self) -> int:
        """The seq of the latest write (see ``changes.py``)."""
        with self._lock:
            return self._seq

    def read_changes(self, since: int, kinds: Iterable[str]) -> ChangeSet:
        """The records of ``kinds`` changed after revision ``since``, bodies as stored (JSON)."""
        wanted = frozenset(kinds)
        with self._lock:
            changed = self._log.since(since)
            if changed is None:
                records = [
                    ChangedRecord(Change(scope, kind, record_id), birth, body)
                    for (scope, kind), table in self._tables.items()
                    if kind in wanted
                    for record_id, (birth, body) in table.items()
                ]
                return ChangeSet(self._seq, complete=True, records=records)
            records = []
            for key in changed:
                if key.kind not in wanted:
                    continue
                entry = self._tables.get((key.scope, key.kind), {}).get(key.id)
                records.append(ChangedRecord(key, 0, None) if entry is None else ChangedRecord(key, *entry))
            return ChangeSet(self._seq, complete=False, records=records)

    # -- writes --------------------------------------------------------------------------

    def put(self, scope: Scope, kind: str, record_id: str, record: Record) -> None:
        body = json.dumps(record, separators=(",", ":"))
        key = Change(scope, kind, record_id)
        with self.transaction():
            previous = self._tables.get((scope, kind), {}).get(record_id)
            self._undo.append((key, previous))
            self._seq += 1
            birth = self._seq if previous is None else previous[0]
            self._set(key, (birth, body))
            self._log.stamp(key, self._seq)
            if self._db is not None:
                self._db.execute(
                    "INSERT INTO records (account, region, kind, id, seq, body) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT (account, region, kind, id) DO UPDATE SET body = excluded.body",
                    (scope.account_id, scope.region, kind, record_id, birth, body),
                )
            self._pending.append(key)

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
        key = Change(scope, kind, record_id)
        with self.transaction():
            previous = self._tables.get((scope, kind), {}).get(record_id)
            if previous is None:
                return
            self._undo.append((key, previous))
            self._unset(key)
            self._seq += 1
            self._log.deleted(key, self._seq, self._is_live)
            if self._db is not None:
                self._db.execute(
                    "DELETE FROM records WHERE account=? AND region=? AND kind=? AND id=?",
                    (scope.account_id, scope.region, kind, record_id),
                )
            self._pending.append(key)

    def reset(self) -> None:
        """Forget every record of every scope, and every row of every side table."""
        with self.transaction():
            for (scope, kind), table in self._tables.items():
                for record_id in table:
                    self._pending.append(Change(scope, kind, record_id))
            self._undo.append(_Reset(self._tables, self._heads))
            self._tables, self._heads = {}, {}
            self._seq += 1
            self._log.forget_all(self._seq)
            if self._db is not None:
                self._db.execute("DELETE FROM records")
            if self._side_tables:
                with self.sql() as connection:
                    for name in self._side_tables:
                        connection.execute(f"DELETE FROM {name}")  # names are checked identifiers (tables.py)

    # -- side tables (see tables.py) -----------------------------------------------------

    @contextmanager
    def sql(self) -> Iterator[sqlite3.Connection]:
        """The SQLite connection side tables live on, inside this store's transaction."""
        with self.transaction():
            if self._db is not None:
                yield self._db
                return
            if self._side_db is None:
                self._side_db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            if not self._side_db.in_transaction:
                self._side_db.execute("BEGIN")
            yield self._side_db

    def register_side_table(self, name: str) -> None:
        """Remember a side table so that ``reset()`` empties it too."""
        with self._lock:
            if name not in self._side_tables:
                self._side_tables.append(name)

    def close(self) -> None:
        with self._lock:
            for connection in (self._db, self._side_db):
                if connection is not None:
                    connection.close()
            self._db = self._side_db = None
