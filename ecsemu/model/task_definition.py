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

Readers outside the ECS API use :class:`TaskDefinition`; container definitions stay in the API's
own shape (botocore's ``ContainerDefinition``), which is what the runtime translates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

KIND: Final = "taskdef"
FAMILY_KIND: Final = "taskdef_family"


def record_id_of_arn(task_definition_arn: str) -> str:
    """``arn:…:task-definition/<family>:<revision>`` → ``<family>:<revision>``."""
    return task_definition_arn.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int
    status: str
    network_mode: str | None
    container_definitions: tuple[Mapping[str, Any], ...]
    volumes: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TaskDefinition:
        return cls(
            arn=str(record["taskDefinitionArn"]),
            family=str(record["family"]),
            revision=int(record["revision"]),
            status=str(record.get("status") or "ACTIVE"),
            network_mode=record.get("networkMode"),
            container_definitions=tuple(record.get("containerDefinitions") or ()),
            volumes=tuple(record.get("volumes") or ()),
        )

    @property
    def is_active(self) -> bool:
        return self.status == "ACTIVE"
