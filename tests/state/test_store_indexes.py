"""Unit tests of ecsemu.state.store beyond plain reads and writes: rollbacks that restore only
what they touched (order included, on disk too), the per-head (per-cluster) index kept in step,
and the change feed incremental readers use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_support import FLAVOURS, A, B, Boom, open_store

from ecsemu.context import Scope
from ecsemu.state import changes as changes_module
from ecsemu.state.store import Change, Store


@pytest.fixture(params=FLAVOURS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(request.param, tmp_path)


def everything(store: Store) -> dict[tuple[Scope, str, str | None], list[tuple[str, dict[str, Any]]]]:
    """Every kind's records in order, whole and per head, for before/after comparisons."""
    seen: dict[tuple[Scope, str, str | None], list[tuple[str, dict[str, Any]]]] = {}
    for scope in (A, B):
        for kind in ("task", "service", "cluster"):
            seen[scope, kind, None] = store.items(scope, kind)
            for head in ("c1", "c2", "c3"):
                seen[scope, kind, head] = store.items(scope, kind, under=head)
    return seen


def seed_many(store: Store, count: int = 300) -> None:
    with store.transaction():
        for n in range(count):
            store.put(A, "task", f"c{n % 3 + 1}/t{n}", {"n": n})
        store.put(A, "service", "c1/web", {"desired": 1})
        store.put(A, "cluster", "c1", {"name": "c1"})


# -- rollback restores only what it touched ---------------------------------------------------


def test_refused_transaction_on_a_durable_store_restores_records_and_order(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = Store(path)
    seed_many(store, 2000)
    before = everything(store)

    def no_reload() -> None:
        raise AssertionError("a rollback must not reload the database")

    store._load = no_reload  # type: ignore[method-assign]
    with pytest.raises(Boom), store.transaction():
        store.put(A, "task", "c2/t1", {"n": "rewritten"})  # rewrite
        store.delete(A, "task", "c1/t0")  # delete the first of the kind and of its head
        store.delete(A, "task", "c3/t1001")  # delete one in the middle
        store.put(A, "task", "c1/t0", {"n": "born again"})  # ... and write a deleted id again
        store.put(A, "task", "c3/new", {"n": "new"})  # create
        store.put(A, "task", "c2/t1", {"n": "rewritten twice"})
        store.delete(A, "service", "c1/web")
        store.put(B, "task", "c1/other-scope", {})
        raise Boom
    assert everything(store) == before
    assert store.scopes() == [A]
    store.close()
    reopened = Store(path)
    try:
        assert everything(reopened) == before
    finally:
        reopened.close()


def test_undone_deletions_return_to_their_place_in_kind_and_head(store: Store) -> None:
    seed_many(store, 30)
    before = everything(store)
    with pytest.raises(Boom), store.transaction():
        for n in (0, 7, 29, 14):
            store.delete(A, "task", f"c{n % 3 + 1}/t{n}")
        raise Boom
    assert everything(store) == before
    store.put(A, "task", "c1/after", {})  # new ids still go last, in the kind and in the head
    assert store.ids(A, "task")[-1] == "c1/after"
    assert store.ids(A, "task", under="c1")[-1] == "c1/after"


def test_nested_transaction_failure_rolls_back_the_outermost_whole(store: Store) -> None:
    seed_many(store, 9)
    before = everything(store)
    with pytest.raises(Boom), store.transaction():
        store.put(A, "task", "c1/t0", {"n": -1})
        with store.transaction():
            store.delete(A, "task", "c2/t1")
            with store.transaction():
                store.put(A, "task", "c3/deep", {})
        store.delete(A, "task", "c3/t2")
        raise Boom
    assert everything(store) == before


def test_an_exception_caught_inside_the_outer_transaction_undoes_nothing(store: Store) -> None:
    """Nested calls join the outer one: only the outermost transaction commits or rolls back."""
    seed_many(store, 3)
    with store.transaction():
        store.put(A, "task", "c1/kept", {})
        with pytest.raises(Boom), store.transaction():
            store.put(A, "task", "c1/also-kept", {})
            raise Boom
    assert store.ids(A, "task", under="c1") == ["c1/t0", "c1/kept", "c1/also-kept"]


def test_rollback_of_a_reset_brings_everything_back(store: Store) -> None:
    seed_many(store, 12)
    before = everything(store)
    with pytest.raises(Boom), store.transaction():
        store.put(A, "task", "c1/before-reset", {})
        store.reset()
        store.put(A, "task", "c1/after-reset", {})
        raise Boom
    assert everything(store) == before


# -- the per-head (per-cluster) index -----------------------------------------------------------


def test_under_selects_one_head_in_order(store: Store) -> None:
    for record_id in ("c2/b", "c1/a", "c10/x", "c1/b", "plain", "c2/a"):
        store.put(A, "task", record_id, {"id": record_id})
    assert store.ids(A, "task", under="c1") == ["c1/a", "c1/b"]  # c10 is another head
    assert store.list(A, "task", under="c2") == [{"id": "c2/b"}, {"id": "c2/a"}]
    assert store.items(A, "task", under="c10") == [("c10/x", {"id": "c10/x"})]
    assert store.count(A, "task", under="c1") == 2
    assert store.count(A, "task") == 6
    assert store.ids(A, "task", under="plain") == []  # ids without "/" are under no head
    assert store.ids(B, "task", under="c1") == []
    assert store.ids(A, "service", under="c1") == []


def test_the_index_follows_deletes_rewrites_and_reset(store: Store) -> None:
    for record_id in ("c1/a", "c1/b", "c1/c"):
        store.put(A, "task", record_id, {"v": 0})
    store.put(A, "task", "c1/a", {"v": 1})
    store.delete(A, "task", "c1/b")
    store.put(A, "task", "c1/b", {"v": 2})
    assert store.items(A, "task", under="c1") == [("c1/a", {"v": 1}), ("c1/c", {"v": 0}), ("c1/b", {"v": 2})]
    store.delete(A, "task", "c1/a")
    store.delete(A, "task", "c1/c")
    store.delete(A, "task", "c1/b")
    assert store.count(A, "task", under="c1") == 0
    store.put(A, "task", "c1/z", {})
    store.reset()
    assert store.count(A, "task", under="c1") == 0


def test_the_index_is_rebuilt_on_load(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Store(path)
    for record_id in ("c1/a", "c2/a", "c1/b"):
        first.put(A, "task", record_id, {})
    first.delete(A, "task", "c1/a")
    first.put(A, "task", "c1/a", {})
    first.close()
    second = Store(path)
    try:
        assert second.ids(A, "task", under="c1") == ["c1/b", "c1/a"]
        assert second.ids(A, "task", under="c2") == ["c2/a"]
    finally:
        second.close()


# -- the change feed ----------------------------------------------------------------------------


def test_read_changes_reports_each_changed_key_once_with_its_body(store: Store) -> None:
    first = store.read_changes(-1, {"task"})
    assert first.complete
    assert first.records == []
    store.put(A, "task", "c1/a", {"v": 1})
    store.put(A, "task", "c1/b", {"v": 1})
    store.put(A, "cluster", "c1", {})  # not a kind asked for
    store.put(A, "task", "c1/a", {"v": 2})
    second = store.read_changes(first.revision, {"task"})
    assert not second.complete
    assert [(r.change.id, r.body) for r in second.records] == [("c1/b", '{"v":1}'), ("c1/a", '{"v":2}')]
    store.delete(A, "task", "c1/b")
    third = store.read_changes(second.revision, {"task"})
    assert [(r.change, r.birth, r.body) for r in third.records] == [(Change(A, "task", "c1/b"), 0, None)]
    assert store.read_changes(third.revision, {"task"}).records == []


def test_births_tell_a_rewrite_from_a_rebirth(store: Store) -> None:
    store.put(A, "task", "c1/a", {})
    born = store.read_changes(-1, {"task"}).records[0].birth
    revision = store.revision
    store.put(A, "task", "c1/a", {"v": 1})
    assert store.read_changes(revision, {"task"}).records[0].birth == born
    store.delete(A, "task", "c1/a")
    store.put(A, "task", "c1/a", {"v": 2})
    assert store.read_changes(revision, {"task"}).records[0].birth > born


def test_a_rolled_back_write_is_reported_with_its_restored_body(store: Store) -> None:
    store.put(A, "task", "c1/a", {"v": 1})
    revision = store.revision
    with pytest.raises(Boom), store.transaction():
        store.put(A, "task", "c1/a", {"v": 2})
        store.put(A, "task", "c1/new", {})
        raise Boom
    records = {r.change.id: r.body for r in store.read_changes(revision, {"task"}).records}
    assert records == {"c1/a": '{"v":1}', "c1/new": None}


def test_a_reset_makes_readers_read_everything_again(store: Store) -> None:
    store.put(A, "task", "c1/a", {})
    revision = store.revision
    store.reset()
    store.put(A, "task", "c1/b", {})
    after = store.read_changes(revision, {"task"})
    assert after.complete
    assert [r.change.id for r in after.records] == ["c1/b"]


def test_pruned_tombstones_make_late_readers_read_everything(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes_module, "TOMBSTONE_LIMIT", 5)
    store.put(A, "task", "c1/kept", {})
    late = store.revision
    for n in range(10):
        store.put(A, "task", f"c1/gone{n}", {})
    recent = store.revision
    for n in range(10):
        store.delete(A, "task", f"c1/gone{n}")
    behind = store.read_changes(late, {"task"})
    assert behind.complete
    assert [r.change.id for r in behind.records] == ["c1/kept"]
    assert len(store._log._last) < 10  # the tombstones were dropped
    up_to_date = store.read_changes(store.revision, {"task"})
    assert not up_to_date.complete
    assert recent < store.revision


# -- any refused transaction leaves everything as it was ----------------------------------------

transaction_steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "delete", "delete", "reset"]),
        st.sampled_from([A, B]),
        st.sampled_from(["task", "service"]),
        st.sampled_from(["c1/t0", "c1/t1", "c2/t2", "c3/t5", "c1/new", "c2/new", "plain"]),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transaction_steps)
def test_any_refused_transaction_restores_everything(store: Store, ops: list[tuple[str, Scope, str, str]]) -> None:
    store.reset()
    seed_many(store, 9)
    store.put(A, "task", "plain", {})
    before = everything(store)
    with pytest.raises(Boom), store.transaction():
        for n, (operation, scope, kind, record_id) in enumerate(ops):
            if operation == "put":
                store.put(scope, kind, record_id, {"step": n})
            elif operation == "delete":
                store.delete(scope, kind, record_id)
            else:
                store.reset()
        raise Boom
    assert everything(store) == before
    assert store.ids(A, "task") == [f"c{n % 3 + 1}/t{n}" for n in range(9)] + ["plain"]
