"""Side tables: a service's own indexed SQLite table, for high-volume data.

Log events, metric datapoints, alarm history and queue messages are many, small and read by
range ("group G between t1 and t2", "the next 10 visible messages"). Held as JSON records in
memory they would cost memory and a decode each; a side table keeps them as rows, with the
indexes the service's reads need, and a retention rule.

Use (a service module, once, at start-up, outside any transaction)::

    EVENTS = TableSpec(
        "logs_events",
        columns=(("log_group", "TEXT"), ("timestamp", "INTEGER"), ("message", "TEXT")),
        indexes=(("log_group", "timestamp"),),
    )
    events = SideTable(store, EVENTS)
    events.insert(scope, [{"log_group": "g", "timestamp": 1, "message": "hi"}])
    events.select(scope, "log_group = ? AND timestamp >= ?", ("g", 0), order_by="timestamp")

Invariants:
- A side table lives where the store's records live: in the store's SQLite file when the
  store is durable, in a private in-memory SQLite database when it is not (``--ephemeral``).
- Every call runs inside ``Store.transaction()``: writes are atomic with the record writes of
  the same transaction (one COMMIT, durable as records are; a failed transaction ROLLs BACK
  both), and a call outside a transaction is a transaction of its own.
- Rows are scoped: every table has ``account`` and ``region`` columns first, filled from the
  scope, and every declared index starts with them, so a scope never reads another's rows.
- Table, column and index names are checked identifiers (lowercase, digits, ``_``); values only
  ever travel as SQL parameters. ``where`` and ``order_by`` are SQL fragments written by the
  service itself, never by a caller.
- Side-table writes are not announced to store listeners (they are not records); ``reset()``
  of the store empties every side table.
- Retention: ``expire`` drops rows older than a bound, ``cap`` keeps only the newest N rows of
  a selection; the service decides when to call them (typically on write).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsemu.context import Scope
from ecsemu.state.store import Store

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TYPES = frozenset({"TEXT", "INTEGER", "REAL", "BLOB"})
_RESERVED = frozenset({"records", "account", "region", "rowid"})
SCOPE_COLUMNS = ("account", "region")


class SideTableError(Exception):
    """A table declaration that cannot be honoured (bad name, clash with the stored schema)."""


@dataclass(frozen=True)
class TableSpec:
    """A side table: its name, its columns ``(name, SQLite type)`` and its indexes (column tuples)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    def check(self) -> None:
        names = [self.name, *(column for column, _type in self.columns)]
        for name in names:
            if not _IDENTIFIER.match(name) or name in _RESERVED:
                raise SideTableError(f"not a usable side-table identifier: {name!r}")
        if len(set(names[1:])) != len(self.columns):
            raise SideTableError(f"{self.name}: a column is declared twice")
        for column, sql_type in self.columns:
            if sql_type not in _TYPES:
                raise SideTableError(f"{self.name}.{column}: type {sql_type!r} is not one of {sorted(_TYPES)}")
        known = {column for column, _type in self.columns}
        for index in self.indexes:
            if not index or any(column not in known for column in index):
                raise SideTableError(f"{self.name}: index {index!r} names an unknown column")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column for column, _type in self.columns)


class SideTable:
    """One declared side table of ``store``; creating it creates the table and its indexes."""

    def __init__(self, store: Store, spec: TableSpec) -> None:
        spec.check()
        if store.in_transaction():
            raise SideTableError("declare side tables at start-up, outside a transaction")
        self.store, self.spec = store, spec
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in spec.columns)
        with store.sql() as connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {spec.name} (account TEXT NOT NULL, region TEXT NOT NULL, {columns})"
            )
            stored = [row[1] for row in connection.execute(f"PRAGMA table_info({spec.name})")]
            if stored != [*SCOPE_COLUMNS, *spec.column_names]:
                raise SideTableError(f"{spec.name}: the stored table has columns {stored}, not the declared ones")
            for index in spec.indexes:
                index_name = f"{spec.name}__{'__'.join(index)}"
                connection.execute(
                    f"CREATE INDEX IF NOT EXISTS {index_name} ON {spec.name} (account, region, {', '.join(index)})"
                )
        store.register_side_table(spec.name)

    def _scoped(self, where: str) -> str:
        return "account = ? AND region = ?" + (f" AND ({where})" if where else "")

    def insert(self, scope: Scope, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add rows (every declared column must be given; missing ones are NULL)."""
        names = self.spec.column_names
        placeholders = ", ".join("?" for _ in range(len(names) + 2))
        sql = f"INSERT INTO {self.spec.name} (account, region, {', '.join(names)}) VALUES ({placeholders})"
        values = [(scope.account_id, scope.region, *(row.get(name) for name in names)) for row in rows]
        with self.store.sql() as connection:
            connection.executemany(sql, values)

    def select(
        self,
        scope: Scope,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        order_by: str = "rowid",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The scope's rows matching ``where``, as dicts of the declared columns."""
        names = self.spec.column_names
        sql = f"SELECT {', '.join(names)} FROM {self.spec.name} WHERE {self._scoped(where)} ORDER BY {order_by}"
        arguments: list[Any] = [scope.account_id, scope.region, *params]
        if limit is not None:
            sql += " LIMIT ?"
            arguments.append(limit)
        with self.store.sql() as connection:
            rows = connection.execute(sql, arguments).fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]

    def count(self, scope: Scope, where: str = "", params: Sequence[Any] = ()) -> int:
        with self.store.sql() as connection:
            row = connection.execute(
                f"SELECT COUNT(*) FROM {self.spec.name} WHERE {self._scoped(where)}",
                (scope.account_id, scope.region, *params),
            ).fetchone()
        return int(row[0])

    def delete(self, scope: Scope, where: str = "", params: Sequence[Any] = ()) -> int:
        """Delete the scope's rows matching ``where``; the number deleted."""
        with self.store.sql() as connection:
            cursor = connection.execute(
                f"DELETE FROM {self.spec.name} WHERE {self._scoped(where)}", (scope.account_id, scope.region, *params)
            )
        return cursor.rowcount

    # -- retention -------------------------------------------------------------------------

    def expire(self, column: str, before: Any, scope: Scope | None = None) -> int:
        """Drop the rows (of every scope, or of ``scope``) whose ``column`` is below ``before``."""
        self._require_column(column)
        if scope is not None:
            return self.delete(scope, f"{column} < ?", (before,))
        with self.store.sql() as connection:
            cursor = connection.execute(f"DELETE FROM {self.spec.name} WHERE {column} < ?", (before,))
        return cursor.rowcount

    def cap(self, scope: Scope, keep: int, *, newest_by: str, where: str = "", params: Sequence[Any] = ()) -> int:
        """Keep only the ``keep`` newest rows (by ``newest_by``, then insertion) of the selection."""
        self._require_column(newest_by)
        scoped = self._scoped(where)
        sql = (
            f"DELETE FROM {self.spec.name} WHERE {scoped} AND rowid NOT IN ("
            f"SELECT rowid FROM {self.spec.name} WHERE {scoped} ORDER BY {newest_by} DESC, rowid DESC LIMIT ?)"
        )
        arguments = (scope.account_id, scope.region, *params) * 2 + (keep,)
        with self.store.sql() as connection:
            cursor = connection.execute(sql, arguments)
        return cursor.rowcount

    def _require_column(self, column: str) -> None:
        if column not in self.spec.column_names:
            raise SideTableError(f"{self.spec.name} has no column {column!r}")
