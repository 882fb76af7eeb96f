"""The load balancer record: kind ``elbv2.load_balancer``, id the ARN's part after
``loadbalancer/`` (``app/<name>/<16 hex>`` or ``net/<name>/<16 hex>``).

Stored as JSON with ELBv2's member names::

    {"spec": {                                        # written by the ELBv2 API only
        "LoadBalancerArn": str, "LoadBalancerName": str,
        "Type": "application" | "network", "Scheme": "internet-facing" | "internal",
        "IpAddressType": "ipv4" | "dualstack" | "dualstack-without-public-ipv4",
        "VpcId": str, "SecurityGroups": [str],
        "AvailabilityZones": [{"ZoneName": str, "SubnetId": str, "LoadBalancerAddresses": []}],
        "DNSName": str, "CanonicalHostedZoneId": str, "CreatedTime": float,
        "Attributes": {key: value},                   # every attribute, defaults filled
        "Tags": [{"Key": str, "Value": str}]},
     "status": {"State"?: {"Code": "active" | "active_impaired" | "failed", "Reason"?: str}}}

Readers outside the ELBv2 API use :class:`LoadBalancer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

KIND: Final = "elbv2.load_balancer"
DEFAULT_IDLE_TIMEOUT: Final = "60"


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    arn: str
    name: str
    type: str  # "application" | "network"
    dns_name: str
    attributes: Mapping[str, str]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LoadBalancer:
        spec = record["spec"]
        return cls(
            arn=str(spec["LoadBalancerArn"]),
            name=str(spec.get("LoadBalancerName") or ""),
            type=str(spec.get("Type") or "application"),
            dns_name=str(spec.get("DNSName") or ""),
            attributes=MappingProxyType(dict(spec.get("Attributes") or {})),
        )

    @property
    def idle_timeout_s(self) -> float:
        return float(self.attributes.get("idle_timeout.timeout_seconds", DEFAULT_IDLE_TIMEOUT))
