"""The metrics ecsemu publishes by itself, from what really runs: ``AWS/ECS``, ``AWS/ApplicationELB``
and ``AWS/SQS`` datapoints, one sample at a time.

- ``AWS/ECS`` ``CPUUtilization`` and ``MemoryUtilization`` (Percent), dimensions
  ``ClusterName``+``ServiceName`` and ``ClusterName``: one value per RUNNING task of a service per
  sample — CPU used / CPU reserved * 100 and memory used / memory reserved * 100, as ECS computes
  them — so a period's Average is the service's, Maximum its busiest task's, SampleCount its
  task count. Reserved: the task's ``cpu``/``memory`` when set, else the sum of its containers'
  (``memoryReservation`` when no hard limit); a task reserving no CPU counts as reserving one
  vCPU (1024 units), one reserving no memory is left out of MemoryUtilization. CPU used is the
  difference of the runtime's CPU-time counter between two samples; a simulated task reports
  utilizations set through its test hook.
- ``AWS/ApplicationELB`` per target group (dimensions ``TargetGroup``+``LoadBalancer``, and
  ``TargetGroup`` for RequestCountPerTarget) and per load balancer (``LoadBalancer``):
  RequestCount, RequestCountPerTarget (the group's requests / its healthy targets, at least
  one), HTTPCode_Target_2XX/3XX/4XX/5XX_Count and TargetResponseTime (Seconds, the sample's
  average); on ``LoadBalancer`` only, HTTPCode_ELB_3XX/4XX/5XX/502/503/504_Count,
  NewConnectionCount and ProcessedBytes — from the load balancer's own counters,
  published for a sample only when non-zero, as ALB does; HealthyHostCount and
  UnHealthyHostCount (every sample) from the target groups' health.
- ``AWS/SQS`` per ``QueueName``: ApproximateNumberOfMessagesVisible / NotVisible / Delayed,
  ApproximateAgeOfOldestMessage (Seconds) and NumberOfMessagesSent / Received / Deleted.

Invariants: datapoints are stamped on the scaling clock (``now``); counters are cumulative
at their source and this module keeps the previous reading to publish differences, so a
restart of the source (or of ecsemu) publishes nothing negative: a counter not read before, or
lower than at the previous reading, counts from zero (``ecsemu.model.lb_metrics``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model import queues as queue_model
from ecsemu.model import target_group as target_group_model
from ecsemu.model import task as task_model
from ecsemu.model.lb_metrics import TrafficCounters, load_balancer_dimension, target_group_dimension
from ecsemu.model.metrics import Datapoint, MetricStore
from ecsemu.runtime.base import RuntimeUnavailable, TaskUsage, UsageReader
from ecsemu.state.store import Store

log = logging.getLogger(__name__)

ECS: Final = "AWS/ECS"
ELB: Final = "AWS/ApplicationELB"
SQS: Final = "AWS/SQS"
DEFAULT_CPU_UNITS: Final = 1024
COUNTER_METRICS: Final = (
    ("request_count", "RequestCount"),
    ("target_2xx", "HTTPCode_Target_2XX_Count"),
    ("target_3xx", "HTTPCode_Target_3XX_Count"),
    ("target_4xx", "HTTPCode_Target_4XX_Count"),
    ("target_5xx", "HTTPCode_Target_5XX_Count"),
)
# The load balancer's own answers are published on the LoadBalancer dimension only (as ALB does).
LOAD_BALANCER_ONLY: Final = (
    ("elb_3xx", "HTTPCode_ELB_3XX_Count"),
    ("elb_4xx", "HTTPCode_ELB_4XX_Count"),
    ("elb_5xx", "HTTPCode_ELB_5XX_Count"),
    ("elb_502", "HTTPCode_ELB_502_Count"),
    ("elb_503", "HTTPCode_ELB_503_Count"),
    ("elb_504", "HTTPCode_ELB_504_Count"),
    ("new_connections", "NewConnectionCount"),
    ("processed_bytes", "ProcessedBytes"),
)


def reserved(task: task_model.TaskRecord) -> tuple[float, float | None]:
    """(CPU units, memory MiB or None) the task reserves."""
    spec = task["spec"]
    cpu = _number(spec.get("cpu")) or sum(_number(c.get("cpu")) for c in spec["containers"]) or DEFAULT_CPU_UNITS
    memory = _number(spec.get("memory")) or sum(
        _number(c.get("memory") or c.get("memoryReservation")) for c in spec["containers"]
    )
    return cpu, memory or None


def _number(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


@dataclass
class Collector:
    store: Store
    runtime: UsageReader | None
    traffic: Callable[[], Sequence[TrafficCounters]] | None = None
    wall: Callable[[], float] = time.time
    _cpu: dict[str, tuple[float, float]] = field(default_factory=dict)  # task ARN → (CPU s, wall s)
    _traffic: dict[tuple[str, str | None], TrafficCounters] = field(default_factory=dict)
    _queues: dict[tuple[Scope, str], queue_model.QueueCounters] = field(default_factory=dict)
    _queues_primed: bool = False  # after the first SQS reading, a queue not seen before counts from zero

    def __post_init__(self) -> None:
        self.metrics = MetricStore(self.store)

    def sample(self, now: float) -> int:
        """Publish one sample stamped ``now`` (AWS time); returns how many datapoints."""
        points: dict[Scope, list[Datapoint]] = {}
        for scope, point in [*self._ecs(now), *self._elb(now), *self._sqs(now)]:
            points.setdefault(scope, []).append(point)
        for scope, batch in points.items():
            self.metrics.put_many(scope, batch)
        return sum(len(batch) for batch in points.values())

    # --- AWS/ECS ---------------------------------------------------------------------------------

    def _ecs(self, now: float) -> list[tuple[Scope, Datapoint]]:
        running: list[tuple[Scope, task_model.TaskRecord]] = []
        for scope in self.store.scopes():
            for record in self.store.list(scope, task_model.KIND):
                task = task_model.from_record(record)
                if task["spec"].get("serviceName") and task["status"].get("lastStatus") == "RUNNING":
                    running.append((scope, task))
        if self.runtime is None or not running:
            self._cpu.clear()
            return []
        try:
            usage = self.runtime.usage([t["spec"]["taskArn"] for _, t in running])
        except RuntimeUnavailable:
            return []
        wall = self.wall()
        out: list[tuple[Scope, Datapoint]] = []
        for scope, task in running:
            arn = task["spec"]["taskArn"]
            used = usage.get(arn)
            if used is None:
                continue
            cpu, memory = self._utilization(arn, used, reserved(task), wall)
            cluster, service = task["spec"]["clusterName"], str(task["spec"].get("serviceName"))
            for name, value in (("CPUUtilization", cpu), ("MemoryUtilization", memory)):
                if value is None:
                    continue
                for dimensions in ({"ClusterName": cluster, "ServiceName": service}, {"ClusterName": cluster}):
                    out.append((scope, Datapoint(ECS, name, dimensions, now, value=round(value, 4), unit="Percent")))
        for gone in set(self._cpu) - set(usage):
            del self._cpu[gone]
        return out

    def _utilization(
        self, arn: str, used: TaskUsage, reservation: tuple[float, float | None], wall: float
    ) -> tuple[float | None, float | None]:
        cpu_units, memory_mib = reservation
        cpu: float | None = used.cpu_percent
        if cpu is None and used.cpu_seconds is not None:
            previous = self._cpu.get(arn)
            self._cpu[arn] = (used.cpu_seconds, wall)
            if previous is not None and wall > previous[1]:
                busy = max(0.0, used.cpu_seconds - previous[0]) / (wall - previous[1])  # vCPUs busy
                cpu = busy * 1024 / cpu_units * 100
        memory: float | None = used.memory_percent
        if memory is None and used.memory_mib is not None and memory_mib:
            memory = used.memory_mib / memory_mib * 100
        return cpu, memory

    # --- AWS/ApplicationELB ----------------------------------------------------------------------

    def _elb(self, now: float) -> list[tuple[Scope, Datapoint]]:
        if self.traffic is None:
            return []
        out: list[tuple[Scope, Datapoint]] = []
        try:
            readings = self.traffic()
        except TimeoutError:
            return []  # the load balancer's loop is busy: the next sample counts it all
        groups = self._target_groups() if readings else {}  # read only when there is traffic
        for counters in readings:
            key = (counters.load_balancer_arn, counters.target_group_arn)
            previous = self._traffic.get(key)
            self._traffic[key] = counters
            scope = _scope_of(counters.load_balancer_arn)
            if scope is None:
                continue
            dimensions: dict[str, str] = {"LoadBalancer": load_balancer_dimension(counters.load_balancer_arn)}
            if counters.target_group_arn is not None:
                dimensions["TargetGroup"] = target_group_dimension(counters.target_group_arn)
                group = groups.get(counters.target_group_arn)
                healthy, unhealthy = _host_counts(group) if group is not None else (0, 0)
                out.append((scope, Datapoint(ELB, "HealthyHostCount", dimensions, now, value=healthy, unit="Count")))
                out.append(
                    (scope, Datapoint(ELB, "UnHealthyHostCount", dimensions, now, value=unhealthy, unit="Count"))
                )
            if previous is None:  # a key not read before: its counts began at zero
                previous = TrafficCounters(
                    load_balancer_arn=counters.load_balancer_arn, target_group_arn=counters.target_group_arn
                )
            published = (
                COUNTER_METRICS if counters.target_group_arn is not None else COUNTER_METRICS + LOAD_BALANCER_ONLY
            )
            for attribute, name in published:
                delta = _delta(int(getattr(counters, attribute)), int(getattr(previous, attribute)))
                if delta > 0:
                    unit = "Bytes" if name == "ProcessedBytes" else "Count"
                    out.append((scope, Datapoint(ELB, name, dimensions, now, value=delta, unit=unit)))
            requests = _delta(counters.request_count, previous.request_count)
            if counters.target_group_arn is not None and requests > 0:
                group = groups.get(counters.target_group_arn)
                per_target = requests / max(1, _host_counts(group)[0] if group is not None else 1)
                for dims in ({"TargetGroup": dimensions["TargetGroup"]}, dimensions):
                    out.append(
                        (scope, Datapoint(ELB, "RequestCountPerTarget", dims, now, value=per_target, unit="Count"))
                    )
            answered = _delta(counters.target_response_count, previous.target_response_count)
            restarted = counters.target_response_count < previous.target_response_count
            spent = counters.target_response_time_sum_s - (0.0 if restarted else previous.target_response_time_sum_s)
            if answered > 0:
                seconds = spent / answered
                out.append(
                    (
                        scope,
                        Datapoint(ELB, "TargetResponseTime", dimensions, now, value=max(0.0, seconds), unit="Seconds"),
                    )
                )
        return out

    def _target_groups(self) -> dict[str, target_group_model.TargetGroup]:
        out = {}
        for scope in self.store.scopes():
            for record in self.store.list(scope, target_group_model.KIND):
                group = target_group_model.TargetGroup.from_record(record)
                out[group.arn] = group
        return out

    # --- AWS/SQS ---------------------------------------------------------------------------------

    def _sqs(self, now: float) -> list[tuple[Scope, Datapoint]]:
        out: list[tuple[Scope, Datapoint]] = []
        wall = self.wall()
        for scope in self.store.scopes():
            if not self.store.count(scope, queue_model.KIND):
                continue
            for depth in queue_model.queue_depths(self.store, scope, wall):
                dims = {"QueueName": depth.queue_name}
                for name, value in (
                    ("ApproximateNumberOfMessagesVisible", depth.visible),
                    ("ApproximateNumberOfMessagesNotVisible", depth.not_visible),
                    ("ApproximateNumberOfMessagesDelayed", depth.delayed),
                ):
                    out.append((scope, Datapoint(SQS, name, dims, now, value=value, unit="Count")))
                if depth.oldest_age_s is not None:
                    out.append(
                        (
                            scope,
                            Datapoint(
                                SQS,
                                "ApproximateAgeOfOldestMessage",
                                dims,
                                now,
                                value=depth.oldest_age_s,
                                unit="Seconds",
                            ),
                        )
                    )
            for counters in queue_model.queue_counters(self.store, scope):
                previous = self._queues.get((scope, counters.queue_name))
                self._queues[(scope, counters.queue_name)] = counters
                if previous is None:
                    # At the first reading what was sent is history (ecsemu restarted); a queue
                    # first seen later is new: its counts began at zero.
                    zero = queue_model.QueueCounters(counters.queue_name, 0, 0, 0)
                    previous = zero if self._queues_primed else counters
                dims = {"QueueName": counters.queue_name}
                for name, now_value, before in (
                    ("NumberOfMessagesSent", counters.sent, previous.sent),
                    ("NumberOfMessagesReceived", counters.received, previous.received),
                    ("NumberOfMessagesDeleted", counters.deleted, previous.deleted),
                ):
                    out.append((scope, Datapoint(SQS, name, dims, now, value=_delta(now_value, before), unit="Count")))
        self._queues_primed = True
        return out


def _delta(now: int, before: int) -> int:
    """What a cumulative counter added since ``before``; a counter lower than before started
    again from zero (its source was reset)."""
    return now if now < before else now - before


def _host_counts(group: target_group_model.TargetGroup) -> tuple[int, int]:
    healthy = unhealthy = 0
    for key, target in group.targets.items():
        if target.is_deregistering:
            continue
        health = group.current_health(key)
        if health is not None and health.state == "healthy":
            healthy += 1
        elif health is not None and health.state == "unhealthy":
            unhealthy += 1
    return healthy, unhealthy


def _scope_of(arn: str) -> Scope | None:
    parts = arn.split(":")
    return Scope(parts[4], parts[3]) if len(parts) > 5 else None
