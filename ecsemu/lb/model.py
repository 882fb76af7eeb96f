"""The load balancer's input model: what to serve, as plain frozen records.

This is the whole contract between the ELBv2 control plane and the data plane. A sync
component reads the stored ELBv2 records and builds one :class:`LbSnapshot`; the engine
(:class:`ecsemu.lb.engine.LoadBalancerEngine`) is handed it with ``apply(snapshot)`` and makes
the world match. Nothing here knows about HTTP bytes, sockets or the state store.

Vocabulary (AWS's own words)
----------------------------
listener
    A port the load balancer accepts connections on, with its ``protocol`` (HTTP for an
    Application Load Balancer, TCP for a Network Load Balancer) and its rules.
rule
    ``priority`` (lower numbers are evaluated first; ``None`` marks the listener's default
    rule, evaluated last and matching everything), ``conditions`` (all must match; within one
    condition, any of its values may match), and one ``action``.
target group
    Targets plus how to reach them (``protocol``), how to pick one (``algorithm``) and how to
    check them (``health``).
target
    ``id`` (the registered id: an instance id or an IP, reported back as given), the address
    the engine dials (``host``:``port``), and ``draining_since`` (wall-clock seconds, set when
    the control plane deregisters it; a draining target gets no new requests).
simulated target
    A target of a task of the simulated runtime: nothing listens at its address. The engine
    gives it the host ``NO_ADDRESS`` (see ``LoadBalancerEngine``'s ``simulated_health``); such
    a target is never dialled — the proxy answers as for a refused connection (502) — and its
    health check asks the simulated runtime instead of opening a socket.
target key
    ``(target_group_arn, target_id, port)``: how every per-target figure is indexed.

Invariants
----------
* Records are frozen and hold tuples only, so a snapshot can be shared between threads.
* The snapshot is declarative: applying the same snapshot twice changes nothing.
* All listeners bind 127.0.0.1 only.
* ``idle_timeout_s`` lives on the listener here (in AWS it is a load balancer attribute:
  ``idle_timeout.timeout_seconds``, 60 s by default for an ALB; an NLB's TCP idle timeout is
  350 s); the sync component copies the load balancer's value into each of its listeners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

TargetGroupProtocol = Literal["HTTP", "HTTPS", "TCP"]
ListenerProtocol = Literal["HTTP", "TCP"]
Algorithm = Literal["round_robin", "least_outstanding_requests"]
HealthCheckProtocol = Literal["HTTP", "HTTPS", "TCP"]
RedirectStatus = Literal["HTTP_301", "HTTP_302"]
HealthState = Literal["initial", "healthy", "unhealthy", "draining", "unused", "unavailable"]

# ELB's defaults (CreateTargetGroup / the ALB's idle timeout attribute).
DEFAULT_HEALTH_INTERVAL_S = 30.0
DEFAULT_HEALTH_TIMEOUT_S = 5.0
DEFAULT_HEALTHY_THRESHOLD = 5
DEFAULT_UNHEALTHY_THRESHOLD = 2
DEFAULT_DEREGISTRATION_DELAY_S = 300.0
DEFAULT_IDLE_TIMEOUT_S = 60.0

NO_ADDRESS: Final = ""
"""The host of a simulated target: no address, so nothing is ever dialled (the pool refuses
it before any system call)."""


class TargetKey(NamedTuple):
    """``(target_group_arn, target_id, port)``; a plain tuple of the same values is equal to it."""

    tg_arn: str
    target_id: str
    port: int


# --------------------------------------------------------------------------- target groups


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheckSpec:
    """A target group's health check settings (ELB's ``HealthCheck*`` fields)."""

    enabled: bool = True
    protocol: HealthCheckProtocol = "HTTP"
    port: int | Literal["traffic-port"] = "traffic-port"
    path: str = "/"
    interval_s: float = DEFAULT_HEALTH_INTERVAL_S
    timeout_s: float = DEFAULT_HEALTH_TIMEOUT_S
    healthy_threshold: int = DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: int = DEFAULT_UNHEALTHY_THRESHOLD
    matcher: str = "200"
    """``Matcher.HttpCode``: ``"200"``, ``"200-299"``, ``"200,302"`` (ignored for TCP checks)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetSpec:
    """One registered target: ``id`` as registered, reached at ``host``:``port``."""

    id: str
    port: int
    host: str = "127.0.0.1"
    draining_since: float | None = None
    """Wall-clock time (``time.time()``) of the deregistration; ``None`` while registered."""

    @property
    def reachable(self) -> bool:
        """False for a simulated target (host ``NO_ADDRESS``): never connected to."""
        return self.host != NO_ADDRESS


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetGroupSpec:
    arn: str
    protocol: TargetGroupProtocol = "HTTP"
    port: int = 80
    algorithm: Algorithm = "round_robin"
    deregistration_delay_s: float = DEFAULT_DEREGISTRATION_DELAY_S
    health: HealthCheckSpec = field(default_factory=HealthCheckSpec)
    targets: tuple[TargetSpec, ...] = ()

    def key(self, target: TargetSpec) -> TargetKey:
        return TargetKey(self.arn, target.id, target.port)


# --------------------------------------------------------------------------- rule conditions
# Matching semantics (implemented in ecsemu.lb.rules): ``*`` matches 0 or more characters and
# ``?`` exactly one. Path patterns are case-sensitive and see the path only (no query); host
# names, header names and values, and query strings compare case-insensitively; methods compare
# exactly.


@dataclass(frozen=True, slots=True, kw_only=True)
class PathPattern:
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostHeader:
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpHeader:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequestMethod:
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryStringPair:
    """``key`` ``None`` matches a pair with any key; ``\\*`` and ``\\?`` are literal characters."""

    value: str
    key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryString:
    values: tuple[QueryStringPair, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceIp:
    """CIDR blocks, e.g. ``"127.0.0.0/8"``."""

    values: tuple[str, ...]


Condition = PathPattern | HostHeader | HttpHeader | HttpRequestMethod | QueryString | SourceIp


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True, kw_only=True)
class Forward:
    """Forward to one target group, or split by weight between several (weights 0-999)."""

    weights: tuple[tuple[str, int], ...]

    @classmethod
    def to(cls, tg_arn: str) -> Forward:
        return cls(weights=((tg_arn, 1),))


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedResponse:
    status: int
    content_type: str = "text/plain"
    body: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Redirect:
    """Each component may reuse ``#{protocol}``, ``#{host}``, ``#{port}``, ``#{path}`` (without
    its leading "/") and ``#{query}``; the defaults keep the original value."""

    status_code: RedirectStatus
    protocol: str = "#{protocol}"
    host: str = "#{host}"
    port: str = "#{port}"
    path: str = "/#{path}"
    query: str = "#{query}"


Action = Forward | FixedResponse | Redirect


# --------------------------------------------------------------------------- listeners


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSpec:
    action: Action
    priority: int | None = None
    """``None`` for the listener's default rule."""
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerSpec:
    arn: str
    port: int
    """The port asked for; see ``LoadBalancerEngine.bound_port`` for the one really bound."""
    protocol: ListenerProtocol = "HTTP"
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    rules: tuple[RuleSpec, ...] = ()
    load_balancer_arn: str = ""
    """Whose traffic counters this listener's requests add to (``traffic_counters``); empty:
    the listener counts as a load balancer of its own, under its own ARN."""

    @property
    def traffic_key(self) -> str:
        return self.load_balancer_arn or self.arn


@dataclass(frozen=True, slots=True, kw_only=True)
class LbSnapshot:
    listeners: tuple[ListenerSpec, ...] = ()
    target_groups: tuple[TargetGroupSpec, ...] = ()


# --------------------------------------------------------------------------- health (output)


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """DescribeTargetHealth's ``TargetHealth``: no reason nor description when healthy."""

    state: HealthState
    reason: str | None = None
    description: str | None = None
