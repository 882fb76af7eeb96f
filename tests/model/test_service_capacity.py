"""set_desired_count: the one write Application Auto Scaling makes to an ECS service."""

from __future__ import annotations

from test_scaling_records import SCOPE, new_store, put_service

from ecsemu.model import service_capacity


def test_sets_only_the_desired_count() -> None:
    store = new_store()
    put_service(store, 2)
    before = store.get(SCOPE, "service", "c/s")
    assert service_capacity.set_desired_count(store, SCOPE, "c", "s", 5, 0.0) == 5
    after = store.get(SCOPE, "service", "c/s")
    assert before is not None and after is not None
    before["spec"]["desiredCount"] = 5
    assert after == before
    assert service_capacity.desired_count(store, SCOPE, "c", "s") == 5


def test_an_unchanged_count_writes_nothing() -> None:
    store = new_store()
    put_service(store, 2)
    revision = store.revision
    assert service_capacity.set_desired_count(store, SCOPE, "c", "s", 2, 0.0) == 2
    assert store.revision == revision


def test_no_active_service_is_none() -> None:
    store = new_store()
    assert service_capacity.set_desired_count(store, SCOPE, "c", "s", 2, 0.0) is None
    put_service(store, 2, status="DRAINING")
    assert service_capacity.set_desired_count(store, SCOPE, "c", "s", 3, 0.0) is None
    assert service_capacity.desired_count(store, SCOPE, "c", "s") is None
    assert not service_capacity.service_exists(store, SCOPE, "c", "s")


def test_count_stays_within_ecs_bounds() -> None:
    store = new_store()
    put_service(store, 2)
    assert service_capacity.set_desired_count(store, SCOPE, "c", "s", 9999, 0.0) == 5000
    assert service_capacity.set_desired_count(store, SCOPE, "c", "s", -3, 0.0) == 0
