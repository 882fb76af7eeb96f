"""ARNs: the one builder and parser every layer uses.

    arn:aws:<service>:<region>:<account>:<resource type>/<resource>

ECS uses the long format (``task/<cluster>/<id>``, ``service/<cluster>/<name>``,
``task-definition/<family>:<revision>`` …); ELBv2 ARNs name their record: the part after
``<resource type>/`` is the record's id in the store, so an ARN finds its record without a scan.
An ARN of another account or region names nothing in this scope.
"""

from __future__ import annotations

from typing import Final

from ecsemu.context import Scope

ECS: Final = "ecs"
ELBV2: Final = "elasticloadbalancing"


def arn(service: str, scope: Scope, resource_type: str, resource: str) -> str:
    return f"arn:aws:{service}:{scope.region}:{scope.account_id}:{resource_type}/{resource}"


def ecs_arn(scope: Scope, resource_type: str, resource: str) -> str:
    return arn(ECS, scope, resource_type, resource)


def resource_of(service: str, scope: Scope, resource_type: str, text: object) -> str | None:
    """The ``<resource>`` part of ``text`` when it is an ARN of that service and type in this
    scope; None otherwise (another account or region, another type, not an ARN)."""
    if not isinstance(text, str):
        return None
    prefix = arn(service, scope, resource_type, "")
    if not text.startswith(prefix) or len(text) == len(prefix):
        return None
    return text[len(prefix) :]
