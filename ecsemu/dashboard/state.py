"""What the dashboard shows, as one JSON document built from the store: ``dashboard_state``.

Layout (every list in a stable order; a list cut at its bound says how much it left out in
``<list>Omitted``)::

    {"scopes": [{"accountId", "region",
                 "clusters": [{"name", "arn", "status", "activeServices", "runningTasks",
                               "pendingTasks", "services": [service], "tasks": [task]}],
                               # tasks: those of no service (RunTask/StartTask)
                 "loadBalancers": [...], "otherTargetGroups": [...]}]}   # load_balancers.py

    service: {"name", "arn", "status", "desiredCount", "runningCount", "pendingCount",
              "taskDefinition", "launchType", "strategy", "controller", "rolloutState"?,
              "rolloutStateReason"?, "deployments": [...], "taskSets"?: [...],
              "loadBalancers": [...], "events": [{"createdAt", "message"}], "tasks": [task]}
    task:    {"id", "arn", "taskDefinition", "lastStatus", "desiredStatus", "healthStatus",
              "deploymentId"?, "createdAt", "startedAt"?, "stoppedAt"?, "stopCode"?,
              "stoppedReason"?, "containers": [{"name", "image", "lastStatus", "healthStatus",
              "exitCode"?, "reason"?, "ports": [{"hostIp", "hostPort", "containerPort",
              "protocol"}], "logs"?: {"driver", "group", "stream"?, "region"?}}],
              "targets": [{"targetGroupArn", "targetGroupName", "id", "port", "state", ...}]}

Deployments are shown as DescribeServices shows them (PRIMARY first, retired ones left out);
a service's tasks and a cluster's standalone tasks are the live ones first (newest first), then
the most recently stopped. ``logs`` names where the awslogs driver would write (group and
stream, ``<prefix>/<container>/<task id>``), only when the task definition configures it.
Scopes (account + region) appear when they hold at least one record; ecsemu's own
bookkeeping scope (``INTERNAL_SCOPE``) never does.

Invariants: pure — the store in, plain data out; ``now`` is an argument. The records are read in
one ``Store.snapshot`` (so counts and the records they count are of one revision) and the views
built after it, so writers wait only for the reads. Task definitions are read as needed, after
the snapshot: a revision never changes but for its status, which the page does not show. No Flask, HTTP or
Docker here. The output is bounded (``MAX_*``) so the page stays small whatever the store holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.dashboard.load_balancers import Elbv2Records, bounded, load_balancers_view, target_health
from ecsemu.model import cluster as cluster_model
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.model import task_definition as task_definition_model
from ecsemu.model import task_set as task_set_model
from ecsemu.model.service import ServiceRecord
from ecsemu.model.task import TaskRecord
from ecsemu.model.task_definition import TaskDefinitionRecord
from ecsemu.model.task_set import TaskSetRecord
from ecsemu.state.mapping import INTERNAL_SCOPE
from ecsemu.state.store import Store

MAX_SERVICES: Final = 50  # per cluster
MAX_TASKS: Final = 20  # per service, and a cluster's standalone tasks
MAX_EVENTS: Final = 10  # per service
MAX_DEPLOYMENTS: Final = 10
MAX_CLUSTERS: Final = 50

View = dict[str, Any]


class TaskDefinitions:
    """The task definitions tasks name, read once per build."""

    def __init__(self, store: Store, scope: Scope) -> None:
        self._store, self._scope = store, scope
        self._read: dict[str, TaskDefinitionRecord | None] = {}

    def get(self, arn: str) -> TaskDefinitionRecord | None:
        if arn not in self._read:
            record = self._store.get(
                self._scope, task_definition_model.KIND, task_definition_model.record_id_of_arn(arn)
            )
            self._read[arn] = None if record is None else task_definition_model.from_record(record)
        return self._read[arn]


def _by_cluster(records: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """ECS records grouped by the cluster their id is under (``<cluster>/...``)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record_id, record in records:
        grouped.setdefault(record_id.partition("/")[0], []).append(record)
    return grouped


@dataclass(frozen=True, slots=True)
class ScopeRecords:
    """The records one scope's view is built from, read in one step (inside the snapshot)."""

    clusters: list[tuple[str, dict[str, Any]]]  # (name, record), by name
    services: dict[str, list[ServiceRecord]]  # cluster name → its services
    tasks: dict[str, list[TaskRecord]]  # cluster name → its tasks
    task_sets: dict[str, list[TaskSetRecord]]  # cluster name → its task sets
    elbv2: Elbv2Records

    @classmethod
    def read(cls, store: Store, scope: Scope) -> ScopeRecords:
        def grouped(kind: str) -> dict[str, list[dict[str, Any]]]:
            return _by_cluster(store.items(scope, kind))

        return cls(
            clusters=sorted(store.items(scope, cluster_model.KIND), key=lambda item: item[0]),
            services={c: [service_model.from_record(r) for r in rs] for c, rs in grouped(service_model.KIND).items()},
            tasks={c: [task_model.from_record(r) for r in rs] for c, rs in grouped(task_model.KIND).items()},
            task_sets={
                c: [task_set_model.from_record(r) for r in rs] for c, rs in grouped(task_set_model.KIND).items()
            },
            elbv2=Elbv2Records.read(store, scope),
        )


@dataclass(frozen=True, slots=True)
class Reading:
    """What one scope's build reads from: its records, the task definitions they name, the time."""

    records: ScopeRecords
    definitions: TaskDefinitions
    now: float

    @property
    def elbv2(self) -> Elbv2Records:
        return self.records.elbv2


def _log_destination(definition: TaskDefinitionRecord | None, container: str, task_id: str) -> View | None:
    """Where the awslogs driver sends a container's output; None without it."""
    if definition is None:
        return None
    for given in definition["containerDefinitions"]:
        if given.get("name") != container:
            continue
        configuration = given.get("logConfiguration") or {}
        options = configuration.get("options") or {}
        if configuration.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
            return None
        logs: View = {"driver": "awslogs", "group": str(options["awslogs-group"])}
        if options.get("awslogs-stream-prefix"):
            logs["stream"] = f"{options['awslogs-stream-prefix']}/{container}/{task_id}"
        if options.get("awslogs-region"):
            logs["region"] = str(options["awslogs-region"])
        return logs
    return None


def _container_views(task: TaskRecord, definition: TaskDefinitionRecord | None) -> list[View]:
    spec, observed = task["spec"], task["status"].get("containers") or {}
    views = []
    for container in spec["containers"]:
        name = container["name"]
        seen = observed.get(name) or {}
        view: View = {
            "name": name,
            "image": container["image"],
            "lastStatus": seen.get("lastStatus", "PENDING"),
            "healthStatus": seen.get("healthStatus", "UNKNOWN"),
            "ports": [
                {
                    "hostIp": binding.get("bindIP", "127.0.0.1"),
                    "hostPort": binding.get("hostPort"),
                    "containerPort": binding.get("containerPort"),
                    "protocol": binding.get("protocol", "tcp"),
                }
                for binding in seen.get("networkBindings") or []
            ],
        }
        for member in ("exitCode", "reason"):
            if member in seen:
                view[member] = seen[member]
        logs = _log_destination(definition, name, spec["taskId"])
        if logs is not None:
            view["logs"] = logs
        views.append(view)
    return views


def task_view(task: TaskRecord, reading: Reading) -> View:
    spec, status = task["spec"], task["status"]
    stop_code, stopped_reason = task_model.stop_reason(task)
    view: View = {
        "id": spec["taskId"],
        "arn": spec["taskArn"],
        "taskDefinition": f"{spec['family']}:{spec['revision']}",
        "lastStatus": status.get("lastStatus", "PROVISIONING"),
        "desiredStatus": task_model.desired_status(task),
        "healthStatus": status.get("healthStatus", "UNKNOWN"),
        "createdAt": spec["createdAt"],
        "containers": _container_views(task, reading.definitions.get(spec["taskDefinitionArn"])),
    }
    for member in ("startedAt", "stoppedAt"):
        if member in status:
            view[member] = status[member]
    if spec.get("deploymentId"):
        view["deploymentId"] = spec["deploymentId"]
    if stop_code:
        view["stopCode"] = stop_code
    if stopped_reason:
        view["stoppedReason"] = stopped_reason
    targets = []
    for group_arn, target_id, port in status.get("registrations") or []:
        health = target_health(reading.elbv2, str(group_arn), str(target_id), int(port), reading.now)
        if health is not None:
            targets.append(health)
    view["targets"] = targets
    return view


def _shown_order(tasks: Iterable[TaskRecord]) -> list[TaskRecord]:
    """Live tasks first, then stopped ones; newest first within each."""
    return sorted(tasks, key=lambda t: (task_model.is_stopped(t), -float(t["spec"]["createdAt"])))


def _deployment_views(service: ServiceRecord) -> list[View]:
    """The deployments as DescribeServices shows them: PRIMARY first, retired ones left out."""
    spec, status = service["spec"], service["status"]
    observed_all = status.get("deployments") or {}
    views = []
    for index, deployment in enumerate(reversed(spec.get("deployments") or [])):
        observed = observed_all.get(deployment["id"]) or {}
        if observed.get("retired"):
            continue
        primary = index == 0
        views.append(
            {
                "id": deployment["id"],
                "status": "PRIMARY" if primary else "ACTIVE",
                "taskDefinition": deployment["taskDefinition"],
                "desiredCount": spec["desiredCount"] if primary else observed.get("desiredCount", 0),
                "runningCount": observed.get("runningCount", 0),
                "pendingCount": observed.get("pendingCount", 0),
                "failedTasks": observed.get("failedTasks", 0),
                "rolloutState": observed.get("rolloutState", "IN_PROGRESS"),
                "rolloutStateReason": observed.get(
                    "rolloutStateReason", f"ECS deployment {deployment['id']} in progress."
                ),
                "createdAt": deployment["createdAt"],
                "updatedAt": observed.get("updatedAt", deployment["createdAt"]),
            }
        )
    return views


def _task_set_views(service: ServiceRecord, task_sets: list[TaskSetRecord]) -> list[View]:
    spec, counts = service["spec"], service["status"].get("taskSetCounts") or {}
    key = f"{spec['clusterName']}/{spec['serviceName']}"
    owned = [
        task_set
        for task_set in task_sets
        if task_set_model.service_key(task_set) == key and task_set_model.belongs(task_set, service)
    ]
    return [
        {
            "id": task_set["id"],
            "status": task_set["status"],
            "taskDefinition": task_set["taskDefinition"],
            "scale": f"{task_set['scale'].get('value', 0):g}%",
            "computedDesiredCount": task_set_model.computed_desired_count(spec["desiredCount"], task_set["scale"]),
            "runningCount": (counts.get(task_set["id"]) or {}).get("runningCount", 0),
            "pendingCount": (counts.get(task_set["id"]) or {}).get("pendingCount", 0),
            "stabilityStatus": (counts.get(task_set["id"]) or {}).get("stabilityStatus", "STABILIZING"),
        }
        for task_set in owned
    ]


def service_view(service: ServiceRecord, tasks: list[TaskRecord], reading: Reading) -> View:
    spec, status = service["spec"], service["status"]
    deployments = _deployment_views(service)
    controller = spec["deploymentController"]["type"]
    view: View = {
        "name": spec["serviceName"],
        "arn": spec["serviceArn"],
        "status": service_model.visible_status(service),
        "desiredCount": spec["desiredCount"],
        "runningCount": sum(d["runningCount"] for d in deployments),
        "pendingCount": sum(d["pendingCount"] for d in deployments),
        "taskDefinition": spec.get("taskDefinition"),
        "launchType": spec.get("launchType"),
        "strategy": service_model.strategy(spec),
        "controller": controller,
        "loadBalancers": [
            {
                "targetGroupArn": entry["targetGroupArn"],
                "targetGroupName": group.name
                if (group := reading.elbv2.target_groups.get(entry["targetGroupArn"]))
                else None,
                "containerName": entry["containerName"],
                "containerPort": entry["containerPort"],
            }
            for entry in spec.get("loadBalancers") or []
        ],
    }
    if deployments:
        view["rolloutState"] = deployments[0]["rolloutState"]
        view["rolloutStateReason"] = deployments[0]["rolloutStateReason"]
    bounded(view, "deployments", deployments, MAX_DEPLOYMENTS)
    if controller == "EXTERNAL":
        view["taskSets"] = _task_set_views(service, reading.records.task_sets.get(spec["clusterName"], []))
        view["runningCount"] = sum(t["runningCount"] for t in view["taskSets"])
        view["pendingCount"] = sum(t["pendingCount"] for t in view["taskSets"])
    events = status.get("events") or []
    bounded(view, "events", events, MAX_EVENTS, lambda e: {"createdAt": e["createdAt"], "message": e["message"]})
    bounded(view, "tasks", _shown_order(tasks), MAX_TASKS, lambda t: task_view(t, reading))
    return view


def cluster_view(name: str, record: dict[str, Any], reading: Reading) -> View:
    """One cluster: its counts, its services (each with its tasks), its standalone tasks."""
    tasks = reading.records.tasks.get(name, [])
    services = reading.records.services.get(name, [])
    by_service: dict[str, list[TaskRecord]] = {}
    standalone: list[TaskRecord] = []
    for task in tasks:
        owner = task["spec"].get("serviceName")
        if owner is None:
            standalone.append(task)
        else:
            by_service.setdefault(owner, []).append(task)
    live = [t for t in tasks if not task_model.is_stopped(t)]
    view: View = {
        "name": name,
        "arn": record.get("clusterArn", ""),
        "status": record.get("status", "ACTIVE"),
        "activeServices": sum(1 for s in services if service_model.visible_status(s) == "ACTIVE"),
        "runningTasks": sum(1 for t in live if t["status"].get("lastStatus") == "RUNNING"),
        "pendingTasks": sum(1 for t in live if t["status"].get("lastStatus") in task_model.PENDING_STATES),
    }
    shown = sorted((s for s in services if not service_model.is_inactive(s)), key=lambda s: s["spec"]["serviceName"])
    bounded(
        view,
        "services",
        shown,
        MAX_SERVICES,
        lambda s: service_view(s, by_service.get(s["spec"]["serviceName"], []), reading),
    )
    bounded(view, "tasks", _shown_order(standalone), MAX_TASKS, lambda t: task_view(t, reading))
    return view


def scope_view(scope: Scope, records: ScopeRecords, definitions: TaskDefinitions, now: float) -> View:
    reading = Reading(records, definitions, now)
    view: View = {"accountId": scope.account_id, "region": scope.region}
    bounded(view, "clusters", records.clusters, MAX_CLUSTERS, lambda item: cluster_view(item[0], item[1], reading))
    view["loadBalancers"], view["otherTargetGroups"] = load_balancers_view(records.elbv2, now)
    return view


def dashboard_state(store: Store, now: float | None = None) -> dict[str, Any]:
    """The dashboard's document (layout above) for every scope that holds records."""
    now = time.time() if now is None else now
    with store.snapshot():  # one consistent cut; the views are built after it
        read = [(scope, ScopeRecords.read(store, scope)) for scope in store.scopes() if scope != INTERNAL_SCOPE]
    return {"scopes": [scope_view(scope, records, TaskDefinitions(store, scope), now) for scope, records in read]}
