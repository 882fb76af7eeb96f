"""Application Auto Scaling's records: scalable targets, scaling policies, scheduled actions.

Kinds and ids (per account and region; every id is under its namespace, ``ecs``):

| kind                           | id                                            |
| ------------------------------ | --------------------------------------------- |
| ``autoscaling.scalable_target``| ``<namespace>/<dimension>/<resource id>``     |
| ``autoscaling.policy``         | ``<target id>|<policy name>``                 |
| ``autoscaling.scheduled_action``| ``<target id>|<scheduled action name>``      |

e.g. ``ecs/ecs:service:DesiredCount/service/web/api``. Scaling activities are history, kept in a
side table: :mod:`ecsemu.model.scaling_activities`.

Records (members named as the API names them, so Describe* renders them almost as stored)::

    target: {"spec": {"ServiceNamespace", "ResourceId", "ScalableDimension", "MinCapacity",
                      "MaxCapacity", "RoleARN", "CreationTime", "ScalableTargetARN",
                      "SuspendedState": {"DynamicScalingInSuspended", "DynamicScalingOutSuspended",
                                         "ScheduledScalingSuspended"},
                      "Tags": {key: value}},
             "status": {"lastScaleOut"?: {"at", "capacity", "cooldown"},     # the scaling loop
                        "lastScaleIn"?: {"at", "cooldown"}}}
    policy: {"spec": {"PolicyARN", "PolicyName", "ServiceNamespace", "ResourceId",
                      "ScalableDimension", "PolicyType", "CreationTime", "Alarms": [{"AlarmName",
                      "AlarmARN"}], "StepScalingPolicyConfiguration"? |
                      "TargetTrackingScalingPolicyConfiguration"?,
                      "AlarmIds"?: {"High": uuid, "Low"?: uuid}},   # target tracking's own alarms
             "status": {}}
    scheduled action: {"spec": {"ScheduledActionName", "ScheduledActionARN", "ServiceNamespace",
                                "Schedule", "Timezone"?, "ResourceId", "ScalableDimension",
                                "StartTime"?, "EndTime"?, "ScalableTargetAction"?: {"MinCapacity"?,
                                "MaxCapacity"?}, "CreationTime"},
                       "status": {"lastCheck"?: float}}             # the scaling loop

Invariants:
- The API writes ``spec``; the scaling decisions (:mod:`scaling_decisions`) write ``status``
  (cooldown bookkeeping, the scheduler's last check) and, for scheduled actions that fire, a
  target's Min/MaxCapacity, as AWS does.
- A policy and a scheduled action belong to one registered target; deregistering the target
  deletes them (and a policy's own alarms).
- ECS is the one namespace ecsemu emulates: ``ecs`` / ``ecs:service:DesiredCount`` /
  ``service/<cluster>/<service>``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Final, NamedTuple

from ecsemu.context import Scope
from ecsemu.state.store import Record, Store

TARGET_KIND: Final = "autoscaling.scalable_target"
POLICY_KIND: Final = "autoscaling.policy"
SCHEDULED_ACTION_KIND: Final = "autoscaling.scheduled_action"

ECS_NAMESPACE: Final = "ecs"
ECS_DIMENSION: Final = "ecs:service:DesiredCount"
DEFAULT_ECS_COOLDOWN_S: Final = 300
SUSPENDED_KEYS: Final = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


class TargetKey(NamedTuple):
    """What names a scalable target: namespace, resource id and dimension."""

    namespace: str
    resource_id: str
    dimension: str

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.dimension}/{self.resource_id}"


class EcsService(NamedTuple):
    cluster: str
    service: str


def ecs_service(resource_id: str) -> EcsService | None:
    """The cluster and service an ECS resource id ``service/<cluster>/<service>`` names."""
    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service" or not parts[1] or not parts[2]:
        return None
    return EcsService(parts[1], parts[2])


def key_of(spec: dict[str, Any]) -> TargetKey:
    return TargetKey(str(spec["ServiceNamespace"]), str(spec["ResourceId"]), str(spec["ScalableDimension"]))


def child_id(key: TargetKey, name: str) -> str:
    """The id of a policy or scheduled action of the target."""
    return f"{key.id}|{name}"


def default_role_arn(scope: Scope) -> str:
    return (
        f"arn:aws:iam::{scope.account_id}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService"
    )


def new_target_arn(scope: Scope) -> str:
    """``arn:aws:application-autoscaling:<region>:<account>:scalable-target/<36 hex>``."""
    return f"arn:aws:application-autoscaling:{scope.region}:{scope.account_id}:scalable-target/{secrets.token_hex(18)}"


def new_policy_arn(scope: Scope, key: TargetKey, name: str) -> str:
    return (
        f"arn:aws:autoscaling:{scope.region}:{scope.account_id}:scalingPolicy:{uuid.uuid4()}:"
        f"resource/{key.namespace}/{key.resource_id}:policyName/{name}"
    )


def new_scheduled_action_arn(scope: Scope, key: TargetKey, name: str) -> str:
    return (
        f"arn:aws:autoscaling:{scope.region}:{scope.account_id}:scheduledAction:{uuid.uuid4()}:"
        f"resource/{key.namespace}/{key.resource_id}:scheduledActionName/{name}"
    )


# -- reads -----------------------------------------------------------------------------------


def get_target(store: Store, scope: Scope, key: TargetKey) -> Record | None:
    return store.get(scope, TARGET_KIND, key.id)


def targets(store: Store, scope: Scope, namespace: str) -> list[Record]:
    return store.list(scope, TARGET_KIND, under=namespace)


def target_by_arn(store: Store, scope: Scope, arn: str) -> Record | None:
    for record in store.list(scope, TARGET_KIND):
        if record["spec"].get("ScalableTargetARN") == arn:
            return record
    return None


def policies(store: Store, scope: Scope, namespace: str) -> list[Record]:
    return store.list(scope, POLICY_KIND, under=namespace)


def policies_of(store: Store, scope: Scope, key: TargetKey) -> list[tuple[str, Record]]:
    prefix = f"{key.id}|"
    return [
        (record_id, record)
        for record_id, record in store.items(scope, POLICY_KIND, under=key.namespace)
        if record_id.startswith(prefix)
    ]


def policy_by_arn(store: Store, scope: Scope, arn: str) -> tuple[str, Record] | None:
    for record_id, record in store.items(scope, POLICY_KIND):
        if record["spec"].get("PolicyARN") == arn:
            return record_id, record
    return None


def scheduled_actions_of(store: Store, scope: Scope, key: TargetKey) -> list[tuple[str, Record]]:
    prefix = f"{key.id}|"
    return [
        (record_id, record)
        for record_id, record in store.items(scope, SCHEDULED_ACTION_KIND, under=key.namespace)
        if record_id.startswith(prefix)
    ]


def suspended(target: Record, what: str) -> bool:
    return bool((target["spec"].get("SuspendedState") or {}).get(what))
