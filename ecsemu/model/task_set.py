"""The task set record: kind ``task_set``, id ``<cluster>/<service>/<task set id>`` (the tail
of its ARN ``task-set/<cluster>/<service>/ecs-svc/<19 digits>``).

A record (:class:`TaskSetRecord`) holds, top level, what the TaskSet API wrote, under ECS's own
names: ``id``, ``taskSetArn``, ``serviceArn``, ``clusterArn``, ``serviceName``, ``clusterName``,
``status`` (ACTIVE, PRIMARY or DRAINING), ``taskDefinition``, ``scale`` ({value, unit PERCENT}),
launch settings (:class:`LaunchSettings`), ``loadBalancers`` and ``serviceRegistries`` (always
empty), ``externalId``?, ``clientToken``?, ``createdAt``, ``updatedAt`` and ``tags``.
What the scheduler observed lives in the service's status, ``taskSetCounts[<task set id>]``.

Vocabulary:
- *computed desired count*: ceil(service desiredCount * scale.value / 100), ECS's rounding.
- A task set *belongs* to a service when it names the service and was created after it: task
  sets left by a deleted service of the same name are not the new service's own.

These rules are shared by the TaskSet API (which renders them) and the task set scheduler
(which acts on them), so they live here and neither imports the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal, Required, TypedDict, cast

from ecsemu.model.service import ServiceRecord
from ecsemu.model.tags import Tag

KIND = "task_set"

# API-shaped blobs, stored as CreateTaskSet got them and passed on unread: a capacity provider
# strategy, networkConfiguration.
Blob = dict[str, Any]


class Scale(TypedDict):
    value: float
    unit: str  # PERCENT


class LaunchSettings(TypedDict, total=False):
    """The launch members of a task set, as CreateTaskSet settled them (absent when None)."""

    launchType: str
    capacityProviderStrategy: list[Blob]
    platformVersion: str
    platformFamily: str
    networkConfiguration: Blob


class ExternalReferences(TypedDict, total=False):
    """What the external controller gave CreateTaskSet to find its task set again."""

    externalId: str
    clientToken: str  # CreateTaskSet's idempotency


class TaskSetRecord(LaunchSettings, ExternalReferences, total=False):
    id: Required[str]  # ecs-svc/<19 digits>
    taskSetArn: Required[str]
    serviceArn: Required[str]
    clusterArn: Required[str]
    serviceName: Required[str]
    clusterName: Required[str]
    status: Required[Literal["ACTIVE", "PRIMARY", "DRAINING"]]
    taskDefinition: Required[str]
    loadBalancers: Required[list[Blob]]  # always empty: refused at CreateTaskSet
    serviceRegistries: Required[list[Blob]]  # always empty: refused at CreateTaskSet
    scale: Required[Scale]
    createdAt: Required[float]
    updatedAt: Required[float]
    tags: Required[list[Tag]]


def from_record(record: dict[str, Any]) -> TaskSetRecord:
    """The stored document, typed: no copy, no conversion (the JSON is the record)."""
    return cast(TaskSetRecord, record)


def to_record(task_set: TaskSetRecord) -> dict[str, Any]:
    """The typed record as the store takes it: the same object."""
    return cast(dict[str, Any], task_set)


def computed_desired_count(desired_count: int, scale: Scale | None) -> int:
    """ceil(desiredCount * scale / 100), ECS's rounding (1.2 tasks is 2)."""
    value = float(scale.get("value", 0.0)) if scale else 0.0
    return math.ceil(round(desired_count * value / 100, 9))


def service_key(task_set: TaskSetRecord) -> str:
    """The store id of the task set's service: ``<cluster>/<service>``."""
    return f"{task_set['clusterName']}/{task_set['serviceName']}"


def task_sets_of(key: str, task_sets: Iterable[TaskSetRecord]) -> list[TaskSetRecord]:
    """The task sets naming the service ``<cluster>/<service>``."""
    return [r for r in task_sets if service_key(r) == key]


def belongs(task_set: TaskSetRecord, service: ServiceRecord) -> bool:
    """Whether a task set is the service's own and not left by an earlier service of that name."""
    spec = service["spec"]
    same_name = (task_set["clusterName"], task_set["serviceName"]) == (spec["clusterName"], spec["serviceName"])
    return same_name and float(task_set["createdAt"]) >= float(spec.get("createdAt") or 0)
