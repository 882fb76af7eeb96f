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
        "Attributes"?: {key: value},             # every listener attribute, defaults filled
        "CreatedTime": float, "Tags": [{"Key": str, "Value": str}]},
     "status": {"BoundPort"?: int, "BoundAddress"?: str, "Error"?: str}}   # written by lb/sync only

Invariant: every listener has exactly one default rule whose actions are the listener's
``DefaultActions`` (stored once, here). The data plane binds ``127.0.0.1:<Port>``, or another free
port when that one is taken, and records what it bound in ``status`` (never in anything the API
shows: the admin endpoint ``GET /_ecsemu/listeners`` tells it).

Listener attributes: records written before they existed have no ``Attributes``; readers take
``default_attributes(protocol)`` for them, so the stored and the default form mean the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ecsemu.model.rule import Action, actions_from_record

KIND: Final = "elbv2.listener"

APPLICATION_ATTRIBUTES: Final = {"routing.http.response.server.enabled": "true"}
"""An ALB listener's attributes as DescribeListenerAttributes shows them before any change."""
NETWORK_ATTRIBUTES: Final = {"tcp.idle_timeout.seconds": "350"}
"""An NLB listener's: its TCP idle timeout (60-6000 s, AWS's default 350)."""
HTTP_PROTOCOLS: Final = ("HTTP", "HTTPS")


def default_attributes(protocol: str) -> dict[str, str]:
    """The attributes of a new listener of ``protocol`` (ALB protocols, or NLB ones)."""
    return dict(APPLICATION_ATTRIBUTES if protocol in HTTP_PROTOCOLS else NETWORK_ATTRIBUTES)

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
    attributes: Mapping[str, str]

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
            attributes=MappingProxyType(dict(spec.get("Attributes") or default_attributes(str(spec["Protocol"])))),
        )

    @property
    def tcp_idle_timeout_s(self) -> float | None:
        """An NLB listener's idle timeout (``tcp.idle_timeout.seconds``); None for an ALB's."""
        value = self.attributes.get("tcp.idle_timeout.seconds")
        return None if value is None else float(value)
