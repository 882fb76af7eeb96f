"""Metric filters: PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter.

A filter turns the events later stored in its group into CloudWatch datapoints (see
:mod:`ecsemu.model.log_metric_filters` for how); this module only checks what AWS checks:
the group exists, the pattern compiles, one transformation with a numeric or ``$.field`` value,
at most 3 dimensions (each a ``$.field``) and no default value beside them, at most 100 filters
a group. Putting a filter under an existing name replaces it (keeping its ``creationTime``).

DescribeMetricFilters answers filters in (group, name) order; its ``nextToken`` names the last
filter answered. ``filterNamePrefix`` counts only with ``logGroupName`` (AWS ignores it
otherwise); ``metricName`` and ``metricNamespace`` go together.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from ecsemu.errors import NotSupportedError
from ecsemu.model import log_metric_filters as model
from ecsemu.model.log_filter import FilterPatternError, UnsupportedFilterPattern, compile_pattern
from ecsemu.services.logs.base import Call, Params, Result, after_token, operation, read_after_token
from ecsemu.services.logs.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)

DEFAULT_LIMIT: Final = 50
MAX_DIMENSIONS: Final = 3
FILTER_NOT_FOUND: Final = "The specified metric filter does not exist."
_METRIC_TEXT: Final = re.compile(r"[^:*$]*")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?")
_FIELD: Final = re.compile(r"\$\.[A-Za-z0-9_@\-.\[\]]+")


def _check_transformation(transformation: dict[str, Any]) -> dict[str, Any]:
    for member in ("metricName", "metricNamespace"):
        value = str(transformation[member])
        if _METRIC_TEXT.fullmatch(value) is None:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{value}' at 'metricTransformations.1.member.{member}' "
                f"failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*$]*"
            )
    value = str(transformation["metricValue"]).strip()
    if _NUMBER.fullmatch(value) is None and _FIELD.fullmatch(value) is None:
        raise InvalidParameterException(f"Invalid metric value: {value}")
    dimensions = transformation.get("dimensions") or {}
    if len(dimensions) > MAX_DIMENSIONS:
        raise InvalidParameterException(f"A metric filter can have at most {MAX_DIMENSIONS} dimensions.")
    for name, selector in dimensions.items():
        if _FIELD.fullmatch(str(selector)) is None:
            raise InvalidParameterException(f"Invalid dimension value for {name}: {selector}")
    if dimensions and transformation.get("defaultValue") is not None:
        raise InvalidParameterException("A metric filter with dimensions can't have a default value.")
    checked = {key: transformation[key] for key in ("metricName", "metricNamespace", "metricValue")}
    for member in ("defaultValue", "unit"):
        if transformation.get(member) is not None:
            checked[member] = transformation[member]
    if dimensions:
        checked["dimensions"] = {str(name): str(selector) for name, selector in dimensions.items()}
    return checked


@operation("PutMetricFilter")
def put_metric_filter(call: Call, params: Params) -> Result:
    if (
        params.get("applyOnTransformedLogs")
        or params.get("fieldSelectionCriteria")
        or params.get("emitSystemFieldDimensions")
    ):
        raise NotSupportedError(
            "Metric filters on transformed logs or with field selection", code="InvalidParameterException"
        )
    pattern = str(params.get("filterPattern") or "")
    try:
        compile_pattern(pattern)
    except FilterPatternError as error:
        raise InvalidParameterException(str(error)) from error
    except UnsupportedFilterPattern as error:
        raise NotSupportedError(str(error), code="InvalidParameterException") from error
    transformations = [_check_transformation(dict(t)) for t in params["metricTransformations"]]
    name = str(params["filterName"])
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        existing = {f.name: f for f in model.filters_of(call.logs.store, call.scope, group.name)}
        if name not in existing and len(existing) >= model.MAX_PER_GROUP:
            raise LimitExceededException("Resource limit exceeded.")
        previous = existing.get(name)
        metric_filter = model.MetricFilter(
            group=group.name,
            name=name,
            pattern=pattern,
            creation_time=previous.creation_time if previous is not None else call.now_ms,
            transformations=tuple(transformations),
        )
        call.logs.store.put(call.scope, model.KIND, model.record_id(group.name, name), metric_filter.to_record())
    return {}


@operation("DeleteMetricFilter")
def delete_metric_filter(call: Call, params: Params) -> Result:
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        key = model.record_id(group.name, str(params["filterName"]))
        if call.logs.store.get(call.scope, model.KIND, key) is None:
            raise ResourceNotFoundException(FILTER_NOT_FOUND)
        call.logs.store.delete(call.scope, model.KIND, key)
    return {}


def _position(metric_filter: model.MetricFilter) -> str:
    return json.dumps([metric_filter.group, metric_filter.name])


@operation("DescribeMetricFilters")
def describe_metric_filters(call: Call, params: Params) -> Result:
    metric_name, namespace = params.get("metricName"), params.get("metricNamespace")
    if (metric_name is None) != (namespace is None):
        raise InvalidParameterException("metricName and metricNamespace must be specified together.")
    after = read_after_token(params.get("nextToken"))
    limit = int(params.get("limit") or DEFAULT_LIMIT)
    group_name, prefix = params.get("logGroupName"), params.get("filterNamePrefix")
    if group_name is not None:
        call.group(str(group_name))
        candidates = model.filters_of(call.logs.store, call.scope, str(group_name))
    else:
        records = call.logs.store.list(call.scope, model.KIND)
        candidates = sorted(
            (model.MetricFilter.from_record(record) for record in records), key=lambda f: (f.group, f.name)
        )
    chosen: list[model.MetricFilter] = []
    more = False
    for metric_filter in candidates:
        if after is not None and _position(metric_filter) <= after:
            continue
        if group_name is not None and prefix is not None and not metric_filter.name.startswith(prefix):
            continue
        if metric_name is not None and not any(
            t["metricName"] == metric_name and t["metricNamespace"] == namespace for t in metric_filter.transformations
        ):
            continue
        if len(chosen) == limit:
            more = True
            break
        chosen.append(metric_filter)
    result: Result = {"metricFilters": [metric_filter.api() for metric_filter in chosen]}
    if more:
        result["nextToken"] = after_token(_position(chosen[-1]))
    return result
