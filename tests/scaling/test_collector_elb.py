"""The metrics collector's AWS/ApplicationELB metrics: the load balancer's counters as differences
(a counter that restarts counts from zero), RequestCountPerTarget, TargetResponseTime, and the
host counts from target health. Fakes and readers: ``collector_support``."""

from __future__ import annotations

from typing import Any

import pytest
from collector_support import CONTEXT, SCOPE, T0, FakeTraffic, Wall, buckets, nothing, one

from ecsemu.model import target_group as target_group_model
from ecsemu.model.lb_metrics import TrafficCounters, load_balancer_dimension, target_group_dimension
from ecsemu.scaling.collector import Collector
from ecsemu.services.elbv2.provider import Elbv2Provider
from ecsemu.state.store import Store

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
