"""The target group record, its targets and their health: kind ``elbv2.target_group``, id the
ARN's part after ``targetgroup/`` (``<name>/<16 hex>``).

Stored as JSON (keys are ELBv2's own member names, so what users wrote reads back as written)::

    {"spec": {                                          # written by the ELBv2 API only
        "TargetGroupArn": str, "TargetGroupName": str,
        "Protocol": "HTTP" | "HTTPS" | "TCP" | "TLS" | "UDP" | "TCP_UDP",
        "ProtocolVersion"?: "HTTP1" | "HTTP2" | "GRPC",
        "Port": int, "VpcId": str, "TargetType": "instance" | "ip", "IpAddressType": "ipv4" | "ipv6",
        "HealthCheckProtocol": "HTTP" | "HTTPS" | "TCP", "HealthCheckPort": "traffic-port" | "<port>",
        "HealthCheckEnabled": bool, "HealthCheckIntervalSeconds": int, "HealthCheckTimeoutSeconds": int,
        "HealthyThresholdCount": int, "UnhealthyThresholdCount": int,
        "HealthCheckPath"?: str, "Matcher"?: {"HttpCode": str} | {"GrpcCode": str},
        "CreatedTime": float, "Attributes": {key: value},   # every attribute, defaults filled
        "Tags": [{"Key": str, "Value": str}],
        "Targets": {<target key>: {"Id": str, "Port": int, "AvailabilityZone"?: str,
                                   "RegisteredAt": float, "DeregisteredAt"?: float}}},
     "status": {                                        # written by the load balancer (lb/sync) only
        "Targets": {<target key>: {"RegisteredAt": float, "State"?: str, "Reason"?: str,
                                   "Description"?: str, "Drained"?: true}}}}

Vocabulary
----------
target key
    ``"<Id>:<Port>"``: one registration of an instance or IP on one port.
registration
    ``RegisteredAt`` names it: registering a target anew starts a new registration, and health
    judged for an older one (``status`` carries the ``RegisteredAt`` it judged) no longer counts.
draining
    A deregistered target keeps its entry, with ``DeregisteredAt``, for the group's
    ``deregistration_delay.timeout_seconds`` (or until the load balancer reports it ``Drained``:
    nothing in flight); then it is gone.

Readers in every layer use :class:`TargetGroup` (``TargetGroup.from_record``); nobody reads the
JSON above but this module and the ELBv2 API that writes ``spec``. Defaults live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

KIND: Final = "elbv2.target_group"

HTTP_PROTOCOLS: Final = ("HTTP", "HTTPS")
DEFAULT_DEREGISTRATION_DELAY: Final = "300"
DEFAULT_HEALTH_CHECK_INTERVAL_S: Final = 30
DEFAULT_HEALTH_CHECK_TIMEOUT_S: Final = 5
DEFAULT_HEALTHY_THRESHOLD: Final = 5
DEFAULT_UNHEALTHY_THRESHOLD: Final = 2
DEFAULT_MATCHER: Final = "200"

Record = dict[str, Any]

# Target group attributes and their defaults, for Application (HTTP/HTTPS) and Network
# (TCP/TLS/UDP/TCP_UDP) target groups.
_HEALTH_ROUTING: Final = {
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}
APPLICATION_ATTRIBUTES: Final = {
    "deregistration_delay.timeout_seconds": DEFAULT_DEREGISTRATION_DELAY,
    "load_balancing.algorithm.type": "round_robin",
    "load_balancing.algorithm.anomaly_mitigation": "off",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "slow_start.duration_seconds": "0",
    "stickiness.enabled": "false",
    "stickiness.type": "lb_cookie",
    "stickiness.lb_cookie.duration_seconds": "86400",
    "stickiness.app_cookie.cookie_name": "",
    "stickiness.app_cookie.duration_seconds": "86400",
    **_HEALTH_ROUTING,
}
NETWORK_ATTRIBUTES: Final = {
    "deregistration_delay.timeout_seconds": DEFAULT_DEREGISTRATION_DELAY,
    "deregistration_delay.connection_termination.enabled": "false",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "preserve_client_ip.enabled": "true",
    "proxy_protocol_v2.enabled": "false",
    "stickiness.enabled": "false",
    "stickiness.type": "source_ip",
    "target_health_state.unhealthy.connection_termination.enabled": "true",
    "target_health_state.unhealthy.draining_interval_seconds": "0",
    **_HEALTH_ROUTING,
}


def default_attributes(protocol: str, target_type: str) -> dict[str, str]:
    """Every attribute of a new target group, as AWS fills them in."""
    if protocol in HTTP_PROTOCOLS:
        return dict(APPLICATION_ATTRIBUTES)
    attributes = dict(NETWORK_ATTRIBUTES)
    if target_type == "ip" and protocol in ("TCP", "TLS"):
        attributes["preserve_client_ip.enabled"] = "false"
    return attributes


def target_key(target_id: str, port: int) -> str:
    return f"{target_id}:{port}"


@dataclass(frozen=True, slots=True)
class Target:
    """One registration (``spec.Targets[key]``), written by RegisterTargets/DeregisterTargets."""

    id: str
    port: int
    registered_at: float
    deregistered_at: float | None = None
    availability_zone: str | None = None

    @property
    def key(self) -> str:
        return target_key(self.id, self.port)

    @property
    def is_deregistering(self) -> bool:
        return self.deregistered_at is not None

    @classmethod
    def from_record(cls, entry: Mapping[str, Any]) -> Target:
        deregistered = entry.get("DeregisteredAt")
        return cls(
            id=str(entry["Id"]),
            port=int(entry["Port"]),
            registered_at=float(entry.get("RegisteredAt") or 0.0),
            deregistered_at=None if deregistered is None else float(deregistered),
            availability_zone=entry.get("AvailabilityZone"),
        )


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """What the load balancer judged of one registration (``status.Targets[key]``)."""

    registered_at: float
    state: str | None = None
    reason: str | None = None
    description: str | None = None
    drained: bool = False

    @classmethod
    def from_record(cls, entry: Mapping[str, Any]) -> TargetHealth:
        return cls(
            registered_at=float(entry.get("RegisteredAt") or 0.0),
            state=entry.get("State"),
            reason=entry.get("Reason"),
            description=entry.get("Description"),
            drained=bool(entry.get("Drained")),
        )

    def to_record(self) -> Record:
        entry: Record = {"RegisteredAt": self.registered_at}
        if self.state is not None:
            entry["State"] = self.state
        if self.reason:
            entry["Reason"] = self.reason
        if self.description:
            entry["Description"] = self.description
        if self.drained:
            entry["Drained"] = True
        return entry


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The group's health check settings, AWS's defaults filled in where the record has none."""

    enabled: bool = True
    protocol: str = "HTTP"
    port: str = "traffic-port"  # "traffic-port" or a port number as text, as ELBv2 shows it
    path: str = "/"
    interval_s: float = DEFAULT_HEALTH_CHECK_INTERVAL_S
    timeout_s: float = DEFAULT_HEALTH_CHECK_TIMEOUT_S
    healthy_threshold: int = DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: int = DEFAULT_UNHEALTHY_THRESHOLD
    matcher: str = DEFAULT_MATCHER

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> HealthCheck:
        return cls(
            enabled=bool(spec.get("HealthCheckEnabled", True)),
            protocol=str(spec.get("HealthCheckProtocol") or "HTTP"),
            port=str(spec.get("HealthCheckPort") or "traffic-port"),
            path=str(spec.get("HealthCheckPath") or "/"),
            interval_s=float(spec.get("HealthCheckIntervalSeconds", DEFAULT_HEALTH_CHECK_INTERVAL_S)),
            timeout_s=float(spec.get("HealthCheckTimeoutSeconds", DEFAULT_HEALTH_CHECK_TIMEOUT_S)),
            healthy_threshold=int(spec.get("HealthyThresholdCount", DEFAULT_HEALTHY_THRESHOLD)),
            unhealthy_threshold=int(spec.get("UnhealthyThresholdCount", DEFAULT_UNHEALTHY_THRESHOLD)),
            matcher=str((spec.get("Matcher") or {}).get("HttpCode", DEFAULT_MATCHER)),
        )


@dataclass(frozen=True, slots=True)
class TargetGroup:
    """A target group as every reader outside the ELBv2 API sees it: spec and status, typed."""

    arn: str
    name: str
    protocol: str
    port: int
    target_type: str
    ip_address_type: str
    health_check: HealthCheck
    attributes: Mapping[str, str]
    targets: Mapping[str, Target]  # target key → registration
    health: Mapping[str, TargetHealth] = field(default_factory=lambda: MappingProxyType({}))  # key → judged health

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TargetGroup:
        spec = record["spec"]
        status = record.get("status") or {}
        return cls(
            arn=str(spec["TargetGroupArn"]),
            name=str(spec.get("TargetGroupName") or ""),
            protocol=str(spec.get("Protocol") or "HTTP"),
            port=int(spec.get("Port") or 80),
            target_type=str(spec.get("TargetType") or "instance"),
            ip_address_type=str(spec.get("IpAddressType") or "ipv4"),
            health_check=HealthCheck.from_spec(spec),
            attributes=MappingProxyType(dict(spec.get("Attributes") or {})),
            targets=MappingProxyType({key: Target.from_record(e) for key, e in (spec.get("Targets") or {}).items()}),
            health=MappingProxyType(
                {key: TargetHealth.from_record(e) for key, e in (status.get("Targets") or {}).items()}
            ),
        )

    # -- derived facts ---------------------------------------------------------------------

    @property
    def is_http(self) -> bool:
        return self.protocol in HTTP_PROTOCOLS

    @property
    def deregistration_delay_s(self) -> float:
        return float(self.attributes.get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY))

    @property
    def algorithm(self) -> str:
        return self.attributes.get("load_balancing.algorithm.type", "round_robin")

    def is_gone(self, target: Target, now: float) -> bool:
        """A deregistered target whose draining delay is over."""
        return target.deregistered_at is not None and now >= target.deregistered_at + self.deregistration_delay_s

    def current_health(self, key: str) -> TargetHealth | None:
        """The health judged for the registration now under ``key``; None when none was."""
        target, health = self.targets.get(key), self.health.get(key)
        if target is None or health is None or health.registered_at != target.registered_at:
            return None
        return health


def status_record(health: Mapping[str, TargetHealth]) -> Record:
    """``status`` as the load balancer writes it: one entry per registration it knows."""
    return {"Targets": {key: entry.to_record() for key, entry in health.items()}}
