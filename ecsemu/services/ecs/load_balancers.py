"""A service's ``loadBalancers``: the checks ECS makes when a service names target groups.

Each entry is ``{"targetGroupArn", "containerName", "containerPort"}``. ECS checks that the
target group exists and is attached to a load balancer, that the container and its port exist
in the task definition, and that awsvpc tasks go to ``ip`` target groups. Classic load
balancers (``loadBalancerName``) are not emulated.
"""

from __future__ import annotations

from typing import Any

from ecsemu.errors import NotSupportedError
from ecsemu.services.ecs.base import Call
from ecsemu.services.ecs.errors import InvalidParameterException
from ecsemu.services.elbv2 import base as elbv2
from ecsemu.services.elbv2.actions import target_group_load_balancers

Record = dict[str, Any]
MAX_TARGET_GROUPS = 5


def check_load_balancers(call: Call, entries: list[Record], definition: Record) -> list[Record]:
    """The entries as ECS stores them, or the error ECS answers."""
    if len(entries) > MAX_TARGET_GROUPS:
        raise InvalidParameterException("A service can have at most 5 target groups.")
    lb_call = elbv2.Call(call.context, call.store, call.now)
    attached = target_group_load_balancers(lb_call)
    containers = {c["name"]: c for c in definition["containerDefinitions"]}
    checked = []
    for entry in entries:
        if entry.get("loadBalancerName"):
            raise NotSupportedError("Classic Load Balancers (loadBalancerName)")
        arn = entry.get("targetGroupArn")
        if not arn:
            raise InvalidParameterException("targetGroupArn must be provided for an Application or Network Load Balancer.")
        group = lb_call.find(elbv2.TARGET_GROUP, arn)
        if group is None:
            raise InvalidParameterException(f"The target group with targetGroupArn {arn} does not exist.")
        if arn not in attached:
            raise InvalidParameterException(
                f"The target group with targetGroupArn {arn} does not have an associated load balancer."
            )
        name, port = entry.get("containerName"), entry.get("containerPort")
        container = containers.get(name or "")
        if container is None:
            raise InvalidParameterException(f"The container {name} does not exist in the task definition.")
        if port not in [m.get("containerPort") for m in container.get("portMappings", [])]:
            raise InvalidParameterException(f"The container {name} did not have a container port {port} defined.")
        target_type = elbv2.spec_of(group)["TargetType"]
        if definition.get("networkMode") == "awsvpc" and target_type != "ip":
            raise InvalidParameterException(
                f"The provided target group {arn} has target type {target_type}, which is incompatible with the "
                "awsvpc network mode specified in the task definition."
            )
        checked.append({"targetGroupArn": arn, "containerName": name, "containerPort": port})
    return checked
