"""A service task's load balancer targets, read from the ELBv2 target group records. Pure.

A task of a service with ``loadBalancers`` is registered, for each entry, as
``(target group, target id, host port)``: the id is ``127.0.0.1`` in an ``ip`` target group
(awsvpc) and the emulator's one local "instance" otherwise; the port is the host port the
container port is published on. The registrations are kept in the task's status, so the
task deregisters exactly what it registered.

Target group records (kind ``elbv2.target_group``): ``spec.Targets[<id>:<port>]`` holds the
registration (``RegisteredAt``, ``DeregisteredAt`` while draining); ``status.Targets`` what
the load balancer judged (``State``, ``Reason``; ``Drained`` once nothing is in flight).
"""

from __future__ import annotations

from typing import Any, NamedTuple

Record = dict[str, Any]

LOCAL_INSTANCE_ID = "i-0ec5e000000000001"


class Registration(NamedTuple):
    target_group_arn: str
    target_id: str
    port: int


def wanted_registrations(spec: Record, status: Record, target_groups: dict[str, Record]) -> list[Registration] | None:
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
        target_id = "127.0.0.1" if group["spec"].get("TargetType") == "ip" else LOCAL_INSTANCE_ID
        registrations.append(Registration(entry["targetGroupArn"], target_id, int(port)))
    return registrations


def _entry(group: Record | None, registration: Registration) -> Record | None:
    if group is None:
        return None
    entry: Record | None = group["spec"].get("Targets", {}).get(f"{registration.target_id}:{registration.port}")
    return entry


def is_registered(group: Record | None, registration: Registration) -> bool:
    entry = _entry(group, registration)
    return group is None or (entry is not None and entry.get("DeregisteredAt") is None)


def is_deregistering(group: Record | None, registration: Registration) -> bool:
    entry = _entry(group, registration)
    return entry is None or entry.get("DeregisteredAt") is not None


def is_drained(group: Record | None, registration: Registration, now: float) -> bool:
    """The load balancer no longer sends it anything: drained, the delay passed, or gone."""
    entry = _entry(group, registration)
    if group is None or entry is None:
        return True
    if entry.get("DeregisteredAt") is None:
        return False
    delay = float(group["spec"].get("Attributes", {}).get("deregistration_delay.timeout_seconds", "300"))
    health = group.get("status", {}).get("Targets", {}).get(f"{registration.target_id}:{registration.port}", {})
    return bool(health.get("Drained")) or now >= float(entry["DeregisteredAt"]) + delay


def health_state(group: Record | None, registration: Registration) -> str | None:
    """The state the load balancer reported for this registration, if any."""
    entry = _entry(group, registration)
    if group is None or entry is None:
        return None
    health = group.get("status", {}).get("Targets", {}).get(f"{registration.target_id}:{registration.port}", {})
    if health.get("RegisteredAt") != entry.get("RegisteredAt"):
        return None
    state: str | None = health.get("State")
    return state


def registrations_of(status: Record) -> list[Registration]:
    return [Registration(*item) for item in status.get("registrations", [])]
