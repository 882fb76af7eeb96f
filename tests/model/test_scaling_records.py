"""Records for the scaling model tests (no tests here): an ECS service, a scalable target, policies, actions."""

from __future__ import annotations

from typing import Any

from ecsemu.context import Scope
from ecsemu.model import scaling, scaling_activities
from ecsemu.model.scaling import TargetKey
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
KEY = TargetKey("ecs", "service/c/s", "ecs:service:DesiredCount")
POLICY_ARN = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:p-1:resource/ecs/service/c/s:policyName/cpu"
HIGH = "TargetTracking-service/c/s-AlarmHigh-h1"
LOW = "TargetTracking-service/c/s-AlarmLow-l1"


def new_store() -> Store:
    store = Store()
    scaling_activities.declare(store)
    return store


def put_service(store: Store, desired: int, *, status: str = "ACTIVE") -> None:
    store.put(
        SCOPE,
        "service",
        "c/s",
        {"spec": {"serviceName": "s", "clusterName": "c", "status": status, "desiredCount": desired}, "status": {}},
    )


def desired(store: Store) -> int:
    record = store.get(SCOPE, "service", "c/s")
    assert record is not None
    return int(record["spec"]["desiredCount"])


def put_target(store: Store, minimum: int, maximum: int, **suspended: bool) -> None:
    store.put(SCOPE, scaling.TARGET_KIND, KEY.id, {
        "spec": {
            "ServiceNamespace": "ecs", "ResourceId": KEY.resource_id, "ScalableDimension": KEY.dimension,
            "MinCapacity": minimum, "MaxCapacity": maximum, "RoleARN": "r", "CreationTime": 0.0,
            "SuspendedState": {name: suspended.get(name, False) for name in scaling.SUSPENDED_KEYS},
            "ScalableTargetARN": "arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/x", "Tags": {},
        },
        "status": {},
    })  # fmt: skip


def put_target_tracking(store: Store, target_value: float = 50.0, **configuration: Any) -> None:
    store.put(SCOPE, scaling.POLICY_KIND, scaling.child_id(KEY, "cpu"), {
        "spec": {
            "PolicyARN": POLICY_ARN, "PolicyName": "cpu", "ServiceNamespace": "ecs", "ResourceId": KEY.resource_id,
            "ScalableDimension": KEY.dimension, "PolicyType": "TargetTrackingScaling", "CreationTime": 0.0,
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": target_value,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                **configuration,
            },
            "AlarmIds": {"High": "h1", "Low": "l1"}, "Alarms": [],
        },
        "status": {},
    })  # fmt: skip


def put_step(store: Store, **configuration: Any) -> None:
    store.put(SCOPE, scaling.POLICY_KIND, scaling.child_id(KEY, "cpu"), {
        "spec": {
            "PolicyARN": POLICY_ARN, "PolicyName": "cpu", "ServiceNamespace": "ecs", "ResourceId": KEY.resource_id,
            "ScalableDimension": KEY.dimension, "PolicyType": "StepScaling", "CreationTime": 0.0,
            "StepScalingPolicyConfiguration": configuration, "Alarms": [],
        },
        "status": {},
    })  # fmt: skip


def activities(store: Store, *, include_not_scaled: bool = False) -> list[dict[str, Any]]:
    return scaling_activities.activities(store, SCOPE, "ecs", include_not_scaled=include_not_scaled)
