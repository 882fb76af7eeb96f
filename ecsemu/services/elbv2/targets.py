"""Targets of a target group: RegisterTargets, DeregisterTargets, DescribeTargetHealth.

Targets live in their target group's record (kind ``elbv2.target_group``, laid out in
:mod:`ecsemu.model.target_group`), in two parts with one writer each:

``spec.Targets`` — registrations, written only by the API::

    {<target key>: {"Id": str, "Port": int, "AvailabilityZone"?: str,
                    "RegisteredAt": float, "DeregisteredAt"?: float}}

``status.Targets`` — health, written only by the data plane's health checker::

    {<target key>: {"State": "healthy" | "unhealthy" | "initial" | "unavailable" | ...,
                    "Reason"?: str, "Description"?: str,
                    "RegisteredAt": float}}   # the registration it judged (copied from spec)

The health checker writes ``status.Targets`` with ``Store.update`` (a read-modify-write under
the store's lock, as the API's own writes are), touching nothing in ``spec``; it drops the
entries whose key is no longer in ``spec.Targets``.

Vocabulary
----------
target key
    ``f"{Id}:{Port}"`` — one registration of an instance or IP on one port (``10.0.0.5:8080``,
    ``i-0abc:80``). The same Id may be registered on several ports.
registration
    ``RegisteredAt`` identifies it: registering a target anew (after a deregistration) starts a
    new registration, and health judged for an older one no longer counts.
draining
    A deregistered target stays, with ``DeregisteredAt``, for the target group's
    ``deregistration_delay.timeout_seconds`` while its load balancer drains it; after that it
    is gone (the API forgets it on its next write; reads never show it). A target group no
    load balancer uses has nothing to drain: deregistration removes at once.

What DescribeTargetHealth shows for a registration (AWS's states, reasons and descriptions;
``now`` is the time of the call):

1. draining (``DeregisteredAt`` set, delay not over): ``draining`` /
   ``Target.DeregistrationInProgress`` / "Target deregistration is in progress";
2. target group used by no load balancer: ``unused`` / ``Target.NotInUse`` / "Target group is
   not configured to receive traffic from the load balancer";
3. health the checker wrote for this registration: as written;
4. otherwise: ``initial`` / ``Elb.RegistrationInProgress`` / "Target registration is in
   progress" (until the data plane runs health checks).

A target asked for by name that is not registered: ``unused`` / ``Target.NotRegistered`` /
"Target is not registered to the target group".
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

from ecsemu.model.target_group import DEFAULT_DEREGISTRATION_DELAY, target_key
from ecsemu.services.elbv2.actions import target_group_load_balancers
from ecsemu.services.elbv2.base import TARGET_GROUP, Call, Params, Result, operation, require, spec_of, status_of
from ecsemu.services.elbv2.errors import InvalidTarget, OperationNotPermitted, TooManyTargets, ValidationError
from ecsemu.state.store import Record

MAX_TARGETS_PER_GROUP: Final = 1000
_INSTANCE_ID: Final = re.compile(r"^i-[0-9a-f]{8,17}$")

DRAINING: Final = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
NOT_IN_USE: Final = (
    "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
)  # fmt: skip
NOT_REGISTERED: Final = ("unused", "Target.NotRegistered", "Target is not registered to the target group")
REGISTERING: Final = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")


def deregistration_delay(spec: dict[str, Any]) -> float:
    return float(spec["Attributes"].get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY))


def is_gone(entry: dict[str, Any], delay: float, now: float) -> bool:
    """A deregistered target whose draining is over."""
    deregistered = entry.get("DeregisteredAt")
    return deregistered is not None and now >= deregistered + delay


def prune(spec: dict[str, Any], now: float) -> None:
    """Forget the registrations whose draining is over (only the API calls this: it writes spec)."""
    delay = deregistration_delay(spec)
    spec["Targets"] = {key: entry for key, entry in spec["Targets"].items() if not is_gone(entry, delay, now)}


def _targets(spec: dict[str, Any], given: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The (key, target) pairs of a request, ports defaulted to the group's, ids checked."""
    out = []
    for target in given:
        if target.get("QuicServerId"):
            raise OperationNotPermitted("QUIC targets are not supported by ecsemu yet.")
        target_id = target["Id"]
        port = target.get("Port") or spec["Port"]
        if spec["TargetType"] == "ip":
            try:
                address = ipaddress.ip_address(target_id)
            except ValueError as error:
                family = "IPv6" if spec["IpAddressType"] == "ipv6" else "IPv4"
                raise ValidationError(f"The IP address '{target_id}' is not a valid {family} address") from error
            if (address.version == 6) != (spec["IpAddressType"] == "ipv6"):
                raise ValidationError(
                    f"The IP address '{target_id}' does not match the target group's IP address type '{spec['IpAddressType']}'"
                )
        elif not _INSTANCE_ID.match(target_id):
            raise InvalidTarget(f"The following targets are not valid instances: '{target_id}'")
        entry: dict[str, Any] = {"Id": target_id, "Port": port}
        if target.get("AvailabilityZone"):
            entry["AvailabilityZone"] = target["AvailabilityZone"]
        out.append((target_key(target_id, port), entry))
    return out


@operation("RegisterTargets")
def register_targets(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, TARGET_GROUP, params["TargetGroupArn"])
        spec = spec_of(record)
        prune(spec, call.now)
        for key, entry in _targets(spec, params["Targets"]):
            current = spec["Targets"].get(key)
            if current is not None and current.get("DeregisteredAt") is None:
                continue  # registering a registered target again changes nothing
            spec["Targets"][key] = {**entry, "RegisteredAt": call.now}
        if len(spec["Targets"]) > MAX_TARGETS_PER_GROUP:
            raise TooManyTargets("You've reached the limit on the number of targets.")
        call.put(TARGET_GROUP, spec["TargetGroupArn"], record)
    return {}


@operation("DeregisterTargets")
def deregister_targets(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, TARGET_GROUP, params["TargetGroupArn"])
        spec = spec_of(record)
        prune(spec, call.now)
        pairs = _targets(spec, params["Targets"])
        missing = [entry["Id"] for key, entry in pairs if key not in spec["Targets"]]
        if missing:
            listed = ", ".join(f"'{target_id}'" for target_id in missing)
            raise InvalidTarget(
                f"The following targets are not registered in target group '{spec['TargetGroupArn']}': {listed}"
            )
        in_use = spec["TargetGroupArn"] in target_group_load_balancers(call)
        drains = in_use and deregistration_delay(spec) > 0
        for key, _ in pairs:
            if not drains:
                del spec["Targets"][key]
            elif spec["Targets"][key].get("DeregisteredAt") is None:
                spec["Targets"][key]["DeregisteredAt"] = call.now
        call.put(TARGET_GROUP, spec["TargetGroupArn"], record)
    return {}


def health_of(entry: dict[str, Any], status: dict[str, Any] | None, in_use: bool) -> tuple[str, str | None, str | None]:
    """(State, Reason, Description) of one live registration, by the rules above."""
    if entry.get("DeregisteredAt") is not None:
        return DRAINING
    if not in_use:
        return NOT_IN_USE
    if status is not None and status.get("RegisteredAt") == entry["RegisteredAt"] and status.get("State"):
        return status["State"], status.get("Reason"), status.get("Description")
    return REGISTERING


def _description(
    spec: dict[str, Any], entry: dict[str, Any], health: tuple[str, str | None, str | None]
) -> dict[str, Any]:
    target: dict[str, Any] = {"Id": entry["Id"], "Port": entry["Port"]}
    if entry.get("AvailabilityZone"):
        target["AvailabilityZone"] = entry["AvailabilityZone"]
    check_port = spec["HealthCheckPort"]
    state, reason, description = health
    shown: dict[str, Any] = {"State": state}
    if reason:
        shown["Reason"] = reason
    if description:
        shown["Description"] = description
    return {
        "Target": target,
        "HealthCheckPort": str(entry["Port"]) if check_port == "traffic-port" else check_port,
        "TargetHealth": shown,
    }


def describe(call: Call, record: Record, wanted: list[dict[str, Any]] | None, in_use: bool) -> list[dict[str, Any]]:
    spec = spec_of(record)
    health = status_of(record).get("Targets") or {}
    delay = deregistration_delay(spec)
    live = {key: entry for key, entry in spec["Targets"].items() if not is_gone(entry, delay, call.now)}
    if not wanted:
        return [_description(spec, entry, health_of(entry, health.get(key), in_use)) for key, entry in live.items()]
    out = []
    for key, entry in _targets(spec, wanted):
        found = live.get(key)
        if found is None:
            out.append(_description(spec, entry, NOT_REGISTERED))
        else:
            out.append(_description(spec, found, health_of(found, health.get(key), in_use)))
    return out


@operation("DescribeTargetHealth")
def describe_target_health(call: Call, params: Params) -> Result:
    record = require(call, TARGET_GROUP, params["TargetGroupArn"])
    in_use = spec_of(record)["TargetGroupArn"] in target_group_load_balancers(call)
    return {"TargetHealthDescriptions": describe(call, record, params.get("Targets"), in_use)}
