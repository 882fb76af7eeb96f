"""The engine's live state on its event loop: what the proxies consult per request.

Vocabulary
----------
``TargetGroupRuntime``
    A target group's spec plus what the engine learnt: the health record of each target, the
    reported health, the routable candidates (recomputed whenever health or targets change,
    so a request costs one index) and the rotation counter.
``ListenerRuntime``
    A listener's spec plus its rules in evaluation order, its weighted-forward scores, the
    port it bound, its server, its open client connections, and its references into the
    ``TrafficBook`` (its load balancer's totals, and one per target group it forwarded to).
``EngineState``
    Everything above, plus the per-target counters (requests in flight, requests sent) and
    the traffic counters per load balancer and target group (``traffic``).

Invariants
----------
* Only the event loop thread mutates anything here. Other threads read ``health_view`` (a
  dict replaced wholesale, never mutated) and copy ``in_flight`` / ``request_counts``
  (``dict.copy`` runs under the GIL without yielding).
* Decisions are delegated to the pure modules (``balancing``, ``health``, ``rules``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ecsemu.lb.balancing import choose_least_outstanding, choose_round_robin, choose_weighted, routable_targets
from ecsemu.lb.health import CheckResult, HealthRecord, advance, reported_health
from ecsemu.lb.model import (
    Forward,
    ListenerSpec,
    RuleSpec,
    TargetGroupSpec,
    TargetHealth,
    TargetKey,
    TargetSpec,
)
from ecsemu.lb.pool import Address, UpstreamPool
from ecsemu.lb.rules import evaluation_order, needs_facts
from ecsemu.lb.traffic import Traffic, TrafficBook


class ClosableConnection(Protocol):
    def close_when_idle(self) -> None: ...
    def abort(self) -> None: ...


class TargetGroupRuntime:
    __slots__ = ("counter", "in_use", "records", "reported", "routable", "routable_keys", "spec", "tls")

    def __init__(self, spec: TargetGroupSpec) -> None:
        self.spec = spec
        self.counter = 0
        self.in_use = False
        self.records: dict[TargetKey, HealthRecord] = {}
        self.reported: dict[TargetKey, TargetHealth] = {}
        self.routable: tuple[TargetSpec, ...] = ()
        self.routable_keys: tuple[TargetKey, ...] = ()
        self.tls = spec.protocol == "HTTPS"
        self.update(spec, in_use=False)

    def update(self, spec: TargetGroupSpec, *, in_use: bool) -> None:
        self.spec = spec
        self.tls = spec.protocol == "HTTPS"
        self.in_use = in_use
        keys = {spec.key(t) for t in spec.targets}
        self.records = {key: self.records.get(key, HealthRecord()) for key in keys}
        self.refresh()

    def record_result(self, key: TargetKey, result: CheckResult) -> None:
        record = self.records.get(key)
        if record is None:
            return
        self.records[key] = advance(record, result, self.spec.health)
        self.refresh()

    def refresh(self) -> None:
        spec = self.spec
        self.reported = {
            spec.key(t): reported_health(
                self.records.get(spec.key(t), HealthRecord()),
                draining=t.draining_since is not None,
                in_use=self.in_use,
                checks_enabled=spec.health.enabled,
            )
            for t in spec.targets
        }
        self.routable = routable_targets(spec, self.reported)
        self.routable_keys = tuple(spec.key(t) for t in self.routable)

    def choose(self, in_flight: dict[TargetKey, int]) -> tuple[TargetSpec, TargetKey] | None:
        candidates = self.routable
        if not candidates:
            return None
        if self.spec.algorithm == "least_outstanding_requests" and len(candidates) > 1:
            loads = [in_flight.get(key, 0) for key in self.routable_keys]
            target, self.counter = choose_least_outstanding(candidates, loads, self.counter)
        else:
            target, self.counter = choose_round_robin(candidates, self.counter)
        assert target is not None
        return target, self.spec.key(target)

    def address(self, target: TargetSpec) -> Address:
        return (target.host, target.port, self.tls)


class ListenerRuntime:
    __slots__ = (
        "bound_port",
        "closed",
        "connections",
        "group_traffic",
        "needs_facts",
        "ordered_rules",
        "requested_port",
        "server",
        "spec",
        "traffic",
        "traffic_book",
        "weighted",
    )

    def __init__(self, spec: ListenerSpec, bound_port: int, traffic_book: TrafficBook | None = None) -> None:
        self.traffic_book = traffic_book or TrafficBook()
        self.traffic = self.traffic_book.get(spec.traffic_key, None)
        self.group_traffic: dict[str, Traffic] = {}
        self.spec = spec
        self.requested_port = spec.port
        self.bound_port = bound_port
        self.server: asyncio.Server | None = None
        self.connections: set[ClosableConnection] = set()
        self.closed = False
        self.ordered_rules: tuple[RuleSpec, ...] = ()
        self.needs_facts = False
        self.weighted: dict[Forward, tuple[int, ...]] = {}
        self.update(spec)

    def update(self, spec: ListenerSpec) -> None:
        self.spec = spec
        self.refresh_traffic()
        self.ordered_rules = evaluation_order(spec.rules)
        self.needs_facts = needs_facts(self.ordered_rules)
        forwards = {r.action for r in spec.rules if isinstance(r.action, Forward)}
        self.weighted = {f: self.weighted.get(f, (0,) * len(f.weights)) for f in forwards}

    def refresh_traffic(self) -> None:
        """Re-fetch the references into the book (after an apply, which may have pruned it)."""
        self.traffic = self.traffic_book.get(self.spec.traffic_key, None)
        self.group_traffic = {}

    def traffic_of(self, tg_arn: str) -> Traffic:
        """The counters of (this listener's load balancer, ``tg_arn``)."""
        traffic = self.group_traffic.get(tg_arn)
        if traffic is None:
            traffic = self.group_traffic[tg_arn] = self.traffic_book.get(self.spec.traffic_key, tg_arn)
        return traffic

    def pick_target_group(self, forward: Forward) -> str | None:
        weights = forward.weights
        if len(weights) == 1:
            return weights[0][0]
        current = self.weighted.get(forward) or (0,) * len(weights)
        index, self.weighted[forward] = choose_weighted([w for _, w in weights], current)
        return None if index is None else weights[index][0]

    def default_forward(self) -> Forward | None:
        """For a TCP listener: the forward action of its default rule (or its first forward)."""
        for rule in reversed(self.ordered_rules):
            if isinstance(rule.action, Forward):
                return rule.action
        return None

    def close(self) -> None:
        """Stop accepting; idle connections close now, busy ones after their response."""
        self.closed = True
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close_when_idle()


class EngineState:
    """Shared by every connection of the engine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: UpstreamPool) -> None:
        self.loop = loop
        self.pool = pool
        self.target_groups: dict[str, TargetGroupRuntime] = {}
        self.listeners: dict[str, ListenerRuntime] = {}
        self.in_flight: dict[TargetKey, int] = {}
        self.request_counts: dict[TargetKey, int] = {}
        self.traffic = TrafficBook()
        self.health_view: dict[TargetKey, TargetHealth] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.on_health_change: Callable[[], None] = lambda: None

    def begin(self, key: TargetKey) -> None:
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.request_counts[key] = self.request_counts.get(key, 0) + 1

    def end(self, key: TargetKey) -> None:
        left = self.in_flight.get(key, 0) - 1
        if left > 0:
            self.in_flight[key] = left
        else:
            self.in_flight.pop(key, None)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task
