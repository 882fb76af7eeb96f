"""Unit tests of ecsemu.state.mirror: after any sequence of writes, deletions, rollbacks and
resets, a refreshed mirror holds exactly the store's records in the store's order, decodes only
what changed, and hands out copies. Also: the reconciler's world is built from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import FLAVOURS, A, B, Boom, open_store

from ecsemu.context import Scope
from ecsemu.model import task as task_model
from ecsemu.reconcile.loop import Reconciler
from ecsemu.runtime.simulated import SimulatedRuntime
from ecsemu.state.mirror import Mirror
from ecsemu.state.store import Store

KINDS = ("task", "service")


@pytest.fixture(params=FLAVOURS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(request.param, tmp_path)


def assert_mirrors(mirror: Mirror, store: Store) -> None:
    for scope in (A, B):
        for kind in (*KINDS, "cluster"):
            expected = store.items(scope, kind) if kind in mirror.kinds else []
            assert mirror.items(scope, kind) == expected, (scope, kind)
    assert mirror.scopes() == sorted({s for s in (A, B) if any(store.count(s, k) for k in mirror.kinds)})


# One step: (operation, scope, kind, id, value).
steps = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "delete", "refresh", "failed-transaction", "reset"]),
        st.sampled_from([A, B]),
        st.sampled_from([*KINDS, "cluster"]),
        st.sampled_from(["c1/a", "c1/b", "c2/a", "c2/b", "x"]),
        st.integers(0, 3),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_a_refreshed_mirror_equals_the_store(ops: list[tuple[str, Scope, str, str, int]]) -> None:
    store = Store()
    mirror = Mirror(store, KINDS)
    for operation, scope, kind, record_id, value in ops:
        if operation == "put":
            store.put(scope, kind, record_id, {"v": value})
        elif operation == "delete":
            store.delete(scope, kind, record_id)
        elif operation == "refresh":
            mirror.refresh()
            assert_mirrors(mirror, store)
        elif operation == "reset" and value == 0:
            store.reset()
        elif operation == "failed-transaction":
            with pytest.raises(Boom), store.transaction():
                store.delete(scope, kind, record_id)
                store.put(scope, kind, record_id, {"v": -value})
                store.put(scope, kind, "c1/new", {})
                raise Boom
    mirror.refresh()
    assert_mirrors(mirror, store)


def test_refresh_decodes_only_what_changed(store: Store) -> None:
    for n in range(50):
        store.put(A, "task", f"c1/t{n}", {"n": n})
    mirror = Mirror(store, ["task"])
    assert mirror.refresh() == 50
    assert mirror.refresh() == 0
    store.put(A, "task", "c1/t7", {"n": -7})
    store.put(A, "cluster", "c1", {})  # a kind the mirror does not hold
    assert mirror.refresh() == 1
    assert mirror.get(A, "task", "c1/t7") == {"n": -7}


def test_the_mirror_hands_out_copies(store: Store) -> None:
    store.put(A, "task", "c1/a", {"status": {"attachments": [{"status": "ATTACHED"}]}})
    mirror = Mirror(store, ["task"])
    mirror.refresh()
    first = mirror.items(A, "task")[0][1]
    first["status"]["attachments"][0]["status"] = "DELETED"
    got = mirror.get(A, "task", "c1/a")
    assert got is not None
    got["status"].clear()
    assert mirror.items(A, "task") == [("c1/a", {"status": {"attachments": [{"status": "ATTACHED"}]}})]


# -- the reconciler reads through its mirror ----------------------------------------------------

DEFINITION = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:111111111111:task-definition/web:1",
    "family": "web",
    "revision": 1,
    "containerDefinitions": [{"name": "app", "image": "web", "memory": 64, "essential": True}],
    "networkMode": "awsvpc",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def direct_world(store: Store) -> dict[tuple[Scope, str], list[tuple[str, dict[str, Any]]]]:
    """What the reconciler used to read each round: the store's records, decoded afresh."""
    return {
        (scope, kind): store.items(scope, kind) for scope in store.scopes() for kind in ("task", "service", "task_set")
    }


def test_each_round_sees_the_store_as_it_is(store: Store) -> None:
    clock = Clock()
    runtime = SimulatedRuntime(pull_s=0.0, stop_s=0.0, clock=clock)
    reconciler = Reconciler(store, runtime, clock=clock)
    store.put(A, "taskdef", "web:1", DEFINITION)
    for n in range(3):
        record = task_model.new_task(A, task_id=f"t{n}", cluster_name="c1", definition=DEFINITION, now=clock.now)
        store.put(A, "task", f"c1/t{n}", record)
    for round_number in range(12):
        reconciler.run_once()
        if round_number == 4:
            store.update(A, "task", "c1/t1", lambda task: task["spec"].__setitem__("desiredStatus", "STOPPED"))
            store.delete(A, "task", "c1/t0")  # born again: it goes last, in the store and the world
            store.put(
                A,
                "task",
                "c1/t0",
                task_model.new_task(A, task_id="t0", cluster_name="c1", definition=DEFINITION, now=clock.now),
            )
        clock.now += 1.0
        fresh = reconciler.snapshot()
        seen = {(scope, kind): list(getattr(state, attribute).items()) for scope, state in fresh.scopes.items() for kind, attribute in (("task", "tasks"), ("service", "services"), ("task_set", "task_sets"))}  # fmt: skip
        assert seen == direct_world(store)
    statuses = {record_id: task["status"]["lastStatus"] for record_id, task in store.items(A, "task")}
    assert statuses == {"c1/t0": "RUNNING", "c1/t1": "STOPPED", "c1/t2": "RUNNING"}
    assert list(statuses) == ["c1/t1", "c1/t2", "c1/t0"]


def test_a_reader_that_changes_a_shared_record_is_caught(store: Store) -> None:
    store.put(A, "task", "c1/a", {"status": {"attachments": [{"status": "ATTACHED"}]}})
    mirror = Mirror(store, ["task"], verify=True)
    mirror.refresh()
    (_id, shared), = mirror.shared_items(A, "task")
    assert mirror.shared_items(A, "task")[0][1] is shared  # no copy, no decoding, until it changes
    mirror.verify_shared()
    assert Mirror.mutations == []
    shared["status"]["attachments"][0]["status"] = "DELETED"  # a careless reader
    try:
        mirror.verify_shared()
        assert Mirror.mutations == ["111111111111/us-east-1 task c1/a"]
    finally:
        Mirror.mutations.clear()  # the suite's own check must not fail this test
