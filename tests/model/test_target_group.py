"""The target group record read as a typed model: defaults in one place, health per registration."""

from __future__ import annotations

from ecsemu.model.target_group import Target, TargetGroup, TargetHealth, status_record, target_key


def _record(**spec: object) -> dict[str, object]:
    base = {"TargetGroupArn": "arn:tg", "TargetGroupName": "web", "Protocol": "HTTP", "Port": 80}
    return {"spec": {**base, **spec}, "status": {}}


def test_defaults_are_aws_defaults_when_the_record_has_none() -> None:
    group = TargetGroup.from_record(_record())
    assert group.target_type == "instance"
    assert group.deregistration_delay_s == 300.0
    assert group.algorithm == "round_robin"
    check = group.health_check
    assert (check.interval_s, check.timeout_s, check.healthy_threshold, check.unhealthy_threshold) == (30, 5, 5, 2)
    assert (check.path, check.port, check.matcher) == ("/", "traffic-port", "200")


def test_targets_and_draining() -> None:
    record = _record(
        Attributes={"deregistration_delay.timeout_seconds": "10"},
        Targets={
            "i-1:80": {"Id": "i-1", "Port": 80, "RegisteredAt": 1.0},
            "i-2:80": {"Id": "i-2", "Port": 80, "RegisteredAt": 1.0, "DeregisteredAt": 5.0},
        },
    )
    group = TargetGroup.from_record(record)
    live, draining = group.targets["i-1:80"], group.targets["i-2:80"]
    assert live.key == target_key("i-1", 80) and not live.is_deregistering
    assert draining.is_deregistering
    assert not group.is_gone(draining, 14.9)
    assert group.is_gone(draining, 15.0)
    assert not group.is_gone(live, 10_000.0)


def test_health_counts_only_for_the_registration_it_judged() -> None:
    record = _record(Targets={"i-1:80": {"Id": "i-1", "Port": 80, "RegisteredAt": 2.0}})
    record["status"] = {"Targets": {"i-1:80": {"RegisteredAt": 1.0, "State": "healthy"}}}
    assert TargetGroup.from_record(record).current_health("i-1:80") is None  # judged an older one
    record["status"] = {"Targets": {"i-1:80": {"RegisteredAt": 2.0, "State": "unhealthy", "Reason": "Target.Timeout"}}}
    health = TargetGroup.from_record(record).current_health("i-1:80")
    assert health is not None and (health.state, health.reason) == ("unhealthy", "Target.Timeout")


def test_status_round_trips_through_the_record() -> None:
    health = {
        "i-1:80": TargetHealth(registered_at=2.0, state="healthy"),
        "i-2:80": TargetHealth(registered_at=3.0, drained=True),
    }
    record = status_record(health)
    assert record == {"Targets": {"i-1:80": {"RegisteredAt": 2.0, "State": "healthy"}, "i-2:80": {"RegisteredAt": 3.0, "Drained": True}}}
    assert {key: TargetHealth.from_record(entry) for key, entry in record["Targets"].items()} == health


def test_target_from_record_keeps_the_zone() -> None:
    target = Target.from_record({"Id": "10.0.0.1", "Port": 8080, "RegisteredAt": 1.0, "AvailabilityZone": "all"})
    assert (target.id, target.port, target.availability_zone, target.deregistered_at) == ("10.0.0.1", 8080, "all", None)
