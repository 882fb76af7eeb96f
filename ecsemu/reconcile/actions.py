"""What the planner asks the executor to do. Plain, immutable data.

Every action is idempotent: applying it twice leaves the world as applying it once.
Keys are store ids (``<cluster>/<task id>``, ``<cluster>/<service name>``) within a scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecsemu.context import Scope
from ecsemu.model.service import ServiceStatus
from ecsemu.model.task import TaskStatus
from ecsemu.runtime.base import TaskLaunch


@dataclass(frozen=True)
class Launch:
    """Ask the runtime to create and start a task's containers."""

    launch: TaskLaunch


@dataclass(frozen=True)
class StopContainers:
    task_arn: str
    timeout_s: float


@dataclass(frozen=True)
class RemoveContainers:
    task_arn: str


@dataclass(frozen=True)
class SetTaskStatus:
    """Replace a task's status with the one the planner computed."""

    scope: Scope
    key: str
    status: TaskStatus


@dataclass(frozen=True)
class ForgetTask:
    """Drop a STOPPED task whose retention period has passed."""

    scope: Scope
    key: str


@dataclass(frozen=True)
class PlaceTasks:
    """Create new task records for a service's deployment (the scheduler's spec write)."""

    scope: Scope
    service_key: str
    deployment_id: str
    task_ids: tuple[str, ...]


@dataclass(frozen=True)
class StopTask:
    """Ask a task to stop (the scheduler's spec write): scale-in, failed health, draining."""

    scope: Scope
    key: str
    stop_code: str
    reason: str


@dataclass(frozen=True)
class RollBack:
    """Start a new deployment of an earlier task definition (the circuit breaker's rollback)."""

    scope: Scope
    service_key: str
    failed_deployment_id: str
    deployment_id: str
    task_definition: str


@dataclass(frozen=True)
class RegisterTarget:
    """Register a task's container port in a target group (ECS does this in ACTIVATING).

    ``service_key`` names the task's service, for the log; the service's event about it is
    written by its planner, once the target group shows the registration.
    """

    scope: Scope
    service_key: str
    target_group_arn: str
    target_id: str
    port: int


@dataclass(frozen=True)
class DeregisterTarget:
    """Deregister it again (ECS does this in DEACTIVATING); the load balancer then drains it."""

    scope: Scope
    service_key: str
    target_group_arn: str
    target_id: str
    port: int


@dataclass(frozen=True)
class ShiftTraffic:
    """Point a production listener rule at target groups with these weights (blue/green)."""

    scope: Scope
    rule_arn: str
    weights: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class SetServiceStatus:
    """Replace a service's status (events included) with the one its planner computed: the
    planner is the status's one writer."""

    scope: Scope
    key: str
    status: ServiceStatus = field(default_factory=ServiceStatus)


Action = (
    Launch | StopContainers | RemoveContainers | SetTaskStatus | ForgetTask | PlaceTasks | StopTask | RollBack
    | RegisterTarget | DeregisterTarget | ShiftTraffic | SetServiceStatus
)
