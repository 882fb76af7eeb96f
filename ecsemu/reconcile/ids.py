"""Where the planner gets new ids: an input like ``now``, so plans are reproducible in tests."""

from __future__ import annotations

import itertools
import secrets
import uuid
from typing import Protocol


class Ids(Protocol):
    def task_id(self) -> str: ...

    def event_id(self) -> str: ...

    def attachment_id(self) -> str: ...

    def deployment_id(self) -> str: ...


class RandomIds:
    def task_id(self) -> str:
        return secrets.token_hex(16)

    def event_id(self) -> str:
        return str(uuid.uuid4())

    def attachment_id(self) -> str:
        return str(uuid.uuid4())

    def deployment_id(self) -> str:
        return "ecs-svc/" + "".join(secrets.choice("0123456789") for _ in range(19))


class CountingIds:
    """Deterministic ids for tests: task-1, event-1, ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def task_id(self) -> str:
        return f"{next(self._counter):032x}"

    def event_id(self) -> str:
        return f"event-{next(self._counter)}"

    def attachment_id(self) -> str:
        return f"00000000-0000-0000-0000-{next(self._counter):012d}"

    def deployment_id(self) -> str:
        return f"ecs-svc/{next(self._counter):019d}"
