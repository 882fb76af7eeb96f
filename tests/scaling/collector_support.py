"""What the collector's tests share: fake runtime, wall clock and load balancer counters, task
records as the reconciler's tests write them, and readers of the metric store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecsemu.context import RequestContext, Scope
from ecsemu.model import task as task_model
from ecsemu.model.lb_metrics import TrafficCounters
from ecsemu.model.metrics import Aggregate, MetricKey, MetricStore
from ecsemu.runtime.base import RuntimeUnavailable, TaskUsage
from ecsemu.scaling.collector import Collector
from ecsemu.state.store import Store

ACCOUNT, REGION = "123456789012", "us-east-1"
SCOPE = Scope(ACCOUNT, REGION)
CONTEXT = RequestContext(ACCOUNT, REGION)
T0 = 1_800_000_000.0
SERVICE_DIMS = {"ClusterName": "c", "ServiceName": "svc"}
CLUSTER_DIMS = {"ClusterName": "c"}


# -- fakes and helpers -------------------------------------------------------------------------


class FakeRuntime:
    """A runtime's ``usage``: what each task reports, and which tasks were asked for."""

    def __init__(self) -> None:
        self.reports: dict[str, TaskUsage] = {}
        self.asked: list[list[str]] = []
        self.down = False

    def usage(self, task_arns: list[str]) -> dict[str, TaskUsage]:
        self.asked.append(list(task_arns))
        if self.down:
            raise RuntimeUnavailable("engine down")
        return {arn: self.reports[arn] for arn in task_arns if arn in self.reports}


class Wall:
    def __init__(self, at: float = T0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


class FakeTraffic:
    """The load balancer's ``traffic_counters``."""

    def __init__(self) -> None:
        self.counters: list[TrafficCounters] = []

    def __call__(self) -> Sequence[TrafficCounters]:
        return list(self.counters)


def definition(
    *, cpu: str | None = None, memory: str | None = None, containers: list[dict[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1",
        "family": "web",
        "revision": 1,
        "networkMode": "awsvpc",
        "containerDefinitions": [{"image": "app:1", "essential": True, **c} for c in containers],
    }
    if cpu is not None:
        out["cpu"] = cpu
    if memory is not None:
        out["memory"] = memory
    return out


def put_task(
    store: Store,
    task_id: str,
    task_definition: dict[str, Any],
    *,
    service: str | None = "svc",
    cluster: str = "c",
    last: str = "RUNNING",
    scope: Scope = SCOPE,
) -> str:
    record = task_model.new_task(
        scope, task_id=task_id, cluster_name=cluster, definition=task_definition, now=T0 - 100,
        started_by="ecs-svc/1" if service else None, service_name=service,
        deployment_id="ecs-svc/1" if service else None,
    )  # fmt: skip
    record["status"]["lastStatus"] = last
    store.put(scope, task_model.KIND, f"{cluster}/{task_id}", record)
    return str(record["spec"]["taskArn"])


def buckets(
    store: Store, namespace: str, name: str, dims: Mapping[str, str], at: float, scope: Scope = SCOPE
) -> list[Aggregate]:
    """The sample stamped ``at`` (a 1-second bucket holds exactly it)."""
    return MetricStore(store).aggregate(scope, MetricKey(namespace, name, dict(dims)), at, at + 1, 1)


def values(store: Store, namespace: str, name: str, dims: Mapping[str, str], at: float) -> list[float]:
    """Every single value written for the metric at ``at`` (sorted)."""
    found = MetricStore(store).aggregate(SCOPE, MetricKey(namespace, name, dict(dims)), at, at + 1, 1, with_values=True)
    return sorted(value for bucket in found for value, count in bucket.values for _ in range(int(count)))


def one(store: Store, namespace: str, name: str, dims: Mapping[str, str], at: float) -> float:
    found = values(store, namespace, name, dims, at)
    assert len(found) == 1, f"{name} {dims} at {at}: {found}"
    return found[0]


def nothing(store: Store, namespace: str, name: str, dims: Mapping[str, str], at: float) -> bool:
    return buckets(store, namespace, name, dims, at) == []


def two_samples(
    collector: Collector,
    wall: Wall,
    runtime: FakeRuntime,
    arn: str,
    before: float,
    after: float,
    *,
    seconds: float = 10.0,
    memory_mib: float | None = None,
) -> float:
    """Sample at T0 with ``before`` CPU seconds used, then ``seconds`` later with ``after``; the
    second sample's time."""
    wall.at = T0
    runtime.reports[arn] = TaskUsage(cpu_seconds=before, memory_mib=memory_mib)
    collector.sample(T0)
    wall.at = T0 + seconds
    runtime.reports[arn] = TaskUsage(cpu_seconds=after, memory_mib=memory_mib)
    collector.sample(T0 + seconds)
    return T0 + seconds


def new(store: Store | None = None) -> tuple[Store, FakeRuntime, Wall, Collector]:
    store = store or Store()
    runtime, wall = FakeRuntime(), Wall()
    return store, runtime, wall, Collector(store, runtime, wall=wall)
