"""Applies the planner's actions: runtime calls and store writes. Every action is idempotent.

The executor writes task and service ``status``, each only as the planner computed it
(``SetTaskStatus``, ``SetServiceStatus`` replace the whole status: the planner is its one
writer, events included). It writes ``spec`` only for the scheduler's own decisions (placing a
service's tasks, asking one to stop, a rollback), re-checking the record first so a change made
by an API call since the snapshot wins.

Target registrations go through a ``TargetRegistry`` (``ecsemu.model.load_balancing``; the
ELBv2 side implements it as ECS's service-linked role calls the API). A registry call returns
True when done and False when the target group or rule no longer exists (nothing to do); any
other failure is raised, logged here, and the planner retries it next round. The executor
records no event for them: the service planner announces a registration once the target
group's record shows it (``ecsemu.reconcile.scheduling``).
"""

from __future__ import annotations

import logging
from typing import Any

from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.model import task_definition as task_definition_model
from ecsemu.model import task_set as task_set_model
from ecsemu.model.load_balancing import TargetRegistry
from ecsemu.model.service import Deployment, ServiceSpec
from ecsemu.model.tags import Tag
from ecsemu.model.task import TaskDefinition, TaskLoadBalancer
from ecsemu.model.task_set import TaskSetRecord
from ecsemu.reconcile.actions import (
    Action,
    DeregisterTarget,
    ForgetTask,
    Launch,
    PlaceTasks,
    RegisterTarget,
    RemoveContainers,
    RollBack,
    SetServiceStatus,
    SetTaskStatus,
    ShiftTraffic,
    StopContainers,
    StopTask,
)
from ecsemu.runtime.base import ContainerRuntime
from ecsemu.state.store import Store

__all__ = ["Executor", "TargetRegistry"]  # the registry contract is model's; loop.py takes it from here

log = logging.getLogger(__name__)
Stored = dict[str, Any]  # a record as the store hands it to an update; typed through the model


class Executor:
    def __init__(self, store: Store, runtime: ContainerRuntime, registry: TargetRegistry | None = None) -> None:
        self.store = store
        self.runtime = runtime
        self.registry = registry

    def apply(self, actions: list[Action], now: float) -> None:
        for action in actions:
            try:
                self._apply(action, now)
            except Exception:  # one failed action must not stop the others
                log.exception("action failed: %r", action)

    def _apply(self, action: Action, now: float) -> None:
        match action:
            case Launch(launch=launch):
                self.runtime.launch(launch)
            case StopContainers(task_arn=task_arn, timeout_s=timeout_s):
                self.runtime.stop(task_arn, timeout_s)
            case RemoveContainers(task_arn=task_arn):
                self.runtime.remove(task_arn)
            case SetTaskStatus(scope=scope, key=key, status=task_status):
                self.store.update(scope, task_model.KIND, key, lambda task: _set_task_status(key, task, task_status))
            case ForgetTask(scope=scope, key=key):
                self.store.delete(scope, task_model.KIND, key)
            case SetServiceStatus(scope=scope, key=key, status=service_status):
                self.store.update(
                    scope, service_model.KIND, key, lambda service: _set_service_status(key, service, service_status)
                )
            case StopTask(scope=scope, key=key, stop_code=code, reason=reason):

                def stop(task: Stored) -> None:
                    task_model.request_stop(task_model.from_record(task), stop_code=code, reason=reason, now=now)

                self.store.update(scope, task_model.KIND, key, stop)
            case PlaceTasks():
                self._place(action, now)
            case RollBack():
                self._roll_back(action, now)
            case ShiftTraffic(scope=scope, rule_arn=rule_arn, weights=weights):
                if self.registry is not None and not self.registry.route(scope, rule_arn, weights):
                    log.debug("shifting traffic on %s: not done (gone or refused; asked again next round)", rule_arn)
            case RegisterTarget(scope=scope, service_key=key, target_group_arn=arn, target_id=target_id, port=port):
                if self.registry is not None and not self.registry.register(scope, arn, target_id, port):
                    log.debug("service %s: registering %s:%s in %s: not done (asked again next round)", key, target_id, port, arn)
            case DeregisterTarget(scope=scope, service_key=key, target_group_arn=arn, target_id=target_id, port=port):
                if self.registry is not None and not self.registry.deregister(scope, arn, target_id, port):
                    log.debug("service %s: deregistering %s:%s from %s: not done (asked again next round)", key, target_id, port, arn)

    def _roll_back(self, action: RollBack, now: float) -> None:
        def start(service: Stored) -> None:
            spec = service_model.from_record(service)["spec"]
            if spec["deployments"][-1]["id"] != action.failed_deployment_id or spec["status"] != "ACTIVE":
                return  # a newer UpdateService or a delete already moved on
            spec["taskDefinition"] = action.task_definition
            spec["deployments"].append(service_model.new_deployment(action.deployment_id, spec, now))

        self.store.update(action.scope, service_model.KIND, action.service_key, start)

    def _place(self, action: PlaceTasks, now: float) -> None:
        with self.store.transaction():
            stored = self.store.get(action.scope, service_model.KIND, action.service_key)
            if stored is None or service_model.visible_status(service_model.from_record(stored)) != "ACTIVE":
                return
            spec = service_model.from_record(stored)["spec"]
            deployment: Deployment | TaskSetRecord | None
            if spec["deploymentController"]["type"] == "EXTERNAL":
                # The deployment is a task set: its record has the same launch members.
                task_set = self.store.get(action.scope, task_set_model.KIND, f"{action.service_key}/{action.deployment_id}")
                deployment = None if task_set is None else task_set_model.from_record(task_set)
                if deployment is None or deployment["status"] == "DRAINING":
                    return
                target_groups: list[str] = []  # a task set names none
            else:
                deployment = next((d for d in spec["deployments"] if d["id"] == action.deployment_id), None)
                if deployment is None or deployment["id"] != spec["deployments"][-1]["id"]:
                    return
                target_groups = deployment.get("targetGroupArns") or []
            family_revision = deployment["taskDefinition"].split("/", 1)[1]
            stored = self.store.get(action.scope, task_definition_model.KIND, family_revision)
            if stored is None:
                return
            definition = task_definition_model.from_record(stored)
            tags = _propagated_tags(spec, definition)
            strategy = deployment.get("capacityProviderStrategy") or []
            for task_id in action.task_ids:
                key = f"{spec['clusterName']}/{task_id}"
                if self.store.get(action.scope, task_model.KIND, key) is not None:
                    continue
                record = task_model.new_task(
                    action.scope,
                    task_id=task_id,
                    cluster_name=spec["clusterName"],
                    definition=definition,
                    now=now,
                    started_by=deployment["id"],
                    group=f"service:{spec['serviceName']}",
                    launch_type=deployment.get("launchType"),
                    capacity_provider=strategy[0]["capacityProvider"] if strategy else None,
                    network_configuration=deployment.get("networkConfiguration"),
                    tags=tags,
                    service_name=spec["serviceName"],
                    deployment_id=deployment["id"],
                    enable_execute_command=bool(spec.get("enableExecuteCommand")),
                    platform_version=deployment.get("platformVersion") if deployment.get("platformVersion") != "LATEST" else None,
                    load_balancers=_deployment_load_balancers(spec, target_groups),
                )
                self.store.put(action.scope, task_model.KIND, key, task_model.to_record(record))


def _deployment_load_balancers(spec: ServiceSpec, groups: list[str]) -> list[TaskLoadBalancer]:
    """The service's load balancer entries, pointed at the deployment's own target groups."""
    entries: list[TaskLoadBalancer] = []
    for index, entry in enumerate(spec.get("loadBalancers") or []):
        target_group = groups[index] if index < len(groups) else entry["targetGroupArn"]
        entries.append({"targetGroupArn": target_group, "containerName": entry["containerName"], "containerPort": entry["containerPort"]})
    return entries


def _propagated_tags(spec: ServiceSpec, definition: TaskDefinition) -> list[Tag]:
    tags: list[Tag] = []
    if spec.get("propagateTags") == "SERVICE":
        tags += spec.get("tags", [])
    elif spec.get("propagateTags") == "TASK_DEFINITION":
        tags += definition.get("tags", [])
    if spec.get("enableECSManagedTags"):
        tags += [
            {"key": "aws:ecs:clusterName", "value": spec["clusterName"]},
            {"key": "aws:ecs:serviceName", "value": spec["serviceName"]},
        ]
    return tags


def _set_task_status(key: str, task: Stored, status: task_model.TaskStatus) -> None:
    """Write the planner's status, and say so when the task's lastStatus moves."""
    before = (task.get("status") or {}).get("lastStatus")
    task["status"] = status
    after = status.get("lastStatus")
    if before != after and log.isEnabledFor(logging.INFO):
        reason = status.get("stoppedReason") or task.get("spec", {}).get("stoppedReason") if after == "STOPPED" else None
        log.info(
            "task %s: %s -> %s%s", key, before or "(new)", after, f" ({reason})" if reason else "",
            extra={"fields": {"task": key, "from": before, "to": after, "stoppedReason": reason}},
        )  # fmt: skip


def _set_service_status(key: str, service: Stored, status: service_model.ServiceStatus) -> None:
    """Write the planner's status, and log each new service event in ECS's words."""
    seen = {event["id"] for event in (service.get("status") or {}).get("events", [])}
    service["status"] = status
    for event in reversed(status.get("events", [])):
        if event["id"] not in seen:
            log.info("service %s: %s", key, event["message"], extra={"fields": {"service": key, "event": event["message"]}})
