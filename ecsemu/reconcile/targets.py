"""A service task's load balancer targets, read from the typed target groups. Pure.

A task of a service with ``loadBalancers`` is registered, for each entry, as
``(target group, target id, host port)``: the id is ``127.0.0.1`` in an ``ip`` target group
(awsvpc) and the emulator's one local "instance" otherwise; the port is the host port the
container port is published on. The registrations are kept in the task's status, so the
task deregisters exactly what it registered.

Target groups are read through :class:`ecsemu.model.target_group.TargetGroup` (registrations
in ``targets``, what the load balancer judged in ``health``); a group that is None is gone.
"""

from __future__ import annotations

from typing import NamedTuple

from ecsemu.model.target_group import Target, TargetGroup, target_key
from ecsemu.model.task import TaskSpec, TaskStatus

LOCAL_INSTANCE_ID = "i-0ec5e000000000001"


class Registration(NamedTuple):
    target_group_arn: str
    target_id: str
    port: int

    @property
    def key(self) -> str:
        return target_key(self.target_id, self.port)


def wanted_registrations(
    spec: TaskSpec, status: TaskStatus, target_groups: dict[str, TargetGroup]
) -> list[Registration] | None:
    """What a running task should register; None while a host port is not known yet."""
    registrations = []
    for entry in spec.get("loadBalancers", []):
        group = target_groups.get(entry["targetGroupArn"])
        if group is None:
            continue  # the target group is gone: nothing to register in
        bindings = status.get("containers", {}).get(entry["containerName"], {}).get("networkBindings", [])
        port = next((b["hostPort"] for b in bindings if b.get("containerPort") == entry["containerPort"]), None)
        if port is None:
            return None
        target_id = "127.0.0.1" if group.target_type == "ip" else LOCAL_INSTANCE_ID
        registrations.append(Registration(entry["targetGroupArn"], target_id, int(port)))
    return registrations


def _target(group: TargetGroup | None, registration: Registration) -> Target | None:
    return None if group is None else group.targets.get(registration.key)


def is_registered(group: TargetGroup | None, registration: Registration) -> bool:
    target = _target(group, registration)
    return group is None or (target is not None and not target.is_deregistering)


def is_deregistering(group: TargetGroup | None, registration: Registration) -> bool:
    target = _target(group, registration)
    return target is None or target.is_deregistering


def is_drained(group: TargetGroup | None, registration: Registration, now: float) -> bool:
    """The load balancer no longer sends it anything: drained, the delay passed, or gone."""
    target = _target(group, registration)
    if group is None or target is None:
        return True
    if not target.is_deregistering:
        return False
    health = group.health.get(registration.key)
    return (health is not None and health.drained) or group.is_gone(target, now)


def health_state(group: TargetGroup | None, registration: Registration) -> str | None:
    """The state the load balancer reported for this registration, if any."""
    if group is None:
        return None
    health = group.current_health(registration.key)
    return None if health is None else health.state


def registrations_of(status: TaskStatus) -> list[Registration]:
    """The stored ``[target group ARN, target id, port]`` arrays, as registrations."""
    return [Registration(str(arn), str(target_id), int(port)) for arn, target_id, port in status.get("registrations", [])]
