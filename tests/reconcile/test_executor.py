"""The executor: the planner's service status is written whole (one writer), and target
registrations write no event of their own, whatever the registry answers."""

from __future__ import annotations

from typing import Any, cast

import pytest
from reconcile_records import SCOPE, TARGET_GROUP, service

from ecsemu.context import Scope
from ecsemu.reconcile.actions import DeregisterTarget, RegisterTarget, SetServiceStatus, ShiftTraffic
from ecsemu.reconcile.executor import Executor
from ecsemu.runtime.base import ContainerRuntime
from ecsemu.state.store import Store

KEY = "c/svc"


class FakeRegistry:
    """Answers as the ELBv2 side does: True when done, False when the group or rule is gone."""

    def __init__(self, *, exists: bool = True, fails: bool = False) -> None:
        self.exists, self.fails = exists, fails
        self.calls: list[tuple[str, str]] = []

    def _answer(self, operation: str, arn: str) -> bool:
        self.calls.append((operation, arn))
        if self.fails:
            raise RuntimeError("throttled")
        return self.exists

    def register(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool:
        return self._answer("register", target_group_arn)

    def deregister(self, scope: Scope, target_group_arn: str, target_id: str, port: int) -> bool:
        return self._answer("deregister", target_group_arn)

    def route(self, scope: Scope, rule_arn: str, weights: tuple[tuple[str, int], ...]) -> bool:
        return self._answer("route", rule_arn)


def _executor(registry: FakeRegistry) -> tuple[Store, Executor]:
    store = Store(None)
    record = service(1)
    record["status"] = {"events": [{"id": "e-1", "createdAt": 1.0, "message": "(service svc) has started 1 tasks."}]}
    store.put(SCOPE, "service", KEY, record)
    return store, Executor(store, cast(ContainerRuntime, object()), registry)


@pytest.mark.parametrize("registry", [FakeRegistry(), FakeRegistry(exists=False), FakeRegistry(fails=True)])
def test_registrations_write_no_service_event(registry: FakeRegistry) -> None:
    store, executor = _executor(registry)
    before = store.get(SCOPE, "service", KEY)
    executor.apply(
        [
            RegisterTarget(SCOPE, KEY, TARGET_GROUP, "127.0.0.1", 30001),
            DeregisterTarget(SCOPE, KEY, TARGET_GROUP, "127.0.0.1", 30001),
            ShiftTraffic(SCOPE, "arn:rule", ((TARGET_GROUP, 100),)),
        ],
        now=2.0,
    )
    assert [op for op, _ in registry.calls] == ["register", "deregister", "route"]  # a failure stops no other
    assert store.get(SCOPE, "service", KEY) == before


def test_the_planners_status_is_written_whole() -> None:
    store, executor = _executor(FakeRegistry())
    status: dict[str, Any] = {"events": [], "steady": True}
    executor.apply([SetServiceStatus(SCOPE, KEY, status)], now=2.0)
    record = store.get(SCOPE, "service", KEY)
    assert record is not None and record["status"] == status
