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

from typing import Final

KIND: Final = "taskdef"
FAMILY_KIND: Final = "taskdef_family"


def record_id_of_arn(task_definition_arn: str) -> str:
    """``arn:…:task-definition/<family>:<revision>`` → ``<family>:<revision>``."""
    return task_definition_arn.split("/", 1)[1]
