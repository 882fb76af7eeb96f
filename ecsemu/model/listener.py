"""The listener record: kind ``elbv2.listener``, id the ARN's part after ``listener/``
(``app|net/<lb name>/<lb hex>/<16 hex>``).

Stored as JSON with ELBv2's member names::

    {"spec": {                                   # written by the ELBv2 API only
        "ListenerArn": str, "LoadBalancerArn": str,
        "Port": int,                             # the port the user asked for, always shown
        "Protocol": "HTTP" | "HTTPS" | "TCP" | "TLS" | "UDP" | "TCP_UDP",
        "DefaultActions": [action],              # normalized: see ecsemu.model.rule
        "Certificates"?: [{"CertificateArn": str}], "SslPolicy"?: str, "AlpnPolicy"?: [str],
        "DefaultRuleArn": str,                   # the listener's default rule (elbv2.rule)
        "CreatedTime": float, "Tags": [{"Key": str, "Value": str}]},
     "status": {"BoundPort"?: int, "BoundAddress"?: str, "Error"?: str}}   # written by lb/sync only

Invariant: every listener has exactly one default rule whose actions are the listener's
``DefaultActions`` (stored once, here). The data plane binds ``127.0.0.1:<Port>``, or another free
port when that one is taken, and records what it bound in ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.model.rule import Action, actions_from_record

KIND: Final = "elbv2.listener"

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    """Where the data plane listens for this listener, or why it does not."""

    bound_port: int | None = None
    bound_address: str | None = None
    error: str | None = None

    @classmethod
    def from_record(cls, status: Mapping[str, Any] | None) -> ListenerStatus:
        status = status or {}
        port = status.get("BoundPort")
        return cls(
            bound_port=None if port is None else int(port),
            bound_address=status.get("BoundAddress"),
            error=status.get("Error"),
        )

    def to_record(self) -> Record:
        record: Record = {}
        if self.bound_port is not None:
            record["BoundPort"] = self.bound_port
        if self.bound_address is not None:
            record["BoundAddress"] = self.bound_address
        if self.error is not None:
            record["Error"] = self.error
        return record


@dataclass(frozen=True, slots=True)
class Listener:
    arn: str
    load_balancer_arn: str
    port: int
    protocol: str
    default_actions: tuple[Action, ...]
    status: ListenerStatus

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Listener:
        spec = record["spec"]
        return cls(
            arn=str(spec["ListenerArn"]),
            load_balancer_arn=str(spec["LoadBalancerArn"]),
            port=int(spec["Port"]),
            protocol=str(spec["Protocol"]),
            default_actions=actions_from_record(spec.get("DefaultActions") or []),
            status=ListenerStatus.from_record(record.get("status")),
        )
