"""An ECS tag as stored on clusters, task definitions, services, tasks and task sets: exactly
``{"key", "value"}`` (ECS's own lower-case member names; ELBv2 writes ``Key``/``Value``)."""

from __future__ import annotations

from typing import TypedDict


class Tag(TypedDict):
    key: str
    value: str
