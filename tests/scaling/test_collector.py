"""The metrics collector: AWS/ECS utilization from what the runtime reports, AWS/ApplicationELB
from the load balancer's counters and target health, AWS/SQS from the queues.

The runtime and the load balancer are fakes (their ``usage`` and ``traffic_counters``); the
records are the real ones (task records as the reconciler's tests write them, load balancers,
target groups and queues through their providers). Values are read back through the metric
store and, for one of each, through CloudWatch's GetMetricStatistics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ecsemu.context import RequestContext, Scope
from ecsemu.model import target_group as target_group_model
from ecsemu.model import task as task_model
from ecsemu.model.lb_metrics import TrafficCounters, load_balancer_dimension, target_group_dimension
from ecsemu.model.metrics import Aggregate, MetricKey, MetricStore
from ecsemu.runtime.base import RuntimeUnavailable, TaskUsage
from ecsemu.scaling.collector import Collector
from ecsemu.services.cloudwatch.provider import CloudWatchProvider
from ecsemu.services.elbv2.provider import Elbv2Provider
from ecsemu.services.sqs.provider import SqsProvider
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


# -- AWS/ECS CPU -------------------------------------------------------------------------------


def test_the_first_sample_of_a_task_publishes_no_cpu_the_second_does() -> None:
    store, runtime, wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="256", memory="512", containers=[{"name": "app"}]))
    runtime.reports[arn] = TaskUsage(cpu_seconds=100.0)
    assert collector.sample(T0) == 0
    assert nothing(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0)
    wall.at = T0 + 10
    runtime.reports[arn] = TaskUsage(cpu_seconds=101.25)  # 1.25 CPU s in 10 s: 0.125 vCPU = 128 units of 256
    assert collector.sample(T0 + 10) == 2
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0 + 10) == pytest.approx(50.0)
    assert one(store, "AWS/ECS", "CPUUtilization", CLUSTER_DIMS, T0 + 10) == pytest.approx(50.0)
    [bucket] = buckets(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0 + 10)
    assert bucket.unit == "Percent"


@pytest.mark.parametrize(
    ("task_definition", "expected"),
    [
        # one full vCPU busy (10 CPU s in 10 s) = 1024 units used
        (definition(cpu="2048", memory="4096", containers=[{"name": "app", "cpu": 128}]), 50.0),  # task-level wins
        (
            definition(containers=[{"name": "a", "cpu": 512, "memory": 64}, {"name": "b", "cpu": 1536, "memory": 64}]),
            50.0,
        ),
        (definition(containers=[{"name": "app", "memory": 64}]), 100.0),  # no cpu: one vCPU (1024 units)
        (definition(cpu="4096", memory="8192", containers=[{"name": "app"}]), 25.0),
    ],
    ids=["task-level", "container-level-sum", "no-cpu-1024-units", "four-vcpu"],
)
def test_cpu_is_used_over_reserved_units(task_definition: dict[str, Any], expected: float) -> None:
    store, runtime, wall, collector = new()
    arn = put_task(store, "t1", task_definition)
    at = two_samples(collector, wall, runtime, arn, 50.0, 60.0)
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, at) == pytest.approx(expected)


def test_cpu_is_over_the_wall_time_between_samples_not_the_aws_time() -> None:
    # Under a compressed clock 10 AWS seconds pass in a sixth of a real second: CPU time is real.
    store, runtime, wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="1024", memory="2048", containers=[{"name": "app"}]))
    wall.at = T0
    runtime.reports[arn] = TaskUsage(cpu_seconds=0.0)
    collector.sample(T0)
    wall.at = T0 + 0.5
    runtime.reports[arn] = TaskUsage(cpu_seconds=0.25)
    collector.sample(T0 + 30)
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0 + 30) == pytest.approx(50.0)


def test_a_cpu_counter_that_went_back_counts_as_idle() -> None:
    store, runtime, wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="256", memory="512", containers=[{"name": "app"}]))
    at = two_samples(collector, wall, runtime, arn, 100.0, 3.0)  # container restarted
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, at) == 0.0


def test_no_cpu_when_the_wall_clock_did_not_move() -> None:
    store, runtime, _wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="256", memory="512", containers=[{"name": "app"}]))
    runtime.reports[arn] = TaskUsage(cpu_seconds=1.0)
    collector.sample(T0)
    runtime.reports[arn] = TaskUsage(cpu_seconds=2.0)
    collector.sample(T0 + 10)  # wall still T0: no division by zero, nothing published
    assert nothing(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0 + 10)


def test_a_task_that_left_starts_again_from_its_first_sample() -> None:
    store, runtime, wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="1024", memory="2048", containers=[{"name": "app"}]))
    two_samples(collector, wall, runtime, arn, 0.0, 5.0)
    del runtime.reports[arn]  # not reported once: forgotten
    wall.at = T0 + 20
    collector.sample(T0 + 20)
    assert arn not in collector._cpu
    wall.at = T0 + 30
    runtime.reports[arn] = TaskUsage(cpu_seconds=500.0)
    collector.sample(T0 + 30)
    assert nothing(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0 + 30)  # no difference over the gap


# -- AWS/ECS memory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_definition", "expected"),
    [
        (definition(cpu="256", memory="1024", containers=[{"name": "app", "memory": 128}]), 25.0),  # task-level
        (definition(containers=[{"name": "a", "memory": 300}, {"name": "b", "memory": 212}]), 50.0),  # containers' sum
        (definition(containers=[{"name": "app", "memoryReservation": 256}]), 100.0),  # soft limit only
        (definition(containers=[{"name": "a", "memory": 128}, {"name": "b", "memoryReservation": 384}]), 50.0),
    ],
    ids=["task-level", "container-memory", "memory-reservation", "mixed"],
)
def test_memory_is_used_over_reserved_mib(task_definition: dict[str, Any], expected: float) -> None:
    store, runtime, _wall, collector = new()
    arn = put_task(store, "t1", task_definition)
    runtime.reports[arn] = TaskUsage(cpu_seconds=0.0, memory_mib=256.0)
    collector.sample(T0)  # memory needs no previous sample
    assert one(store, "AWS/ECS", "MemoryUtilization", SERVICE_DIMS, T0) == pytest.approx(expected)
    assert one(store, "AWS/ECS", "MemoryUtilization", CLUSTER_DIMS, T0) == pytest.approx(expected)


def test_a_task_reserving_no_memory_has_no_memory_utilization() -> None:
    store, runtime, wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="256", containers=[{"name": "app"}]))
    at = two_samples(collector, wall, runtime, arn, 0.0, 1.0, memory_mib=100.0)
    assert nothing(store, "AWS/ECS", "MemoryUtilization", SERVICE_DIMS, at)
    assert nothing(store, "AWS/ECS", "MemoryUtilization", CLUSTER_DIMS, at)
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, at) == pytest.approx(0.1 * 1024 / 256 * 100)


# -- simulated percents, dimension sets, which tasks -------------------------------------------


def test_simulated_percents_are_taken_as_they_are_from_the_first_sample() -> None:
    store, runtime, _wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="256", memory="512", containers=[{"name": "app"}]))
    runtime.reports[arn] = TaskUsage(cpu_percent=87.5, memory_percent=12.25)
    assert collector.sample(T0) == 4  # two metrics, two dimension sets
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0) == 87.5
    assert one(store, "AWS/ECS", "MemoryUtilization", SERVICE_DIMS, T0) == 12.25
    assert one(store, "AWS/ECS", "CPUUtilization", CLUSTER_DIMS, T0) == 87.5


def test_one_value_per_task_so_average_maximum_and_sample_count_are_the_services() -> None:
    store, runtime, _wall, collector = new()
    task_definition = definition(cpu="256", memory="512", containers=[{"name": "app"}])
    for task_id, cpu in (("a", 20.0), ("b", 40.0), ("c", 90.0)):
        runtime.reports[put_task(store, task_id, task_definition)] = TaskUsage(cpu_percent=cpu, memory_percent=10.0)
    other = put_task(store, "d", task_definition, service="api")
    runtime.reports[other] = TaskUsage(cpu_percent=10.0, memory_percent=10.0)
    collector.sample(T0)
    [service] = buckets(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0)
    assert (service.sample_count, service.sum, service.minimum, service.maximum) == (3, 150.0, 20.0, 90.0)
    [cluster] = buckets(store, "AWS/ECS", "CPUUtilization", CLUSTER_DIMS, T0)
    assert (cluster.sample_count, cluster.sum) == (4, 160.0)  # the cluster's: every service's tasks
    assert one(store, "AWS/ECS", "CPUUtilization", {"ClusterName": "c", "ServiceName": "api"}, T0) == 10.0


def test_only_running_service_tasks_are_measured() -> None:
    store, runtime, _wall, collector = new()
    task_definition = definition(cpu="256", memory="512", containers=[{"name": "app"}])
    running = put_task(store, "run", task_definition)
    pending = put_task(store, "pend", task_definition, last="PENDING")
    stopping = put_task(store, "stop", task_definition, last="DEACTIVATING")
    stopped = put_task(store, "done", task_definition, last="STOPPED")
    standalone = put_task(store, "alone", task_definition, service=None)
    for arn in (running, pending, stopping, stopped, standalone):
        runtime.reports[arn] = TaskUsage(cpu_percent=50.0, memory_percent=50.0)
    collector.sample(T0)
    assert runtime.asked == [[running]]
    [bucket] = buckets(store, "AWS/ECS", "CPUUtilization", CLUSTER_DIMS, T0)
    assert bucket.sample_count == 1


def test_no_running_task_means_no_call_and_nothing_published() -> None:
    store, runtime, _wall, collector = new()
    put_task(store, "pend", definition(cpu="256", memory="512", containers=[{"name": "app"}]), last="PENDING")
    assert collector.sample(T0) == 0
    assert runtime.asked == []


def test_tasks_of_each_scope_are_published_in_their_own_scope() -> None:
    store, runtime, _wall, collector = new()
    elsewhere = Scope("210987654321", "eu-west-1")
    task_definition = definition(cpu="256", memory="512", containers=[{"name": "app"}])
    runtime.reports[put_task(store, "here", task_definition)] = TaskUsage(cpu_percent=10.0)
    runtime.reports[put_task(store, "there", task_definition, scope=elsewhere)] = TaskUsage(cpu_percent=70.0)
    collector.sample(T0)
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0) == 10.0
    [there] = buckets(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, T0, scope=elsewhere)
    assert there.sum == 70.0


def test_an_unavailable_runtime_publishes_no_ecs_metric_and_is_not_an_error() -> None:
    store, runtime, _wall, collector = new()
    arn = put_task(store, "t1", definition(cpu="256", memory="512", containers=[{"name": "app"}]))
    runtime.reports[arn] = TaskUsage(cpu_percent=10.0, memory_percent=10.0)
    runtime.down = True
    assert collector.sample(T0) == 0


def test_without_a_runtime_nothing_is_measured() -> None:
    store = Store()
    put_task(store, "t1", definition(cpu="256", memory="512", containers=[{"name": "app"}]))
    assert Collector(store, None).sample(T0) == 0


def test_the_values_read_back_through_get_metric_statistics() -> None:
    store, runtime, _wall, collector = new()
    task_definition = definition(cpu="256", memory="512", containers=[{"name": "app"}])
    runtime.reports[put_task(store, "a", task_definition)] = TaskUsage(cpu_percent=30.0, memory_percent=5.0)
    runtime.reports[put_task(store, "b", task_definition)] = TaskUsage(cpu_percent=70.0, memory_percent=5.0)
    collector.sample(T0)
    collector.sample(T0 + 10)
    cloudwatch = CloudWatchProvider(store, lambda: T0 + 60)
    answer = cloudwatch.handle(
        CONTEXT,
        "GetMetricStatistics",
        {
            "Namespace": "AWS/ECS",
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "ClusterName", "Value": "c"}, {"Name": "ServiceName", "Value": "svc"}],
            "StartTime": T0 - 60,
            "EndTime": T0 + 60,
            "Period": 60,
            "Statistics": ["Average", "Maximum", "SampleCount"],
        },
    )
    [point] = answer["Datapoints"]
    assert (point["Average"], point["Maximum"], point["SampleCount"], point["Unit"]) == (50.0, 70.0, 4.0, "Percent")


# -- AWS/ApplicationELB ------------------------------------------------------------------------


class Balancer:
    """A load balancer, a listener and a target group with two targets, through the ELBv2 API."""

    def __init__(self, store: Store) -> None:
        elbv2 = Elbv2Provider(store)
        self.store = store
        self.lb_arn = elbv2.handle(CONTEXT, "CreateLoadBalancer", {"Name": "web", "Subnets": ["subnet-1", "subnet-2"]})[
            "LoadBalancers"
        ][0]["LoadBalancerArn"]
        self.tg_arn = elbv2.handle(
            CONTEXT,
            "CreateTargetGroup",
            {"Name": "tg", "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1", "TargetType": "ip"},
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.handle(
            CONTEXT,
            "CreateListener",
            {
                "LoadBalancerArn": self.lb_arn,
                "Protocol": "HTTP",
                "Port": 80,
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": self.tg_arn}],
            },
        )
        targets = [{"Id": "127.0.0.1", "Port": port} for port in (5001, 5002, 5003)]
        elbv2.handle(CONTEXT, "RegisterTargets", {"TargetGroupArn": self.tg_arn, "Targets": targets})
        self.lb = load_balancer_dimension(self.lb_arn)
        self.tg = target_group_dimension(self.tg_arn)
        self.pair = {"LoadBalancer": self.lb, "TargetGroup": self.tg}

    def health(self, **states: str | None) -> None:
        """Write target health as the load balancer does (``p5001="healthy"``...)."""
        [record_id] = self.store.ids(SCOPE, target_group_model.KIND)
        record = self.store.get(SCOPE, target_group_model.KIND, record_id)
        assert record is not None
        group = target_group_model.TargetGroup.from_record(record)
        health = {
            key: target_group_model.TargetHealth(target.registered_at, states.get(f"p{target.port}"))
            for key, target in group.targets.items()
            if states.get(f"p{target.port}") is not None
        }
        record["status"] = target_group_model.status_record(health)
        self.store.put(SCOPE, target_group_model.KIND, record_id, record)

    def counters(self, group: bool = True, **counts: Any) -> TrafficCounters:
        return TrafficCounters(load_balancer_arn=self.lb_arn, target_group_arn=self.tg_arn if group else None, **counts)


def elb_setup() -> tuple[Store, Balancer, FakeTraffic, Collector]:
    store = Store()
    balancer = Balancer(store)
    traffic = FakeTraffic()
    return store, balancer, traffic, Collector(store, None, traffic=traffic, wall=Wall())


def test_elb_counters_publish_their_differences() -> None:
    store, lb, traffic, collector = elb_setup()
    lb.health(p5001="healthy", p5002="healthy", p5003="unhealthy")
    traffic.counters = [
        lb.counters(request_count=10, target_2xx=8, target_5xx=2),
        lb.counters(False, request_count=12, target_2xx=8, target_5xx=2, elb_5xx=2),
    ]
    collector.sample(T0)
    assert one(store, "AWS/ApplicationELB", "RequestCount", lb.pair, T0) == 10  # a key not read before: from zero
    assert one(store, "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": lb.lb}, T0) == 12
    assert one(store, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", {"LoadBalancer": lb.lb}, T0) == 2
    traffic.counters = [
        lb.counters(request_count=25, target_2xx=20, target_4xx=3, target_5xx=2),
        lb.counters(False, request_count=27, target_2xx=20, target_4xx=3, target_5xx=2, elb_5xx=2),
    ]
    collector.sample(T0 + 10)
    assert one(store, "AWS/ApplicationELB", "RequestCount", lb.pair, T0 + 10) == 15
    assert one(store, "AWS/ApplicationELB", "HTTPCode_Target_2XX_Count", lb.pair, T0 + 10) == 12
    assert one(store, "AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", lb.pair, T0 + 10) == 3
    assert one(store, "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": lb.lb}, T0 + 10) == 15
    [bucket] = buckets(store, "AWS/ApplicationELB", "RequestCount", lb.pair, T0 + 10)
    assert bucket.unit == "Count"


def test_zero_differences_are_not_published() -> None:
    store, lb, traffic, collector = elb_setup()
    traffic.counters = [
        lb.counters(request_count=5, target_2xx=5, target_response_count=5, target_response_time_sum_s=1.0)
    ]
    collector.sample(T0)
    collector.sample(T0 + 10)  # the same counts again
    for name in ("RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_Target_5XX_Count", "TargetResponseTime"):
        assert nothing(store, "AWS/ApplicationELB", name, lb.pair, T0 + 10), name
    assert nothing(store, "AWS/ApplicationELB", "RequestCountPerTarget", {"TargetGroup": lb.tg}, T0 + 10)
    assert nothing(store, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb.pair, T0)  # zero from the start


def test_a_counter_lower_than_before_counts_from_zero() -> None:
    store, lb, traffic, collector = elb_setup()
    traffic.counters = [lb.counters(request_count=100, target_2xx=100)]
    collector.sample(T0)
    traffic.counters = [lb.counters(request_count=7, target_2xx=6, target_5xx=1)]  # the engine started again
    collector.sample(T0 + 10)
    assert one(store, "AWS/ApplicationELB", "RequestCount", lb.pair, T0 + 10) == 7
    assert one(store, "AWS/ApplicationELB", "HTTPCode_Target_2XX_Count", lb.pair, T0 + 10) == 6
    assert one(store, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb.pair, T0 + 10) == 1


def test_a_key_that_disappears_and_comes_back_counts_from_zero() -> None:
    store, lb, traffic, collector = elb_setup()
    traffic.counters = [lb.counters(request_count=40)]
    collector.sample(T0)
    traffic.counters = [lb.counters(request_count=40), lb.counters(False, request_count=3)]  # a new key
    collector.sample(T0 + 10)
    assert one(store, "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": lb.lb}, T0 + 10) == 3
    assert nothing(store, "AWS/ApplicationELB", "RequestCount", lb.pair, T0 + 10)


@pytest.mark.parametrize(
    ("states", "per_target"),
    [
        ({"p5001": "healthy", "p5002": "healthy", "p5003": "unhealthy"}, 15.0),  # 30 requests / 2 healthy
        ({"p5001": "healthy", "p5002": "healthy", "p5003": "healthy"}, 10.0),
        ({"p5001": "unhealthy", "p5002": "unhealthy"}, 30.0),  # no healthy target: divided by one
        ({}, 30.0),  # nothing judged yet
    ],
)
def test_request_count_per_target_is_the_groups_requests_over_its_healthy_targets(
    states: dict[str, str], per_target: float
) -> None:
    store, lb, traffic, collector = elb_setup()
    lb.health(**states)
    traffic.counters = [lb.counters(request_count=30)]
    collector.sample(T0)
    assert one(store, "AWS/ApplicationELB", "RequestCountPerTarget", {"TargetGroup": lb.tg}, T0) == per_target
    assert one(store, "AWS/ApplicationELB", "RequestCountPerTarget", lb.pair, T0) == per_target
    assert nothing(store, "AWS/ApplicationELB", "RequestCountPerTarget", {"LoadBalancer": lb.lb}, T0)


def test_target_response_time_is_the_samples_average() -> None:
    store, lb, traffic, collector = elb_setup()
    traffic.counters = [lb.counters(request_count=4, target_response_count=4, target_response_time_sum_s=2.0)]
    collector.sample(T0)
    assert one(store, "AWS/ApplicationELB", "TargetResponseTime", lb.pair, T0) == pytest.approx(0.5)
    traffic.counters = [lb.counters(request_count=14, target_response_count=14, target_response_time_sum_s=3.0)]
    collector.sample(T0 + 10)
    assert one(store, "AWS/ApplicationELB", "TargetResponseTime", lb.pair, T0 + 10) == pytest.approx(0.1)
    [bucket] = buckets(store, "AWS/ApplicationELB", "TargetResponseTime", lb.pair, T0 + 10)
    assert bucket.unit == "Seconds"


def test_host_counts_come_from_target_health_every_sample() -> None:
    store, lb, traffic, collector = elb_setup()
    lb.health(p5001="healthy", p5002="unhealthy", p5003="initial")
    traffic.counters = [lb.counters(request_count=1)]
    collector.sample(T0)
    assert one(store, "AWS/ApplicationELB", "HealthyHostCount", lb.pair, T0) == 1
    assert one(store, "AWS/ApplicationELB", "UnHealthyHostCount", lb.pair, T0) == 1
    lb.health(p5001="healthy", p5002="healthy", p5003="healthy")
    collector.sample(T0 + 10)  # no new request: the host counts are published all the same
    assert one(store, "AWS/ApplicationELB", "HealthyHostCount", lb.pair, T0 + 10) == 3
    assert one(store, "AWS/ApplicationELB", "UnHealthyHostCount", lb.pair, T0 + 10) == 0
    assert nothing(store, "AWS/ApplicationELB", "HealthyHostCount", {"LoadBalancer": lb.lb}, T0)


def test_a_draining_target_is_in_neither_host_count() -> None:
    store, lb, traffic, collector = elb_setup()
    lb.health(p5001="healthy", p5002="healthy")
    Elbv2Provider(store).handle(
        CONTEXT, "DeregisterTargets", {"TargetGroupArn": lb.tg_arn, "Targets": [{"Id": "127.0.0.1", "Port": 5002}]}
    )
    traffic.counters = [lb.counters(request_count=1)]
    collector.sample(T0)
    assert one(store, "AWS/ApplicationELB", "HealthyHostCount", lb.pair, T0) == 1


def test_a_counter_arn_of_no_known_form_is_skipped() -> None:
    store = Store()
    traffic = FakeTraffic()
    traffic.counters = [TrafficCounters(load_balancer_arn="listener-1", target_group_arn=None, request_count=5)]
    assert Collector(store, None, traffic=traffic).sample(T0) == 0


# -- AWS/SQS -----------------------------------------------------------------------------------


def sqs_setup() -> tuple[Store, SqsProvider, str, Collector]:
    store = Store()
    sqs = SqsProvider(store)
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    return store, sqs, url, Collector(store, None)


def sqs_one(store: Store, name: str, at: float) -> float:
    return one(store, "AWS/SQS", name, {"QueueName": "jobs"}, at)


def test_queue_depths_every_sample() -> None:
    store, sqs, url, collector = sqs_setup()
    for index in range(5):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "later", "DelaySeconds": 600})
    received = sqs.handle(
        CONTEXT, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 2, "VisibilityTimeout": 600}
    )
    assert len(received["Messages"]) == 2
    collector.sample(T0)
    assert sqs_one(store, "ApproximateNumberOfMessagesVisible", T0) == 3
    assert sqs_one(store, "ApproximateNumberOfMessagesNotVisible", T0) == 2
    assert sqs_one(store, "ApproximateNumberOfMessagesDelayed", T0) == 1
    assert 0 <= sqs_one(store, "ApproximateAgeOfOldestMessage", T0) < 60
    collector.sample(T0 + 10)  # depths are published every sample
    assert sqs_one(store, "ApproximateNumberOfMessagesVisible", T0 + 10) == 3


def test_an_empty_queue_has_zero_depth_and_no_oldest_age() -> None:
    store, _sqs, _url, collector = sqs_setup()
    collector.sample(T0)
    assert sqs_one(store, "ApproximateNumberOfMessagesVisible", T0) == 0
    assert nothing(store, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": "jobs"}, T0)


def test_the_oldest_message_age_grows_with_the_wall_clock() -> None:
    store = Store()
    sqs = SqsProvider(store)
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "m"})
    wall = Wall(time.time() + 120)
    Collector(store, None, wall=wall).sample(T0)
    assert sqs_one(store, "ApproximateAgeOfOldestMessage", T0) == pytest.approx(120, abs=5)


def test_message_counters_publish_their_differences() -> None:
    store, sqs, url, collector = sqs_setup()
    collector.sample(T0)
    for index in range(4):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    received = sqs.handle(
        CONTEXT, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 3, "VisibilityTimeout": 600}
    )
    sqs.handle(CONTEXT, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": received["Messages"][0]["ReceiptHandle"]})
    collector.sample(T0 + 10)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 10) == 4
    assert sqs_one(store, "NumberOfMessagesReceived", T0 + 10) == 3
    assert sqs_one(store, "NumberOfMessagesDeleted", T0 + 10) == 1
    collector.sample(T0 + 20)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 20) == 0  # published every sample, zero when quiet


def test_the_first_sample_of_a_queue_at_start_publishes_no_history() -> None:
    # At ecsemu's start the durable totals are old: the first reading is the baseline.
    store, sqs, url, _ = sqs_setup()
    for index in range(3):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    Collector(store, None).sample(T0)
    assert sqs_one(store, "NumberOfMessagesSent", T0) == 0


def test_a_queue_created_after_the_collector_started_counts_from_zero() -> None:
    store = Store()
    sqs = SqsProvider(store)
    collector = Collector(store, None)
    collector.sample(T0)  # the collector runs; no queue yet
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    for index in range(3):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    collector.sample(T0 + 10)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 10) == 3


def test_a_queue_created_again_counts_its_sends_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecsemu.services.sqs import provider as sqs_provider  # noqa: PLC0415

    class Later:
        offset = 0.0

        @classmethod
        def time(cls) -> float:
            return time.time() + cls.offset

    monkeypatch.setattr(sqs_provider, "time", Later)
    store, sqs, url, collector = sqs_setup()
    collector.sample(T0)
    for index in range(5):
        sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": f"m{index}"})
    collector.sample(T0 + 10)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 10) == 5
    sqs.handle(CONTEXT, "DeleteQueue", {"QueueUrl": url})
    Later.offset = 61.0  # AWS: 60 s before a queue of the same name may be created again
    url = sqs.handle(CONTEXT, "CreateQueue", {"QueueName": "jobs"})["QueueUrl"]
    collector.sample(T0 + 20)
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "again"})
    sqs.handle(CONTEXT, "SendMessage", {"QueueUrl": url, "MessageBody": "again"})
    collector.sample(T0 + 30)
    assert sqs_one(store, "NumberOfMessagesSent", T0 + 30) == 2


def test_each_field_lower_than_before_counts_from_zero() -> None:
    store, lb, traffic, collector = elb_setup()
    traffic.counters = [
        lb.counters(request_count=10, target_5xx=6, target_response_count=10, target_response_time_sum_s=5.0)
    ]
    collector.sample(T0)
    traffic.counters = [  # the engine started again and has counted 12 requests since
        lb.counters(request_count=12, target_5xx=2, target_response_count=2, target_response_time_sum_s=0.4)
    ]
    collector.sample(T0 + 10)
    assert one(store, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb.pair, T0 + 10) == 2
    assert one(store, "AWS/ApplicationELB", "TargetResponseTime", lb.pair, T0 + 10) == pytest.approx(0.2)


def test_a_task_definition_in_vcpu_and_gb_reserves_what_it_says() -> None:
    from ecsemu.services.ecs.provider import EcsProvider  # noqa: PLC0415

    store, runtime, wall, collector = new()
    registered = EcsProvider(store).handle(
        CONTEXT,
        "RegisterTaskDefinition",
        {
            "family": "web",
            "cpu": "2 vCPU",
            "memory": "4 GB",
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "containerDefinitions": [{"name": "app", "image": "app:1"}],
        },
    )["taskDefinition"]
    arn = put_task(store, "t1", registered)
    at = two_samples(collector, wall, runtime, arn, 0.0, 10.0, memory_mib=1024.0)  # one vCPU busy, 1 GiB
    assert one(store, "AWS/ECS", "CPUUtilization", SERVICE_DIMS, at) == pytest.approx(50.0)
    assert one(store, "AWS/ECS", "MemoryUtilization", SERVICE_DIMS, at) == pytest.approx(25.0)
