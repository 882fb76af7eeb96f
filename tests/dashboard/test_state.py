"""``dashboard_state`` on hand-made records: what each part of the page is built from."""

from __future__ import annotations

import json
from typing import Any

from dashboard_records import (
    ECS,
    SCOPE,
    TG_ARN,
    put_cluster,
    put_load_balancer,
    put_rule,
    put_service,
    put_target_group,
    put_task,
    put_task_definition,
)

from ecsemu.context import Scope
from ecsemu.dashboard.state import MAX_EVENTS, MAX_TASKS, dashboard_state
from ecsemu.state.mapping import INTERNAL_SCOPE
from ecsemu.state.store import Store

NOW = 5000.0


def _scope(store: Store) -> dict[str, Any]:
    state = dashboard_state(store, now=NOW)
    assert len(state["scopes"]) == 1
    scope: dict[str, Any] = state["scopes"][0]
    return scope


def _service(store: Store) -> dict[str, Any]:
    service: dict[str, Any] = _scope(store)["clusters"][0]["services"][0]
    return service


def test_an_empty_store_and_ecsemus_own_bookkeeping_show_nothing() -> None:
    store = Store()
    assert dashboard_state(store) == {"scopes": []}
    store.put(INTERNAL_SCOPE, "simulated_task", "x", {"ports": []})
    assert dashboard_state(store) == {"scopes": []}


def test_every_account_and_region_with_records_has_its_section() -> None:
    store = Store()
    put_cluster(store)
    put_cluster(store, "far", Scope("210987654321", "eu-west-1"))
    scopes = dashboard_state(store, now=NOW)["scopes"]
    assert [(s["accountId"], s["region"]) for s in scopes] == [
        ("123456789012", "us-east-1"),
        ("210987654321", "eu-west-1"),
    ]
    assert [c["name"] for c in scopes[1]["clusters"]] == ["far"]
    json.dumps(scopes)  # plain JSON data


def test_deployments_read_as_describe_services_shows_them() -> None:
    store = Store()
    put_cluster(store)
    v1, v2 = put_task_definition(store, 1), put_task_definition(store, 2)
    put_service(
        store,
        [
            ("ecs-svc/0", v1, {"retired": True}),
            ("ecs-svc/1", v1, {"runningCount": 1, "desiredCount": 1, "rolloutState": "COMPLETED"}),
            ("ecs-svc/2", v2, {"runningCount": 1, "pendingCount": 1, "failedTasks": 1}),
        ],
    )
    service = _service(store)
    assert [(d["id"], d["status"], d["desiredCount"]) for d in service["deployments"]] == [
        ("ecs-svc/2", "PRIMARY", 2),
        ("ecs-svc/1", "ACTIVE", 1),
    ]  # newest first, the retired one left out
    primary = service["deployments"][0]
    assert (primary["runningCount"], primary["pendingCount"], primary["failedTasks"]) == (1, 1, 1)
    assert primary["rolloutState"] == "IN_PROGRESS"
    assert primary["rolloutStateReason"] == "ECS deployment ecs-svc/2 in progress."
    assert (service["rolloutState"], service["runningCount"], service["pendingCount"]) == ("IN_PROGRESS", 2, 1)
    assert service["strategy"] == "ROLLING" and service["controller"] == "ECS"
    assert service["loadBalancers"] == [
        {"targetGroupArn": TG_ARN, "targetGroupName": None, "containerName": "web", "containerPort": 8080}
    ]  # the group is gone: its ARN alone


def test_events_are_the_newest_few() -> None:
    store = Store()
    put_cluster(store)
    put_service(store, [("ecs-svc/1", put_task_definition(store, 1), {})], events=MAX_EVENTS + 4)
    service = _service(store)
    assert [e["message"] for e in service["events"]] == [f"event {i}" for i in range(MAX_EVENTS)]
    assert service["eventsOmitted"] == 4
    assert set(service["events"][0]) == {"createdAt", "message"}


def test_tasks_are_grouped_live_first_and_bounded() -> None:
    store = Store()
    put_cluster(store)
    put_service(store, [("ecs-svc/1", put_task_definition(store, 1), {})])
    put_task(store, "stopped", last_status="STOPPED", created_at=1900.0, stopped_reason="Scaling activity")
    for index in range(MAX_TASKS + 3):
        put_task(store, f"t{index:02d}", created_at=1000.0 + index)
    put_task(store, "alone", service_name=None)
    cluster = _scope(store)["clusters"][0]
    service = cluster["services"][0]
    assert [t["id"] for t in service["tasks"]] == [
        f"t{i:02d}" for i in range(MAX_TASKS + 2, 2, -1)
    ]  # newest live first
    assert service["tasksOmitted"] == 4  # three older live ones and the stopped one
    assert [t["id"] for t in cluster["tasks"]] == ["alone"]
    assert (cluster["runningTasks"], cluster["pendingTasks"], cluster["activeServices"]) == (MAX_TASKS + 4, 0, 1)


def test_a_stopped_task_shows_after_live_ones_with_its_reason() -> None:
    store = Store()
    put_cluster(store)
    put_service(store, [("ecs-svc/1", put_task_definition(store, 1), {})])
    put_task(store, "old", last_status="STOPPED", created_at=1900.0, stopped_reason="Scaling activity")
    put_task(store, "live", created_at=1000.0)
    tasks = _service(store)["tasks"]
    assert [t["id"] for t in tasks] == ["live", "old"]
    assert (tasks[1]["lastStatus"], tasks[1]["desiredStatus"], tasks[1]["stoppedReason"]) == (
        "STOPPED",
        "STOPPED",
        "Scaling activity",
    )


def test_a_task_shows_its_ports_health_and_where_awslogs_would_write() -> None:
    store = Store()
    put_cluster(store)
    put_task_definition(
        store, 1, {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"}
    )
    put_task_definition(store, 2, {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"})
    put_task_definition(store, 3)
    for revision in (1, 2, 3):
        put_task(store, f"task{revision}", revision=revision, service_name=None)
    tasks = {t["id"]: t for t in _scope(store)["clusters"][0]["tasks"]}
    task = tasks["task1"]
    assert (task["taskDefinition"], task["lastStatus"], task["desiredStatus"], task["healthStatus"]) == (
        "web:1", "RUNNING", "RUNNING", "HEALTHY",
    )  # fmt: skip
    assert task["arn"] == f"{ECS}:task/shop/task1"
    container = task["containers"][0]
    assert container["ports"] == [{"hostIp": "127.0.0.1", "hostPort": 49153, "containerPort": 8080, "protocol": "tcp"}]
    assert container["logs"] == {
        "driver": "awslogs",
        "group": "/ecs/web",
        "stream": "app/web/task1",
        "region": "us-east-1",
    }
    assert tasks["task2"]["containers"][0]["logs"] == {"driver": "awslogs", "group": "/ecs/web", "region": "us-east-1"}
    assert "logs" not in tasks["task3"]["containers"][0]  # no log destination: nothing to show


def _registered(store: Store, in_use: bool = True) -> dict[str, dict[str, Any]]:
    """Four registrations of one group: judged healthy, judged for an older registration,
    draining, and drained long ago; each task's target, by task id."""
    put_cluster(store)
    put_target_group(
        store,
        targets={
            "10.0.0.1:8080": {"Id": "10.0.0.1", "Port": 8080, "RegisteredAt": 100.0},
            "10.0.0.2:8080": {"Id": "10.0.0.2", "Port": 8080, "RegisteredAt": 200.0},
            "10.0.0.3:8080": {"Id": "10.0.0.3", "Port": 8080, "RegisteredAt": 100.0, "DeregisteredAt": NOW - 1},
            "10.0.0.4:8080": {"Id": "10.0.0.4", "Port": 8080, "RegisteredAt": 100.0, "DeregisteredAt": NOW - 60},
        },
        health={
            "10.0.0.1:8080": {"RegisteredAt": 100.0, "State": "unhealthy", "Reason": "Target.FailedHealthChecks"},
            "10.0.0.2:8080": {"RegisteredAt": 150.0, "State": "healthy"},
        },
    )
    if in_use:
        put_load_balancer(store)
        put_rule(store, 5, [{"Field": "path-pattern", "Values": ["/*"]}])
    for index in range(1, 5):
        put_task(store, f"t{index}", service_name=None, registrations=[[TG_ARN, f"10.0.0.{index}", 8080]])
    return {t["id"]: t for t in _scope(store)["clusters"][0]["tasks"]}


def test_a_tasks_target_health_is_what_describe_target_health_would_say() -> None:
    tasks = _registered(Store())
    assert tasks["t1"]["targets"] == [
        {
            "targetGroupArn": TG_ARN, "targetGroupName": "web", "id": "10.0.0.1", "port": 8080,
            "state": "unhealthy", "reason": "Target.FailedHealthChecks",
        }
    ]  # fmt: skip
    assert tasks["t2"]["targets"][0]["state"] == "initial"  # judged for an earlier registration
    assert tasks["t3"]["targets"][0]["state"] == "draining"
    assert tasks["t4"]["targets"] == []  # drained and gone


def test_targets_of_a_group_no_load_balancer_uses_are_unused() -> None:
    store = Store()
    tasks = _registered(store, in_use=False)
    assert tasks["t1"]["targets"][0]["state"] == "unused"
    scope = _scope(store)
    assert scope["loadBalancers"] == []
    assert [g["name"] for g in scope["otherTargetGroups"]] == ["web"]
    assert [t["state"] for t in scope["otherTargetGroups"][0]["targets"]] == ["unused", "unused", "draining"]


def test_a_load_balancer_shows_listeners_rules_and_its_target_groups() -> None:
    store = Store()
    _registered(store)
    put_rule(store, 2, [{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["blue"]}}])
    put_rule(
        store,
        9,
        [{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}, {"Value": "x"}]}}],
    )
    (lb,) = _scope(store)["loadBalancers"]
    assert (lb["name"], lb["type"], lb["state"], lb["dnsName"]) == (
        "front",
        "application",
        "active",
        "front.elb.localhost",
    )
    (listener,) = lb["listeners"]
    assert (listener["protocol"], listener["port"], listener["boundPort"], listener["boundAddress"]) == (
        "HTTP",
        80,
        18080,
        "127.0.0.1",
    )
    assert listener["defaultActions"] == ["fixed-response 404"]
    assert [(r["priority"], r["conditions"], r["actions"]) for r in listener["rules"]] == [
        (2, ["http-header X-Env: blue"], ["forward to web"]),
        (5, ["path-pattern: /*"], ["forward to web"]),
        (9, ["query-string: v=2, x"], ["forward to web"]),
    ]
    (group,) = lb["targetGroups"]
    assert group["name"] == "web" and group["healthCheck"] == "HTTP / every 30s"
    assert [(t["id"], t["state"]) for t in group["targets"]] == [
        ("10.0.0.1", "unhealthy"), ("10.0.0.2", "initial"), ("10.0.0.3", "draining"),
    ]  # fmt: skip


def test_a_listener_that_could_not_bind_says_why() -> None:
    store = Store()
    put_load_balancer(store, bound_port=None, error="port 80 needs root")
    listener = _scope(store)["loadBalancers"][0]["listeners"][0]
    assert listener["boundPort"] is None and listener["error"] == "port 80 needs root"
    assert "scalingActivities" not in _scope(store)  # no Application Auto Scaling data: no section
    assert SCOPE.region == "us-east-1"


def test_an_external_services_task_sets_carry_its_counts() -> None:
    store = Store()
    put_cluster(store)
    put_service(store, [("ecs-svc/1", put_task_definition(store, 1), {})], desired=4)

    def external(record: dict[str, Any]) -> None:
        record["spec"]["deploymentController"] = {"type": "EXTERNAL"}
        record["spec"]["deployments"] = []
        record["status"]["taskSetCounts"] = {"ecs-svc/7": {"runningCount": 1, "pendingCount": 1}}

    store.update(SCOPE, "service", "shop/web", external)
    task_set = {
        "id": "ecs-svc/7", "clusterName": "shop", "serviceName": "web", "status": "PRIMARY",
        "taskDefinition": f"{ECS}:task-definition/web:1", "scale": {"value": 50.0, "unit": "PERCENT"}, "createdAt": 1001.0,
    }  # fmt: skip
    store.put(SCOPE, "task_set", "shop/web/ecs-svc/7", task_set)
    service = _service(store)
    assert service["deployments"] == [] and "rolloutState" not in service
    assert service["taskSets"] == [
        {
            "id": "ecs-svc/7", "status": "PRIMARY", "taskDefinition": f"{ECS}:task-definition/web:1", "scale": "50%",
            "computedDesiredCount": 2, "runningCount": 1, "pendingCount": 1, "stabilityStatus": "STABILIZING",
        }
    ]  # fmt: skip
    assert (service["runningCount"], service["pendingCount"]) == (1, 1)
