"""The metrics collector's AWS/ECS utilization: CPU from the runtime's CPU-time differences over
what the task reserves, memory over what it reserves, a simulated task's set percents, one
value per task, both dimension sets. Fakes and readers: ``collector_support``."""

from __future__ import annotations

from typing import Any

import pytest
from collector_support import (
    CLUSTER_DIMS,
    CONTEXT,
    SERVICE_DIMS,
    T0,
    buckets,
    definition,
    new,
    nothing,
    one,
    put_task,
    two_samples,
)

from ecsemu.context import Scope
from ecsemu.runtime.base import TaskUsage
from ecsemu.scaling.collector import Collector
from ecsemu.services.cloudwatch.provider import CloudWatchProvider
from ecsemu.state.store import Store

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
