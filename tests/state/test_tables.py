"""Unit tests of ecsemu.state.tables with an example table of time-ordered events (as CloudWatch
Logs will keep them): scoped rows, indexed range reads, atomic and durable writes shared with the
store's transactions, retention, and the checks on declarations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import FLAVOURS, A, B, Boom, open_store

from ecsemu.state.store import Store
from ecsemu.state.tables import SideTable, SideTableError, TableSpec

EVENTS = TableSpec(
    "example_events",
    columns=(("log_group", "TEXT"), ("timestamp", "INTEGER"), ("message", "TEXT")),
    indexes=(("log_group", "timestamp"),),
)


@pytest.fixture(params=FLAVOURS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(request.param, tmp_path)


def events_of(count: int, group: str = "g", start: int = 0) -> list[dict[str, object]]:
    return [{"log_group": group, "timestamp": start + n, "message": f"m{n}"} for n in range(count)]


def test_rows_are_read_by_range_in_order_within_their_scope(store: Store) -> None:
    events = SideTable(store, EVENTS)
    events.insert(A, events_of(5))
    events.insert(A, events_of(2, group="other"))
    events.insert(B, events_of(3))
    rows = events.select(A, "log_group = ? AND timestamp >= ?", ("g", 2), order_by="timestamp DESC", limit=2)
    assert rows == [
        {"log_group": "g", "timestamp": 4, "message": "m4"},
        {"log_group": "g", "timestamp": 3, "message": "m3"},
    ]
    assert events.count(A) == 7
    assert events.count(B) == 3
    assert events.count(A, "log_group = ?", ("other",)) == 2
    assert events.delete(A, "log_group = ?", ("other",)) == 2
    assert events.count(B) == 3


def test_range_reads_use_the_declared_index(store: Store) -> None:
    events = SideTable(store, EVENTS)
    with store.sql() as connection:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM example_events WHERE account=? AND region=? AND log_group=? AND timestamp>=?",
            ("a", "r", "g", 0),
        ).fetchall()
    assert any("example_events__log_group__timestamp" in str(row) for row in plan)
    assert events.count(A) == 0


def test_side_writes_roll_back_with_the_records_of_the_same_transaction(store: Store) -> None:
    events = SideTable(store, EVENTS)
    events.insert(A, events_of(1))
    with pytest.raises(Boom), store.transaction():
        events.insert(A, events_of(3, start=10))
        store.put(A, "task", "c1/t", {})
        raise Boom
    assert events.count(A) == 1
    assert store.get(A, "task", "c1/t") is None
    with store.transaction():
        events.insert(A, events_of(1, start=20))
        store.put(A, "task", "c1/t", {})
    assert events.count(A) == 2


def test_side_rows_are_durable_in_the_store_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Store(path)
    SideTable(first, EVENTS).insert(A, events_of(4))
    # As if the process were killed now: a second reader of the file sees the committed rows.
    reader = sqlite3.connect(str(path))
    try:
        assert reader.execute("SELECT COUNT(*) FROM example_events").fetchone()[0] == 4
    finally:
        reader.close()
    first.close()
    second = Store(path)
    try:
        assert [row["message"] for row in SideTable(second, EVENTS).select(A)] == ["m0", "m1", "m2", "m3"]
    finally:
        second.close()


def test_retention_expires_old_rows_and_caps_a_selection(store: Store) -> None:
    events = SideTable(store, EVENTS)
    events.insert(A, events_of(10))
    events.insert(B, events_of(10))
    assert events.expire("timestamp", 3, scope=A) == 3
    assert events.expire("timestamp", 2) == 2  # every scope: only B still had rows below 2
    assert events.cap(A, 4, newest_by="timestamp", where="log_group = ?", params=("g",)) == 3
    assert [row["timestamp"] for row in events.select(A, order_by="timestamp")] == [6, 7, 8, 9]
    assert events.count(B) == 8
    with pytest.raises(SideTableError):
        events.expire("nope", 1)


def test_reset_empties_side_tables(store: Store) -> None:
    events = SideTable(store, EVENTS)
    events.insert(A, events_of(3))
    store.reset()
    assert events.count(A) == 0


@pytest.mark.parametrize(
    "spec",
    [
        TableSpec("records", columns=(("a", "TEXT"),)),
        TableSpec("Bad-Name", columns=(("a", "TEXT"),)),
        TableSpec("t", columns=(("a", "TEXT"), ("a", "INTEGER"))),
        TableSpec("t", columns=(("account", "TEXT"),)),
        TableSpec("t", columns=(("a", "JSON"),)),
        TableSpec("t", columns=(("a", "TEXT"),), indexes=(("b",),)),
    ],
)
def test_bad_declarations_are_refused(store: Store, spec: TableSpec) -> None:
    with pytest.raises(SideTableError):
        SideTable(store, spec)


def test_a_declaration_that_differs_from_the_stored_table_is_refused(store: Store) -> None:
    SideTable(store, EVENTS)
    with pytest.raises(SideTableError, match="stored table"):
        SideTable(store, TableSpec("example_events", columns=(("log_group", "TEXT"),)))


def test_declaring_inside_a_transaction_is_refused(store: Store) -> None:
    with pytest.raises(SideTableError), store.transaction():
        SideTable(store, EVENTS)
