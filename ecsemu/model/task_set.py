"""The task set record: kind ``task_set``, id ``<cluster>/<service>/<task set id>`` (the tail
of its ARN ``task-set/<cluster>/<service>/ecs-svc/<19 digits>``).

A record holds, top level, what the TaskSet API wrote, under ECS's own names: ``id``,
``taskSetArn``, ``serviceArn``, ``clusterArn``, ``serviceName``, ``clusterName``, ``status``
(ACTIVE, PRIMARY or DRAINING), ``taskDefinition``, ``scale`` ({value, unit PERCENT}), launch
settings, ``externalId``, ``clientToken``, ``createdAt``, ``updatedAt`` and ``tags``.
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
from typing import Any

Record = dict[str, Any]

KIND = "task_set"


def computed_desired_count(desired_count: int, scale: Record | None) -> int:
    """ceil(desiredCount * scale / 100), ECS's rounding (1.2 tasks is 2)."""
    value = float((scale or {}).get("value", 0.0))
    return math.ceil(round(desired_count * value / 100, 9))


def service_key(task_set: Record) -> str:
    """The store id of the task set's service: ``<cluster>/<service>``."""
    return f"{task_set['clusterName']}/{task_set['serviceName']}"


def task_sets_of(key: str, task_sets: Iterable[Record]) -> list[Record]:
    """The task sets naming the service ``<cluster>/<service>``."""
    return [r for r in task_sets if service_key(r) == key]


def belongs(task_set: Record, service: Record) -> bool:
    """Whether a task set is the service's own and not left by an earlier service of that name."""
    spec = service["spec"]
    same_name = (task_set["clusterName"], task_set["serviceName"]) == (spec["clusterName"], spec["serviceName"])
    return same_name and float(task_set["createdAt"]) >= float(spec.get("createdAt") or 0)
