"""DescribeScalingActivities: the story of a namespace's targets, newest first
(:mod:`ecsemu.model.scaling_activities` keeps it and says which words AWS uses)."""

from __future__ import annotations

from ecsemu.model import scaling_activities
from ecsemu.services.autoscaling.base import Call, Params, Result, describe_filter, operation, paginate, with_token
from ecsemu.services.autoscaling.errors import ValidationException


@operation("DescribeScalingActivities")
def describe_scaling_activities(call: Call, params: Params) -> Result:
    namespace, dimension = describe_filter(params)
    resource_id = params.get("ResourceId")
    if dimension is not None and resource_id is None:
        raise ValidationException("If you specify a scalable dimension, you must also specify a resource ID")
    found = scaling_activities.activities(
        call.store, call.scope, namespace, resource_id=resource_id, dimension=dimension,
        include_not_scaled=bool(params.get("IncludeNotScaledActivities")),
    )  # fmt: skip
    page, token = paginate(found, params)
    return with_token({"ScalingActivities": page}, token)
