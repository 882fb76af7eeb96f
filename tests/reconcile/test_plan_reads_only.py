"""The planner never changes what it is handed: the reconciler shares its records with later
rounds (ecsemu.state.mirror). Traffic-shifting deployments run here over many rounds, since no
integration test drives LINEAR or CANARY; every input is compared with a deep copy after each
call."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from reconcile_records import SCOPE, registered_in, service, target_group, task

from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.reconcile.actions import SetServiceStatus, ShiftTraffic, StopTask
from ecsemu.reconcile.ids import RandomIds
from ecsemu.reconcile.scheduler import plan_service

BLUE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/0123456789abcdef"
GREEN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/0123456789abcdef"
RULE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/alb/0123456789abcdef/1/2"
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "BLUE_GREEN": {"bakeTimeInMinutes": 1},
    "LINEAR": {"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}, "bakeTimeInMinutes": 1},
    "CANARY": {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}, "bakeTimeInMinutes": 1},
}


def _shifting_service(strategy: str) -> dict[str, Any]:
    record = service(2, deployments=("ecs-svc/1", "ecs-svc/2"))
    spec = record["spec"]
    spec["deploymentConfiguration"] = {**spec["deploymentConfiguration"], "strategy": strategy, **CONFIGURATIONS[strategy]}
    spec["loadBalancers"] = [
        {"targetGroupArn": BLUE, "containerName": "app", "containerPort": 80,
         "advancedConfiguration": {"alternateTargetGroupArn": GREEN, "productionListenerRule": RULE}},
    ]  # fmt: skip
    spec["deployments"][0]["targetGroupArns"] = [BLUE]
    spec["deployments"][1]["targetGroupArns"] = [GREEN]
    return record


@pytest.mark.parametrize("strategy", sorted(CONFIGURATIONS))
def test_a_traffic_shift_over_many_rounds_changes_none_of_its_inputs(strategy: str) -> None:
    svc = _shifting_service(strategy)
    tasks = [
        registered_in(task("old1", deployment="ecs-svc/1"), 30001, arn=BLUE),
        registered_in(task("old2", deployment="ecs-svc/1"), 30002, arn=BLUE),
        registered_in(task("new1", deployment="ecs-svc/2"), 30003, arn=GREEN),
        registered_in(task("new2", deployment="ecs-svc/2"), 30004, arn=GREEN),
    ]
    groups = {
        BLUE: target_group({30001: {"state": "healthy"}, 30002: {"state": "healthy"}}, arn=BLUE),
        GREEN: target_group({30003: {"state": "healthy"}, 30004: {"state": "healthy"}}, arn=GREEN),
    }
    shifts: list[tuple[tuple[str, int], ...]] = []
    stopped: set[str] = set()
    for second in range(0, 600, 15):
        before = copy.deepcopy((svc, tasks))
        actions = plan_service(
            SCOPE, "c/svc", service_model.from_record(svc), [task_model.from_record(t) for t in tasks],
            float(second), RandomIds(), groups,
        )  # fmt: skip
        assert (svc, tasks) == before, f"round at {second} s changed its inputs"
        for action in actions:
            if isinstance(action, ShiftTraffic):
                shifts.append(action.weights)
            elif isinstance(action, SetServiceStatus):
                svc = {"spec": svc["spec"], "status": action.status}  # the next round reads what was written
            elif isinstance(action, StopTask):
                stopped.add(action.key)
    assert shifts, "the deployment never shifted traffic"
    assert shifts[-1] == ((GREEN, 100), (BLUE, 0))
    assert stopped == {"c/old1", "c/old2"}  # the old revision retired after the bake
