"""``lb.sync.to_snapshot``: which idle timeout each listener gets — an ALB listener its load
balancer's ``idle_timeout.timeout_seconds``, an NLB listener its own
``tcp.idle_timeout.seconds`` (350 s for a record stored before listener attributes existed)."""

from __future__ import annotations

from typing import Any

from ecsemu.lb.sync import to_snapshot

FORWARD = [{"Type": "forward", "TargetGroupArn": "tg"}]


def load_balancer(arn: str, kind: str, attributes: dict[str, str]) -> dict[str, Any]:
    return {"spec": {"LoadBalancerArn": arn, "LoadBalancerName": arn, "Type": kind, "Attributes": attributes}}


def listener(arn: str, lb_arn: str, protocol: str, attributes: dict[str, str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "ListenerArn": arn, "LoadBalancerArn": lb_arn, "Port": 80, "Protocol": protocol, "DefaultActions": FORWARD,
    }  # fmt: skip
    if attributes is not None:
        spec["Attributes"] = attributes
    return {"spec": spec}


def test_idle_timeouts_of_alb_and_nlb_listeners() -> None:
    lbs = [
        load_balancer("alb", "application", {"idle_timeout.timeout_seconds": "42"}),
        load_balancer("nlb", "network", {}),
    ]
    listeners = [
        listener("http", "alb", "HTTP", {"routing.http.response.server.enabled": "true"}),
        listener("tcp", "nlb", "TCP", {"tcp.idle_timeout.seconds": "120"}),
        listener("old-tcp", "nlb", "TCP", None),
        listener("old-http", "alb", "HTTP", None),
    ]
    snapshot = to_snapshot(lbs, listeners, [], [], now=0.0)
    assert {spec.arn: spec.idle_timeout_s for spec in snapshot.listeners} == {
        "http": 42.0,
        "tcp": 120.0,
        "old-tcp": 350.0,
        "old-http": 42.0,
    }
