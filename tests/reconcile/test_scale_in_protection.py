"""Scale-in protection (UpdateTaskProtection): the scheduler never picks a protected task to
stop while its protection holds, and picks it again once ``expirationDate`` has passed."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from reconcile_records import SCOPE, service, task

from ecsemu.reconcile import scheduling
from ecsemu.reconcile.actions import StopTask
from ecsemu.reconcile.ids import CountingIds
from ecsemu.reconcile.scheduler import plan_service

Record = dict[str, Any]
NOW = 1000.0


def protected(task_id: str, *, until: float | None, created: float = 0.0, enabled: bool = True) -> Record:
    record = task(task_id, created=created)
    protection: dict[str, Any] = {"protectionEnabled": enabled}
    if until is not None:
        protection["expirationDate"] = until
    record["spec"]["protection"] = protection
    return record


def ids(records: list[Record]) -> list[str]:
    return [r["spec"]["taskId"] for r in records]


def test_is_protected_follows_enabled_and_the_expiration_date() -> None:
    assert scheduling.is_protected(protected("a", until=NOW + 1), NOW)
    assert scheduling.is_protected(protected("a", until=None), NOW)  # no expiry: until turned off
    assert not scheduling.is_protected(protected("a", until=NOW), NOW)  # expired at that instant
    assert not scheduling.is_protected(protected("a", until=NOW - 1), NOW)
    assert not scheduling.is_protected(protected("a", until=NOW + 60, enabled=False), NOW)
    assert not scheduling.is_protected(task("a"), NOW)
    cleared = task("a")
    cleared["spec"]["protection"] = {}  # what UpdateTaskProtection(protectionEnabled=False) writes
    assert not scheduling.is_protected(cleared, NOW)


def test_least_useful_skips_a_protected_task_while_protection_holds() -> None:
    # The newest task would be stopped first; it is protected, so the next newest goes.
    tasks = [task("old", created=1.0), task("mid", created=2.0), protected("new", until=NOW + 120, created=3.0)]
    assert ids(scheduling.least_useful(tasks, 1, NOW)) == ["mid"]
    assert ids(scheduling.least_useful(tasks, 2, NOW)) == ["mid", "old"]
    assert ids(scheduling.least_useful(tasks, 3, NOW)) == ["mid", "old"]  # never the protected one


def test_least_useful_picks_it_once_the_expiration_date_passed() -> None:
    tasks = [task("old", created=1.0), protected("new", until=NOW + 120, created=3.0)]
    assert ids(scheduling.least_useful(tasks, 1, NOW + 119)) == ["old"]
    assert ids(scheduling.least_useful(tasks, 1, NOW + 120)) == ["new"]
    assert ids(scheduling.least_useful(tasks, 1, NOW + 500)) == ["new"]


def test_without_now_protection_is_not_considered() -> None:
    tasks = [task("old", created=1.0), protected("new", until=NOW + 120, created=3.0)]
    assert ids(scheduling.least_useful(tasks, 1)) == ["new"]


def test_all_protected_means_nothing_is_stopped() -> None:
    tasks = [protected(f"t{i}", until=None, created=float(i)) for i in range(3)]
    assert scheduling.least_useful(tasks, 2, NOW) == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 2000, allow_nan=False)), min_size=1, max_size=8),
    st.integers(0, 10),
    st.floats(0, 2000, allow_nan=False),
)
def test_least_useful_never_picks_a_protected_task(
    protections: list[tuple[bool, float]], count: int, now: float
) -> None:
    tasks = [
        protected(f"t{i}", until=until, created=float(i)) if on else task(f"t{i}", created=float(i))
        for i, (on, until) in enumerate(protections)
    ]
    picked = scheduling.least_useful(tasks, count, now)
    assert not any(scheduling.is_protected(t, now) for t in picked)
    free = [t for t in tasks if not scheduling.is_protected(t, now)]
    assert len(picked) == min(count, len(free))


def test_the_service_scheduler_scales_in_around_a_protected_task() -> None:
    tasks = [task("a", created=1.0), task("b", created=2.0), protected("c", until=NOW + 300, created=3.0)]
    stops = [a for a in plan_service(SCOPE, "c/svc", service(1), tasks, NOW, CountingIds()) if isinstance(a, StopTask)]
    assert sorted(s.key for s in stops) == ["c/a", "c/b"]
    later = [
        a for a in plan_service(SCOPE, "c/svc", service(1), tasks, NOW + 301, CountingIds()) if isinstance(a, StopTask)
    ]
    assert sorted(s.key for s in later) == ["c/b", "c/c"]  # protection over: the newest go first


def test_the_service_keeps_more_than_desired_while_every_excess_task_is_protected() -> None:
    tasks = [protected("a", until=None, created=1.0), protected("b", until=NOW + 60, created=2.0)]
    actions = plan_service(SCOPE, "c/svc", service(1), tasks, NOW, CountingIds())
    assert not [a for a in actions if isinstance(a, StopTask)]
    actions = plan_service(SCOPE, "c/svc", service(1), tasks, NOW + 61, CountingIds())
    assert [a.key for a in actions if isinstance(a, StopTask)] == ["c/b"]
