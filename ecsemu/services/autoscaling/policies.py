"""Scaling policies: PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy.

Rules (Application Auto Scaling API Reference, PutScalingPolicy and its configuration types):
- The target must be registered (ObjectNotFoundException ``No scalable target registered for
  service namespace: ecs, resource ID: ..., scalable dimension: ...``).
- ``PolicyType`` StepScaling needs a StepScalingPolicyConfiguration, TargetTrackingScaling a
  TargetTrackingScalingPolicyConfiguration; PredictiveScaling is not emulated.
- Target tracking: exactly one of PredefinedMetricSpecification and
  CustomizedMetricSpecification; for ECS the predefined types ECSServiceAverageCPUUtilization,
  ECSServiceAverageMemoryUtilization and ALBRequestCountPerTarget, the last with a
  ResourceLabel ``app/<load balancer name>/<id>/targetgroup/<target group name>/<id>`` naming a
  real Application Load Balancer and target group of this account and region. A customized metric
  is a single metric (Namespace, MetricName, Statistic) or ``Metrics`` (metric math with exactly
  one query returning data). The policy's own alarms: :mod:`ecsemu.model.scaling_alarms`.
- Step scaling: AdjustmentType required; MinAdjustmentMagnitude only with
  PercentChangeInCapacity; ExactCapacity adjustments ≥ 0; step bounds without gaps or overlaps.
- Putting a policy of an existing name updates it in place (same PolicyARN, same alarm names).
- DescribeScalingPolicies lists a target tracking policy's own alarms, and for a step policy the
  CloudWatch alarms whose AlarmActions name it.
"""

from __future__ import annotations

from typing import Any

from ecsemu.errors import ClientError, NotSupportedError
from ecsemu.model import alarms, scaling, scaling_alarms, scaling_math
from ecsemu.model import load_balancer as load_balancer_model
from ecsemu.model import target_group as target_group_model
from ecsemu.services.autoscaling.base import (
    MAX_POLICIES_PER_TARGET,
    MAX_STEP_ADJUSTMENTS,
    Call,
    Params,
    Result,
    describe_filter,
    operation,
    paginate,
    require_target,
    target_key,
    target_text,
    with_token,
)
from ecsemu.services.autoscaling.errors import LimitExceededException, ObjectNotFoundException, ValidationException

ECS_METRIC_TYPES = frozenset(scaling_alarms.PREDEFINED)
CONFIGURATION = {
    "StepScaling": "StepScalingPolicyConfiguration",
    "TargetTrackingScaling": "TargetTrackingScalingPolicyConfiguration",
}


def _check_resource_label(call: Call, label: str | None) -> None:
    parts = (label or "").split("/")
    if len(parts) != 6 or parts[0] != "app" or parts[3] != "targetgroup" or not all(parts):
        raise ValidationException(
            f"Invalid ResourceLabel: {label}. Expected app/<load-balancer-name>/<load-balancer-id>/targetgroup/"
            "<target-group-name>/<target-group-id> for predefined metric type ALBRequestCountPerTarget"
        )
    load_balancer = call.store.get(call.scope, load_balancer_model.KIND, "/".join(parts[:3]))
    if load_balancer is None or load_balancer_model.LoadBalancer.from_record(load_balancer).type != "application":
        raise ValidationException(f"Load balancer {'/'.join(parts[:3])} in ResourceLabel {label} does not exist")
    if call.store.get(call.scope, target_group_model.KIND, "/".join(parts[4:])) is None:
        raise ValidationException(
            f"Target group targetgroup/{'/'.join(parts[4:])} in ResourceLabel {label} does not exist"
        )


def _check_customized(customized: dict[str, Any]) -> None:
    metrics = customized.get("Metrics")
    single = [member for member in ("Namespace", "MetricName", "Statistic") if customized.get(member)]
    if metrics:
        if single or customized.get("Dimensions") or customized.get("Unit"):
            raise ValidationException(
                "CustomizedMetricSpecification must specify either Metrics or a single metric, not both"
            )
        returned = [query for query in metrics if query.get("ReturnData", True)]
        if len(returned) != 1:
            raise ValidationException("Exactly one metric data query in Metrics must have ReturnData set to true")
        ids = [query["Id"] for query in metrics]
        if len(set(ids)) != len(ids):
            raise ValidationException("Metric data query ids must be unique")
        for query in metrics:
            if bool(query.get("Expression")) == bool(query.get("MetricStat")):
                raise ValidationException(
                    f"Metric data query {query['Id']} must specify exactly one of Expression and MetricStat"
                )
        return
    if len(single) != 3:
        raise ValidationException("CustomizedMetricSpecification must specify Namespace, MetricName and Statistic")


def _check_target_tracking(call: Call, configuration: dict[str, Any]) -> None:
    predefined = configuration.get("PredefinedMetricSpecification")
    customized = configuration.get("CustomizedMetricSpecification")
    if bool(predefined) == bool(customized):
        raise ValidationException(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified"
        )
    if float(configuration["TargetValue"]) <= 0:
        raise ValidationException("TargetValue must be greater than 0")
    for member in ("ScaleOutCooldown", "ScaleInCooldown"):
        if configuration.get(member) is not None and int(configuration[member]) < 0:
            raise ValidationException(f"{member} must be 0 or greater")
    if predefined:
        metric_type = predefined["PredefinedMetricType"]
        if metric_type not in ECS_METRIC_TYPES:
            raise ValidationException(
                f"Unsupported metric type {metric_type} for scalable dimension {scaling.ECS_DIMENSION}"
            )
        if metric_type == "ALBRequestCountPerTarget":
            _check_resource_label(call, predefined.get("ResourceLabel"))
        elif predefined.get("ResourceLabel"):
            raise ValidationException(
                f"ResourceLabel is only valid for predefined metric type ALBRequestCountPerTarget, not {metric_type}"
            )
    else:
        _check_customized(dict(customized or {}))


def _check_step(configuration: dict[str, Any]) -> None:
    adjustment_type = configuration.get("AdjustmentType")
    if not adjustment_type:
        raise ValidationException("AdjustmentType is required for a step scaling policy")
    if configuration.get("MinAdjustmentMagnitude") is not None:
        if adjustment_type != "PercentChangeInCapacity":
            raise ValidationException(
                "MinAdjustmentMagnitude is only supported with the PercentChangeInCapacity adjustment type"
            )
        if int(configuration["MinAdjustmentMagnitude"]) < 1:
            raise ValidationException("MinAdjustmentMagnitude must be 1 or greater")
    if configuration.get("Cooldown") is not None and int(configuration["Cooldown"]) < 0:
        raise ValidationException("Cooldown must be 0 or greater")
    steps = configuration.get("StepAdjustments") or []
    if len(steps) > MAX_STEP_ADJUSTMENTS:
        raise LimitExceededException(f"A step scaling policy can have at most {MAX_STEP_ADJUSTMENTS} step adjustments")
    problem = scaling_math.check_step_adjustments(steps)
    if problem:
        raise ValidationException(problem)
    if adjustment_type == "ExactCapacity" and any(int(step["ScalingAdjustment"]) < 0 for step in steps):
        raise ValidationException("ScalingAdjustment must be 0 or greater for the ExactCapacity adjustment type")


def _invoking_alarms(call: Call, policy_arn: str) -> list[dict[str, str]]:
    """The CloudWatch alarms whose AlarmActions name the policy (what AWS lists for a step policy)."""
    return [
        {"AlarmName": name, "AlarmARN": alarms.alarm_arn(call.scope, name)}
        for name, record in call.store.items(call.scope, alarms.KIND)
        if policy_arn in (record["spec"].get("AlarmActions") or [])
    ]


def render(call: Call, spec: dict[str, Any]) -> dict[str, Any]:
    shown = {
        member: spec[member]
        for member in ("PolicyARN", "PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyType")
    }
    configuration = CONFIGURATION.get(spec["PolicyType"])
    if configuration and configuration in spec:
        shown[configuration] = spec[configuration]
    shown["Alarms"] = list(spec.get("Alarms") or []) or _invoking_alarms(call, spec["PolicyARN"])
    shown["CreationTime"] = spec["CreationTime"]
    return shown


@operation("PutScalingPolicy")
def put_scaling_policy(call: Call, params: Params) -> Result:
    key = target_key(params)
    name = str(params["PolicyName"])
    policy_type = params.get("PolicyType") or "StepScaling"
    if policy_type == "PredictiveScaling":
        raise NotSupportedError("The PredictiveScaling policy type", code="ValidationException")
    member = CONFIGURATION[policy_type]
    configuration = params.get(member)
    if not configuration:
        raise ValidationException(f"{member} is required for a {policy_type} policy")
    for other in CONFIGURATION.values():
        if other != member and params.get(other):
            raise ValidationException(f"{other} is not valid for a {policy_type} policy")
    with call.store.transaction():
        require_target(call, key)
        if policy_type == "TargetTrackingScaling":
            _check_target_tracking(call, configuration)
        else:
            _check_step(configuration)
        record_id = scaling.child_id(key, name)
        existing = call.store.get(call.scope, scaling.POLICY_KIND, record_id)
        if existing is None and len(scaling.policies_of(call.store, call.scope, key)) >= MAX_POLICIES_PER_TARGET:
            raise LimitExceededException(
                f"A scalable target can have at most {MAX_POLICIES_PER_TARGET} scaling policies"
            )
        previous = existing["spec"] if existing else None
        spec: dict[str, Any] = {
            "PolicyARN": previous["PolicyARN"] if previous else scaling.new_policy_arn(call.scope, key, name),
            "PolicyName": name, "ServiceNamespace": key.namespace, "ResourceId": key.resource_id,
            "ScalableDimension": key.dimension, "PolicyType": policy_type, member: configuration,
            "CreationTime": previous["CreationTime"] if previous else call.now, "Alarms": [],
        }  # fmt: skip
        old_ids: dict[str, str] = dict(previous.get("AlarmIds") or {}) if previous else {}
        if previous and previous["PolicyType"] != policy_type:
            scaling_alarms.delete_policy_alarms(call.store, call.scope, previous.get("Alarms") or [], call.now)
            old_ids = {}
        if policy_type == "TargetTrackingScaling":
            try:
                ids, alarms = scaling_alarms.put_policy_alarms(
                    call.store, call.scope, spec["PolicyARN"], key.resource_id, configuration, old_ids, call.now
                )
            except ClientError as error:  # CloudWatch refused the alarm AWS would build: the policy's fault
                raise ValidationException(error.message) from None
            spec["AlarmIds"], spec["Alarms"] = ids, alarms
        call.store.put(call.scope, scaling.POLICY_KIND, record_id, {"spec": spec, "status": {}})
    result: Result = {"PolicyARN": spec["PolicyARN"]}
    if spec["Alarms"]:
        result["Alarms"] = spec["Alarms"]
    return result


@operation("DescribeScalingPolicies")
def describe_scaling_policies(call: Call, params: Params) -> Result:
    namespace, dimension = describe_filter(params)
    names = set(params.get("PolicyNames") or [])
    resource_id = params.get("ResourceId")
    found = [
        record["spec"]
        for record in scaling.policies(call.store, call.scope, namespace)
        if (not names or record["spec"]["PolicyName"] in names)
        and (resource_id is None or record["spec"]["ResourceId"] == resource_id)
        and (dimension is None or record["spec"]["ScalableDimension"] == dimension)
    ]
    page, token = paginate(found, params)
    return with_token({"ScalingPolicies": [render(call, spec) for spec in page]}, token)


@operation("DeleteScalingPolicy")
def delete_scaling_policy(call: Call, params: Params) -> Result:
    key = target_key(params)
    name = str(params["PolicyName"])
    with call.store.transaction():
        record_id = scaling.child_id(key, name)
        existing = call.store.get(call.scope, scaling.POLICY_KIND, record_id)
        if existing is None:
            raise ObjectNotFoundException(f"No scaling policy found for {target_text(key)}, policy name: {name}")
        scaling_alarms.delete_policy_alarms(call.store, call.scope, existing["spec"].get("Alarms") or [], call.now)
        call.store.delete(call.scope, scaling.POLICY_KIND, record_id)
    return {}
