"""A service's ``loadBalancers``: the checks ECS makes when a service names target groups.

Each entry is ``{"targetGroupArn", "containerName", "containerPort"}``. ECS checks that the
target group exists and is attached to a load balancer, that the container and its port exist
in the task definition, and that awsvpc tasks go to ``ip`` target groups. It reads ELBv2
through the typed query of :mod:`ecsemu.model.load_balancing`, never ELBv2's records. Classic load
balancers (``loadBalancerName``) are not emulated.
"""

from __future__ import annotations

from typing import Any, cast

from ecsemu.errors import NotSupportedError
from ecsemu.model.load_balancing import LoadBalancingFacts
from ecsemu.model.service import AdvancedConfiguration, ServiceLoadBalancer
from ecsemu.services.ecs.base import Call
from ecsemu.services.ecs.errors import InvalidParameterException

Record = dict[str, Any]
MAX_TARGET_GROUPS = 5


def check_load_balancers(call: Call, entries: list[Any], definition: Record) -> list[ServiceLoadBalancer]:
    """The entries (as given, or as stored before) as ECS stores them, or the error ECS answers."""
    if len(entries) > MAX_TARGET_GROUPS:
        raise InvalidParameterException("A service can have at most 5 target groups.")
    facts = LoadBalancingFacts(call.store, call.scope)
    attached = facts.target_group_load_balancers()
    containers = {c["name"]: c for c in definition["containerDefinitions"]}
    checked = []
    for entry in entries:
        if entry.get("loadBalancerName"):
            raise NotSupportedError("Classic Load Balancers (loadBalancerName)")
        arn = entry.get("targetGroupArn")
        if not arn:
            raise InvalidParameterException("targetGroupArn must be provided for an Application or Network Load Balancer.")
        group = facts.target_group(arn)
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
        target_type = group.target_type
        if definition.get("networkMode") == "awsvpc" and target_type != "ip":
            raise InvalidParameterException(
                f"The provided target group {arn} has target type {target_type}, which is incompatible with the "
                "awsvpc network mode specified in the task definition."
            )
        stored: ServiceLoadBalancer = {"targetGroupArn": arn, "containerName": str(name), "containerPort": int(port)}
        advanced = entry.get("advancedConfiguration")
        if advanced:
            stored["advancedConfiguration"] = _check_advanced(facts, attached, arn, advanced)
        checked.append(stored)
    return checked


def _check_advanced(
    facts: LoadBalancingFacts, attached: dict[str, list[str]], arn: str, advanced: Record
) -> AdvancedConfiguration:
    """A blue/green pair: the alternate target group and the production listener rule."""
    alternate = advanced.get("alternateTargetGroupArn")
    if not alternate or facts.target_group(alternate) is None:
        raise InvalidParameterException(f"The alternate target group {alternate} does not exist.")
    if alternate == arn:
        raise InvalidParameterException("The alternate target group must differ from the target group.")
    if alternate not in attached:
        raise InvalidParameterException(
            f"The target group with targetGroupArn {alternate} does not have an associated load balancer."
        )
    for member in ("productionListenerRule", "testListenerRule"):
        rule = advanced.get(member)
        required = member == "productionListenerRule"
        if (required or rule) and (not rule or not facts.rule_exists(rule)):
            raise InvalidParameterException(f"The {member} {rule} does not exist.")
    return cast(AdvancedConfiguration, dict(advanced))  # the schema checked its members


def check_strategy(strategy: str, load_balancers: list[ServiceLoadBalancer], controller: str) -> None:
    """Blue/green, linear and canary shift production traffic: they need the pair of target
    groups and the production listener rule of every load balancer entry."""
    if strategy == "ROLLING" or controller != "ECS":
        return
    if not load_balancers or not all(
        (entry.get("advancedConfiguration") or {}).get("productionListenerRule") for entry in load_balancers
    ):
        raise InvalidParameterException(
            f"The {strategy} deployment strategy requires loadBalancers with an advancedConfiguration "
            "(alternateTargetGroupArn and productionListenerRule)."
        )
