"""Unit tests of ecsemu.state.store: reads are copies, transactions are atomic and roll back
(memory-only and SQLite alike), writes survive a reopen, listeners hear committed keys only."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_support import FLAVOURS, A, B, Boom, open_store

from ecsemu.context import Scope
from ecsemu.state.store import Change, Store


@pytest.fixture(params=FLAVOURS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(request.param, tmp_path)


def contents(store: Store, scope: Scope = A, kind: str = "task") -> list[tuple[str, dict[str, Any]]]:
    """The kind's records in the store's order, ids beside them."""
    return list(zip(store.ids(scope, kind), store.list(scope, kind), strict=True))


# -- reads and writes ------------------------------------------------------------------------


def test_put_then_get_list_ids(store: Store) -> None:
    store.put(A, "task", "c/1", {"n": 1})
    store.put(A, "task", "c/2", {"n": 2})
    assert store.get(A, "task", "c/1") == {"n": 1}
    assert store.get(A, "task", "missing") is None
    assert store.get(A, "service", "c/1") is None
    assert store.ids(A, "task") == ["c/1", "c/2"]
    assert store.list(A, "task") == [{"n": 1}, {"n": 2}]
    assert store.list(A, "nothing") == []


def test_reads_are_copies(store: Store) -> None:
    given = {"spec": {"tags": [{"key": "a", "value": "1"}]}}
    store.put(A, "task", "t", given)
    given["spec"]["tags"].append({"key": "b", "value": "2"})  # the caller's dict is not the stored one
    first = store.get(A, "task", "t")
    assert first is not None
    first["spec"]["tags"].clear()
    store.list(A, "task")[0]["spec"].clear()
    assert store.get(A, "task", "t") == {"spec": {"tags": [{"key": "a", "value": "1"}]}}


def test_scopes_are_isolated(store: Store) -> None:
    store.put(A, "cluster", "default", {"owner": "a"})
    store.put(B, "cluster", "default", {"owner": "b"})
    assert store.get(A, "cluster", "default") == {"owner": "a"}
    assert store.get(B, "cluster", "default") == {"owner": "b"}
    store.delete(A, "cluster", "default")
    assert store.get(A, "cluster", "default") is None
    assert store.get(B, "cluster", "default") == {"owner": "b"}
    assert store.scopes() == [B]


def test_order_is_first_write_order(store: Store) -> None:
    for record_id in ("b", "a", "c"):
        store.put(A, "task", record_id, {"v": 0})
    store.put(A, "task", "a", {"v": 1})  # rewriting keeps the place
    assert store.ids(A, "task") == ["b", "a", "c"]
    store.delete(A, "task", "b")
    store.put(A, "task", "b", {"v": 2})  # a deleted id written again is new: it goes last
    assert store.ids(A, "task") == ["a", "c", "b"]


def test_update_applies_change_to_a_copy(store: Store) -> None:
    store.put(A, "service", "c/web", {"desiredCount": 1})
    updated = store.update(A, "service", "c/web", lambda record: record.__setitem__("desiredCount", 3))
    assert updated == {"desiredCount": 3}
    assert updated is not None
    updated["desiredCount"] = 99
    assert store.get(A, "service", "c/web") == {"desiredCount": 3}
    assert store.update(A, "service", "c/none", lambda record: record.clear()) is None
    assert store.get(A, "service", "c/none") is None


def test_delete_of_absent_id_is_a_quiet_no_op(store: Store) -> None:
    heard: list[list[Change]] = []
    store.subscribe(heard.append)
    store.delete(A, "task", "never")
    assert heard == []


# -- transactions ------------------------------------------------------------------------------


def seed(store: Store) -> None:
    for record_id in ("first", "second", "third"):
        store.put(A, "task", record_id, {"id": record_id, "v": 0})


def test_transaction_commits_all_writes_together(store: Store) -> None:
    seed(store)
    heard: list[list[Change]] = []
    store.subscribe(heard.append)
    with store.transaction():
        store.put(A, "task", "first", {"id": "first", "v": 1})
        store.delete(A, "task", "second")
        store.put(A, "task", "fourth", {"id": "fourth", "v": 1})
        assert heard == []  # nothing is announced before the commit
    assert [record_id for record_id, _ in contents(store)] == ["first", "third", "fourth"]
    assert heard == [[Change(A, "task", "first"), Change(A, "task", "second"), Change(A, "task", "fourth")]]


def test_failed_transaction_rolls_back_every_write(store: Store) -> None:
    seed(store)
    before = contents(store)
    heard: list[list[Change]] = []
    store.subscribe(heard.append)
    with pytest.raises(Boom), store.transaction():
        store.put(A, "task", "second", {"id": "second", "v": 1})  # overwrite
        store.delete(A, "task", "first")  # delete (the first in order)
        store.put(A, "task", "new", {"id": "new"})  # create
        store.put(B, "cluster", "other-scope", {})
        raise Boom
    assert contents(store) == before  # the same records, in the same order
    assert store.get(B, "cluster", "other-scope") is None
    assert heard == []  # a rolled-back write is never announced


def test_rollback_of_nested_transactions_undoes_the_outer_writes_too(store: Store) -> None:
    seed(store)
    before = contents(store)
    with pytest.raises(Boom), store.transaction():
        store.put(A, "task", "first", {"id": "first", "v": 1})
        with store.transaction():
            store.delete(A, "task", "third")
            raise Boom
    assert contents(store) == before


def test_update_whose_change_fails_writes_nothing(store: Store) -> None:
    seed(store)
    before = contents(store)

    def change(record: dict[str, Any]) -> None:
        record["v"] = 5
        raise Boom

    with pytest.raises(Boom):
        store.update(A, "task", "first", change)
    assert contents(store) == before


def test_store_is_usable_after_a_rollback(store: Store) -> None:
    seed(store)
    with pytest.raises(Boom), store.transaction():
        store.delete(A, "task", "first")
        raise Boom
    store.put(A, "task", "after", {"id": "after"})
    assert store.ids(A, "task") == ["first", "second", "third", "after"]


def test_transactions_serialise_read_modify_write_across_threads(store: Store) -> None:
    store.put(A, "counter", "n", {"value": 0})

    def bump() -> None:
        for _ in range(50):
            with store.transaction():
                record = store.get(A, "counter", "n")
                assert record is not None
                store.put(A, "counter", "n", {"value": record["value"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert store.get(A, "counter", "n") == {"value": 200}


# -- listeners --------------------------------------------------------------------------------


def test_listener_hears_each_plain_write_after_it_is_visible(store: Store) -> None:
    seen: list[tuple[list[Change], dict[str, Any] | None]] = []
    store.subscribe(lambda changes: seen.append((changes, store.get(A, "task", "t"))))
    store.put(A, "task", "t", {"v": 1})
    store.update(A, "task", "t", lambda record: record.__setitem__("v", 2))
    store.delete(A, "task", "t")
    assert seen == [
        ([Change(A, "task", "t")], {"v": 1}),
        ([Change(A, "task", "t")], {"v": 2}),
        ([Change(A, "task", "t")], None),
    ]


def test_listener_runs_outside_the_lock(store: Store) -> None:
    """A listener may hand work to another thread that writes, and wait for it."""
    done: list[bool] = []

    def listener(changes: list[Change]) -> None:
        if changes[0].id != "trigger":
            return
        worker = threading.Thread(target=lambda: store.put(A, "task", "from-listener", {}))
        worker.start()
        worker.join(timeout=5)
        done.append(not worker.is_alive())

    store.subscribe(listener)
    store.put(A, "task", "trigger", {})
    assert done == [True]
    assert store.get(A, "task", "from-listener") == {}


def test_failing_listener_neither_fails_the_write_nor_silences_the_others(store: Store) -> None:
    heard: list[list[Change]] = []

    def broken(changes: list[Change]) -> None:
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    store.subscribe(heard.append)
    store.put(A, "task", "t", {"v": 1})  # the write was committed: it must not be reported as failed
    assert store.get(A, "task", "t") == {"v": 1}
    assert heard == [[Change(A, "task", "t")]]


def test_reset_forgets_everything_and_announces_every_key(store: Store) -> None:
    store.put(A, "task", "t", {})
    store.put(B, "cluster", "c", {})
    heard: list[list[Change]] = []
    store.subscribe(heard.append)
    store.reset()
    assert store.scopes() == []
    assert store.get(A, "task", "t") is None
    assert sorted(heard[0]) == sorted([Change(A, "task", "t"), Change(B, "cluster", "c")])


# -- durability (SQLite) ----------------------------------------------------------------------


def test_records_survive_close_and_reopen_in_order(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Store(path)
    for record_id in ("b", "a", "c"):
        first.put(A, "task", record_id, {"id": record_id})
    first.put(A, "task", "b", {"id": "b", "v": 2})
    first.delete(A, "task", "a")
    first.put(B, "cluster", "x", {"x": True})
    first.close()

    second = Store(path)
    try:
        assert contents(second) == [("b", {"id": "b", "v": 2}), ("c", {"id": "c"})]
        assert second.get(B, "cluster", "x") == {"x": True}
        assert second.scopes() == [A, B]
        second.put(A, "task", "d", {"id": "d"})  # new ids keep coming after the old ones
        assert second.ids(A, "task") == ["b", "c", "d"]
    finally:
        second.close()


def test_a_returned_write_is_on_disk_without_close(tmp_path: Path) -> None:
    """As if the process were killed right after the call returned: no close, no flush."""
    path = tmp_path / "state.sqlite3"
    writer = Store(path)
    try:
        writer.put(A, "task", "t", {"v": 1})
        with writer.transaction():
            writer.put(A, "task", "u", {"v": 2})
        reader = Store(path)
        try:
            assert contents(reader) == [("t", {"v": 1}), ("u", {"v": 2})]
        finally:
            reader.close()
    finally:
        writer.close()


def test_rolled_back_writes_never_reach_disk(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Store(path)
    first.put(A, "task", "kept", {"v": 1})
    with pytest.raises(Boom), first.transaction():
        first.put(A, "task", "kept", {"v": 2})
        first.put(A, "task", "lost", {"v": 3})
        raise Boom
    first.close()
    second = Store(path)
    try:
        assert contents(second) == [("kept", {"v": 1})]
    finally:
        second.close()


def test_reset_is_durable(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Store(path)
    first.put(A, "task", "t", {})
    first.reset()
    first.close()
    second = Store(path)
    try:
        assert second.scopes() == []
    finally:
        second.close()


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    Store(path).close()
    connection = sqlite3.connect(str(path))
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()
