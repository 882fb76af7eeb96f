"""Keeps the load balancer engine in step with the stored ELBv2 records, and writes back what
only the data plane knows.

Reads (spec, written by the ELBv2 API and the ECS scheduler): load balancers, listeners,
rules, target groups and their registrations. Writes (status, only here): each listener's
bound port, each registration's health as the engine judged it, and ``Drained`` once a
deregistering target has nothing in flight (ALB then completes the deregistration without
waiting out the delay).

``to_snapshot`` is pure: records in, ``LbSnapshot`` out. The ``LoadBalancerSync`` thread wakes
on store changes of the ELBv2 kinds, on the engine's health changes, and every second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ecsemu.lb import model
from ecsemu.lb.engine import LoadBalancerEngine
from ecsemu.state.store import Change, Store

log = logging.getLogger(__name__)
Record = dict[str, Any]

LOAD_BALANCER, TARGET_GROUP, LISTENER, RULE = "elbv2.load_balancer", "elbv2.target_group", "elbv2.listener", "elbv2.rule"
KINDS = frozenset({LOAD_BALANCER, TARGET_GROUP, LISTENER, RULE})
RESYNC_S = 1.0
# What the health checker decides; "unused" and "draining" the API derives from the records.
JUDGED_STATES = frozenset({"initial", "healthy", "unhealthy", "unavailable"})


# -- records → model (pure) -------------------------------------------------------------------


def _condition(condition: Record) -> model.Condition | None:
    field = condition.get("Field")
    if field == "path-pattern":
        return model.PathPattern(values=tuple((condition.get("PathPatternConfig") or {}).get("Values") or condition.get("Values", [])))
    if field == "host-header":
        return model.HostHeader(values=tuple((condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values", [])))
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        return model.HttpHeader(name=config.get("HttpHeaderName", ""), values=tuple(config.get("Values", [])))
    if field == "http-request-method":
        return model.HttpRequestMethod(values=tuple((condition.get("HttpRequestMethodConfig") or {}).get("Values", [])))
    if field == "query-string":
        pairs = (condition.get("QueryStringConfig") or {}).get("Values", [])
        return model.QueryString(values=tuple(model.QueryStringPair(value=p.get("Value", ""), key=p.get("Key")) for p in pairs))
    if field == "source-ip":
        return model.SourceIp(values=tuple((condition.get("SourceIpConfig") or {}).get("Values", [])))
    return None


def _action(actions: list[Record]) -> model.Action:
    action = sorted(actions, key=lambda a: a.get("Order", 0))[-1]
    kind = action.get("Type")
    if kind == "forward":
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or [{"TargetGroupArn": action["TargetGroupArn"]}]
        return model.Forward(weights=tuple((g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups))
    if kind == "fixed-response":
        config = action["FixedResponseConfig"]
        return model.FixedResponse(
            status=int(config["StatusCode"]), content_type=config.get("ContentType", "text/plain"), body=config.get("MessageBody", "")
        )
    config = action["RedirectConfig"]
    return model.Redirect(
        status_code=config["StatusCode"],
        protocol=config.get("Protocol", "#{protocol}"),
        host=config.get("Host", "#{host}"),
        port=config.get("Port", "#{port}"),
        path=config.get("Path", "/#{path}"),
        query=config.get("Query", "#{query}"),
    )


def _target_group(spec: Record, now: float) -> model.TargetGroupSpec:
    attributes = spec.get("Attributes", {})
    delay = float(attributes.get("deregistration_delay.timeout_seconds", "300"))
    targets = []
    for entry in spec.get("Targets", {}).values():
        deregistered = entry.get("DeregisteredAt")
        if deregistered is not None and now >= deregistered + delay:
            continue
        targets.append(model.TargetSpec(id=entry["Id"], port=int(entry["Port"]), draining_since=deregistered))
    port = spec.get("HealthCheckPort", "traffic-port")
    protocol = spec.get("Protocol", "HTTP")
    return model.TargetGroupSpec(
        arn=spec["TargetGroupArn"],
        protocol=protocol if protocol in ("HTTP", "HTTPS") else "TCP",
        port=int(spec.get("Port") or 80),
        algorithm="least_outstanding_requests"
        if attributes.get("load_balancing.algorithm.type") == "least_outstanding_requests"
        else "round_robin",
        deregistration_delay_s=delay,
        health=model.HealthCheckSpec(
            enabled=bool(spec.get("HealthCheckEnabled", True)),
            protocol=spec.get("HealthCheckProtocol", "HTTP") if spec.get("HealthCheckProtocol") in ("HTTP", "HTTPS") else "TCP",
            port="traffic-port" if port == "traffic-port" else int(port),
            path=spec.get("HealthCheckPath") or "/",
            interval_s=float(spec.get("HealthCheckIntervalSeconds", 30)),
            timeout_s=float(spec.get("HealthCheckTimeoutSeconds", 5)),
            healthy_threshold=int(spec.get("HealthyThresholdCount", 5)),
            unhealthy_threshold=int(spec.get("UnhealthyThresholdCount", 2)),
            matcher=(spec.get("Matcher") or {}).get("HttpCode", "200"),
        ),
        targets=tuple(targets),
    )


def to_snapshot(
    load_balancers: Iterable[Record], listeners: Iterable[Record], rules: Iterable[Record], target_groups: Iterable[Record], now: float
) -> model.LbSnapshot:
    idle = {
        lb["spec"]["LoadBalancerArn"]: float(lb["spec"].get("Attributes", {}).get("idle_timeout.timeout_seconds", "60"))
        for lb in load_balancers
    }
    rules_of: dict[str, list[Record]] = {}
    for rule in rules:
        rules_of.setdefault(rule["spec"]["ListenerArn"], []).append(rule["spec"])
    listener_specs = []
    for listener in listeners:
        spec = listener["spec"]
        if spec["LoadBalancerArn"] not in idle:
            continue
        specs = [
            model.RuleSpec(
                action=_action(rule["Actions"]),
                priority=int(rule["Priority"]),
                conditions=tuple(c for c in (_condition(x) for x in rule.get("Conditions", [])) if c is not None),
            )
            for rule in rules_of.get(spec["ListenerArn"], [])
            if not rule.get("IsDefault") and rule.get("Actions")
        ]
        specs.append(model.RuleSpec(action=_action(spec["DefaultActions"])))
        listener_specs.append(
            model.ListenerSpec(
                arn=spec["ListenerArn"],
                port=int(spec["Port"]),
                protocol="HTTP" if spec["Protocol"] in ("HTTP", "HTTPS") else "TCP",
                idle_timeout_s=idle[spec["LoadBalancerArn"]],
                rules=tuple(specs),
            )
        )
    return model.LbSnapshot(
        listeners=tuple(listener_specs), target_groups=tuple(_target_group(tg["spec"], now) for tg in target_groups)
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

    def _write_listener(self, scope: Any, record_id: str) -> None:
        record = self.store.get(scope, LISTENER, record_id)
        if record is None:
            return
        port = self.engine.bound_port(record["spec"]["ListenerArn"])
        wanted = {"BoundPort": port, "BoundAddress": "127.0.0.1"} if port else {"Error": "not bound"}
        if record.get("status") != wanted:
            self.store.update(scope, LISTENER, record_id, lambda r: r.__setitem__("status", wanted))

    def _write_target_group(
        self, scope: Any, record_id: str, groups: dict[str, model.TargetGroupSpec], health: dict[model.TargetKey, model.TargetHealth], now: float
    ) -> None:
        record = self.store.get(scope, TARGET_GROUP, record_id)
        if record is None:
            return
        spec = record["spec"]
        group = groups.get(spec["TargetGroupArn"])
        targets: dict[str, Record] = {}
        for key, entry in spec.get("Targets", {}).items():
            judged = health.get(model.TargetKey(spec["TargetGroupArn"], entry["Id"], int(entry["Port"])))
            status: Record = {"RegisteredAt": entry["RegisteredAt"]}
            if judged is not None and judged.state in JUDGED_STATES:
                status["State"] = judged.state
                if judged.reason:
                    status["Reason"] = judged.reason
                if judged.description:
                    status["Description"] = judged.description
            if entry.get("DeregisteredAt") is not None and group is not None:
                in_flight = self.engine.in_flight(spec["TargetGroupArn"], entry["Id"], int(entry["Port"]))
                if in_flight <= 0:
                    status["Drained"] = True
            targets[key] = status
        wanted = {**record.get("status", {}), "Targets": targets}
        if record.get("status") != wanted:
            self.store.update(scope, TARGET_GROUP, record_id, lambda r: r.__setitem__("status", wanted))
