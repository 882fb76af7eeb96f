"""Keeps the load balancer engine in step with the stored ELBv2 records, and writes back what
only the data plane knows.

Reads (spec, written by the ELBv2 API and the ECS scheduler): load balancers, listeners,
rules, target groups and their registrations. Writes (status, only here): each listener's
bound port, each registration's health as the engine judged it, and ``Drained`` once a
deregistering target has nothing in flight (ALB then completes the deregistration without
waiting out the delay).

``traffic_counters`` hands the engine's traffic counters to the metrics collector: each
listener carries its load balancer's ARN into the snapshot, so the engine already reports by
load balancer and target group ARN (``ecsemu.model.lb_metrics``).

``to_snapshot`` is pure: records in (read through the typed models of ``ecsemu.model``),
``LbSnapshot`` out. The ``LoadBalancerSync`` thread wakes
on store changes of the ELBv2 kinds, on the engine's health changes, and every second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ecsemu.context import Scope
from ecsemu.lb import model
from ecsemu.lb.engine import LoadBalancerEngine
from ecsemu.model import listener as listener_model
from ecsemu.model import load_balancer as load_balancer_model
from ecsemu.model import rule as rule_model
from ecsemu.model import target_group as target_group_model
from ecsemu.model.lb_metrics import TrafficCounters
from ecsemu.model.listener import Listener, ListenerStatus
from ecsemu.model.load_balancer import LoadBalancer
from ecsemu.model.rule import Rule
from ecsemu.model.target_group import TargetGroup
from ecsemu.state.store import Change, Store

log = logging.getLogger(__name__)
Record = dict[str, Any]

LOAD_BALANCER, TARGET_GROUP = load_balancer_model.KIND, target_group_model.KIND
LISTENER, RULE = listener_model.KIND, rule_model.KIND
KINDS = frozenset({LOAD_BALANCER, TARGET_GROUP, LISTENER, RULE})
RESYNC_S = 1.0
# What the health checker decides; "unused" and "draining" the API derives from the records.
JUDGED_STATES = frozenset({"initial", "healthy", "unhealthy", "unavailable"})


# -- records → snapshot (pure) -----------------------------------------------------------------


def _condition(condition: rule_model.Condition) -> model.Condition | None:
    field, values = condition.field, condition.values
    if field == "path-pattern":
        return model.PathPattern(values=values)
    if field == "host-header":
        return model.HostHeader(values=values)
    if field == "http-header":
        return model.HttpHeader(name=condition.header, values=values)
    if field == "http-request-method":
        return model.HttpRequestMethod(values=values)
    if field == "query-string":
        return model.QueryString(values=tuple(model.QueryStringPair(value=value, key=key) for key, value in condition.pairs))
    if field == "source-ip":
        return model.SourceIp(values=values)
    return None


def _action(actions: tuple[rule_model.Action, ...]) -> model.Action:
    """The terminal (last) action is what the data plane does."""
    action = actions[-1]
    if isinstance(action, rule_model.Forward):
        return model.Forward(weights=action.weights)
    if isinstance(action, rule_model.FixedResponse):
        return model.FixedResponse(status=action.status_code, content_type=action.content_type, body=action.body)
    return model.Redirect(
        status_code="HTTP_301" if action.status_code == "HTTP_301" else "HTTP_302",
        protocol=action.protocol,
        host=action.host,
        port=action.port,
        path=action.path,
        query=action.query,
    )


def _target_group(group: TargetGroup, now: float) -> model.TargetGroupSpec:
    targets = [
        model.TargetSpec(id=target.id, port=target.port, draining_since=target.deregistered_at)
        for target in group.targets.values()
        if not group.is_gone(target, now)
    ]
    check = group.health_check
    return model.TargetGroupSpec(
        arn=group.arn,
        protocol="HTTPS" if group.protocol == "HTTPS" else "HTTP" if group.protocol == "HTTP" else "TCP",
        port=group.port,
        algorithm="least_outstanding_requests" if group.algorithm == "least_outstanding_requests" else "round_robin",
        deregistration_delay_s=group.deregistration_delay_s,
        health=model.HealthCheckSpec(
            enabled=check.enabled,
            protocol="HTTPS" if check.protocol == "HTTPS" else "HTTP" if check.protocol == "HTTP" else "TCP",
            port="traffic-port" if check.port == "traffic-port" else int(check.port),
            path=check.path,
            interval_s=check.interval_s,
            timeout_s=check.timeout_s,
            healthy_threshold=check.healthy_threshold,
            unhealthy_threshold=check.unhealthy_threshold,
            matcher=check.matcher,
        ),
        targets=tuple(targets),
    )


def to_snapshot(
    load_balancers: Iterable[Record], listeners: Iterable[Record], rules: Iterable[Record], target_groups: Iterable[Record], now: float
) -> model.LbSnapshot:
    idle = {lb.arn: lb.idle_timeout_s for lb in map(LoadBalancer.from_record, load_balancers)}
    rules_of: dict[str, list[Rule]] = {}
    for rule in map(Rule.from_record, rules):
        rules_of.setdefault(rule.listener_arn, []).append(rule)
    listener_specs = []
    for listener in map(Listener.from_record, listeners):
        if listener.load_balancer_arn not in idle:
            continue
        specs = [
            model.RuleSpec(
                action=_action(rule.actions),
                priority=rule.priority,
                conditions=tuple(c for c in map(_condition, rule.conditions) if c is not None),
            )
            for rule in rules_of.get(listener.arn, [])
            if not rule.is_default and rule.actions
        ]
        specs.append(model.RuleSpec(action=_action(listener.default_actions)))
        listener_specs.append(
            model.ListenerSpec(
                arn=listener.arn,
                port=listener.port,
                protocol="HTTP" if listener.protocol in ("HTTP", "HTTPS") else "TCP",
                idle_timeout_s=listener.tcp_idle_timeout_s or idle[listener.load_balancer_arn],
                rules=tuple(specs),
                load_balancer_arn=listener.load_balancer_arn,
            )
        )
    return model.LbSnapshot(
        listeners=tuple(listener_specs),
        target_groups=tuple(_target_group(TargetGroup.from_record(tg), now) for tg in target_groups),
    )


# -- the loop ---------------------------------------------------------------------------------


class LoadBalancerSync:
    def __init__(self, store: Store, engine: LoadBalancerEngine, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        store.subscribe(self._on_change)
        engine.subscribe(lambda _key: self._wake.set())

    def _on_change(self, changes: list[Change]) -> None:
        if any(change.kind in KINDS for change in changes):
            self._wake.set()

    def start(self) -> None:
        self.engine.start()
        self._thread = threading.Thread(target=self._run, name="lb-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.engine.stop()

    def traffic_counters(self) -> list[TrafficCounters]:
        """The load balancer's traffic counters, cumulative since the engine started: one record
        per load balancer (``target_group_arn`` ``None``) and per load balancer and target group
        that carried traffic, by ARN. Thread-safe; waits briefly for the engine's loop (see
        ``LoadBalancerEngine.traffic_counters``)."""
        return self.engine.traffic_counters()

    def bound_listeners(self) -> list[dict[str, Any]]:
        """Every listener and where the data plane really listens for it, read from the engine:
        what ``GET /_ecsemu/listeners`` answers (the bound port is never in an AWS answer)."""
        out: list[dict[str, Any]] = []
        for scope in self.store.scopes():
            for record in self.store.list(scope, LISTENER):
                listener = Listener.from_record(record)
                bound = self.engine.bound_port(listener.arn)
                out.append(
                    {
                        "accountId": scope.account_id,
                        "region": scope.region,
                        "listenerArn": listener.arn,
                        "loadBalancerArn": listener.load_balancer_arn,
                        "protocol": listener.protocol,
                        "port": listener.port,
                        "boundAddress": "127.0.0.1" if bound else None,
                        "boundPort": bound,
                    }
                )
        return out

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.sync_once()
            except Exception:
                log.exception("load balancer sync failed")
            self._wake.wait(RESYNC_S)

    def sync_once(self) -> None:
        now = self.clock()
        snapshots = []
        for scope in self.store.scopes():
            lbs = self.store.list(scope, LOAD_BALANCER)
            if not lbs:
                continue
            tgs = self.store.list(scope, TARGET_GROUP)
            snapshots.append(to_snapshot(lbs, self.store.list(scope, LISTENER), self.store.list(scope, RULE), tgs, now))
        merged = model.LbSnapshot(
            listeners=tuple(listener for s in snapshots for listener in s.listeners),
            target_groups=tuple(tg for s in snapshots for tg in s.target_groups),
        )
        self.engine.apply(merged)
        self._write_back(merged, now)

    def _write_back(self, snapshot: model.LbSnapshot, now: float) -> None:
        health = self.engine.target_health()
        groups = {tg.arn: tg for tg in snapshot.target_groups}
        for scope in self.store.scopes():
            for record_id in self.store.ids(scope, LISTENER):
                self._write_listener(scope, record_id)
            for record_id in self.store.ids(scope, TARGET_GROUP):
                self._write_target_group(scope, record_id, groups, health, now)

    def _write_listener(self, scope: Scope, record_id: str) -> None:
        record = self.store.get(scope, LISTENER, record_id)
        if record is None:
            return
        port = self.engine.bound_port(Listener.from_record(record).arn)
        wanted = (
            ListenerStatus(bound_port=port, bound_address="127.0.0.1") if port else ListenerStatus(error="not bound")
        ).to_record()
        if record.get("status") != wanted:
            self.store.update(scope, LISTENER, record_id, lambda r: r.__setitem__("status", wanted))

    def _write_target_group(
        self, scope: Scope, record_id: str, groups: dict[str, model.TargetGroupSpec], health: dict[model.TargetKey, model.TargetHealth], now: float
    ) -> None:
        record = self.store.get(scope, TARGET_GROUP, record_id)
        if record is None:
            return
        group = TargetGroup.from_record(record)
        served = group.arn in groups
        judged_health: dict[str, target_group_model.TargetHealth] = {}
        for key, target in group.targets.items():
            judged = health.get(model.TargetKey(group.arn, target.id, target.port))
            known = judged is not None and judged.state in JUDGED_STATES
            drained = (
                target.is_deregistering and served and self.engine.in_flight(group.arn, target.id, target.port) <= 0
            )
            judged_health[key] = target_group_model.TargetHealth(
                registered_at=target.registered_at,
                state=judged.state if known and judged is not None else None,
                reason=judged.reason if known and judged is not None else None,
                description=judged.description if known and judged is not None else None,
                drained=drained,
            )
        wanted = {**record.get("status", {}), **target_group_model.status_record(judged_health)}
        if record.get("status") != wanted:
            self.store.update(scope, TARGET_GROUP, record_id, lambda r: r.__setitem__("status", wanted))
