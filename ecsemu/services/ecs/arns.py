"""ECS resource ARNs in the long format, and the name-or-ARN rules ECS applies.

    arn:aws:ecs:<region>:<account>:cluster/<name>
    arn:aws:ecs:<region>:<account>:service/<cluster>/<name>
    arn:aws:ecs:<region>:<account>:task/<cluster>/<id>
    arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>
    arn:aws:ecs:<region>:<account>:container-instance/<cluster>/<id>
    arn:aws:ecs:<region>:<account>:capacity-provider/<name>
    arn:aws:ecs:<region>:<account>:task-set/<cluster>/<service>/<id>
"""

from __future__ import annotations

import random
import secrets
from typing import NamedTuple

from ecsemu.context import Scope
from ecsemu.model.arns import ecs_arn


class Arn(NamedTuple):
    region: str
    account_id: str
    resource_type: str
    resource: str  # everything after "<type>/"


def arn(scope: Scope, resource_type: str, resource: str) -> str:
    return ecs_arn(scope, resource_type, resource)


def parse(text: str) -> Arn | None:
    """Split an ECS ARN; None when ``text`` is not one."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs" or "/" not in parts[5]:
        return None
    resource_type, _, resource = parts[5].partition("/")
    return Arn(parts[3], parts[4], resource_type, resource)


def is_arn(text: str) -> bool:
    return text.startswith("arn:")


def last_segment(name_or_arn: str) -> str:
    """The resource's own name or id: the part after the last '/' of an ARN, else as given."""
    if is_arn(name_or_arn):
        return name_or_arn.rsplit("/", 1)[-1]
    return name_or_arn


def new_task_id() -> str:
    return secrets.token_hex(16)


def new_deployment_id() -> str:
    """``ecs-svc/`` and a 19-digit number, as ECS shows them (a number: no leading zero)."""
    return "ecs-svc/" + random.choice("123456789") + "".join(random.choices("0123456789", k=18))


def new_short_id() -> str:
    return secrets.token_hex(16)
