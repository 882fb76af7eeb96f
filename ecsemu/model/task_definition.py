"""The task definition record: kind ``taskdef``, id ``<family>:<revision>``; and kind
``taskdef_family``, id the family, ``{"family": str, "lastRevision": int}`` — the last revision
ever given, so numbers are never reused.

A ``taskdef`` record is the TaskDefinition exactly as DescribeTaskDefinition shows it (botocore's
``TaskDefinition`` shape: ``taskDefinitionArn``, ``family``, ``revision``, ``status``,
``containerDefinitions`` with ECS's defaults filled in (``cpu`` 0, ``essential`` true,
``portMappings[].protocol`` tcp, ``hostPort`` = ``containerPort`` in awsvpc/host mode, empty
``environment``/``mountPoints``/``volumesFrom``/``systemControls``), ``volumes``,
``networkMode``?, ``cpu``?/``memory``? as strings, ``compatibilities``, ``registeredAt``,
``registeredBy``, …), plus ``tags``. It is written once by RegisterTaskDefinition; only
``status`` changes after (ACTIVE → INACTIVE → DELETE_IN_PROGRESS), and only ACTIVE revisions
start new tasks or services.

The reconciler reads it as that shape (container definitions are what the runtime translates).
"""

from __future__ import annotations

from typing import Any, Final, Literal, Required, TypedDict, cast

from ecsemu.model.tags import Tag

KIND: Final = "taskdef"
FAMILY_KIND: Final = "taskdef_family"


def record_id_of_arn(task_definition_arn: str) -> str:
    """``arn:…:task-definition/<family>:<revision>`` → ``<family>:<revision>``."""
    return task_definition_arn.split("/", 1)[1]


# A container definition, a volume, a placement constraint…: botocore's own shapes, filled in by
# RegisterTaskDefinition and passed through as they are (the runtime translates them).
ApiShape = dict[str, Any]


class TaskDefinitionRecord(TypedDict, total=False):
    """A ``taskdef`` record, as stored (and, without ``tags``, as DescribeTaskDefinition shows it)."""

    taskDefinitionArn: Required[str]
    family: Required[str]
    revision: Required[int]
    status: Required[Literal["ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"]]
    containerDefinitions: Required[list[ApiShape]]
    volumes: Required[list[ApiShape]]
    placementConstraints: Required[list[ApiShape]]
    compatibilities: Required[list[str]]
    requiresAttributes: Required[list[ApiShape]]
    registeredAt: Required[float]
    registeredBy: Required[str]
    tags: Required[list[Tag]]
    # copied from RegisterTaskDefinition when given (cpu and memory as strings)
    taskRoleArn: str
    executionRoleArn: str
    networkMode: Literal["bridge", "host", "awsvpc", "none"]
    requiresCompatibilities: list[str]
    cpu: str
    memory: str
    pidMode: str
    ipcMode: str
    proxyConfiguration: ApiShape
    inferenceAccelerators: list[ApiShape]
    ephemeralStorage: ApiShape
    runtimePlatform: ApiShape
    enableFaultInjection: bool
    # the lifecycle
    deregisteredAt: float
    deleteRequestedAt: float


def from_record(record: dict[str, Any]) -> TaskDefinitionRecord:
    """The stored document, typed: no copy, no conversion (the JSON is the record)."""
    return cast(TaskDefinitionRecord, record)
