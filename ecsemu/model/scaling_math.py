"""The capacity arithmetic of Application Auto Scaling's policies, pure.

Target tracking (User Guide, "Target tracking scaling policies"): capacity proportional to the
metric, ``ceil(current * metric / target)`` — rounding up is the conservative direction both
ways ("always acts conservatively by rounding up or down ... This prevents it from adding
insufficient capacity or removing too much capacity"). Without a metric value the high alarm adds
one and the low alarm removes one. From zero, a scale-out gives at least one.

Step scaling (User Guide, "Step scaling policies"): the breach is ``metric - alarm threshold``;
the step whose bounds hold it applies (above the threshold the lower bound is inclusive and the
upper exclusive; below it the reverse; a missing bound is infinite). Adjustment types:
``ChangeInCapacity`` (add), ``ExactCapacity`` (set), ``PercentChangeInCapacity`` (add the percent
of current capacity: a result between 0 and 1 becomes 1, between -1 and 0 becomes -1, others are
rounded toward zero; ``MinAdjustmentMagnitude`` raises a smaller change's magnitude).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any


def target_tracking_capacity(current: int, metric_value: float | None, target_value: float, high: bool) -> int:
    if metric_value is None or target_value <= 0:
        return current + 1 if high else max(current - 1, 0)
    if current == 0:
        return max(1, math.ceil(round(metric_value / target_value, 9))) if high else 0
    proposed = math.ceil(round(current * metric_value / target_value, 9))
    return max(proposed, current + 1) if high else min(proposed, current)


def _in_step(step: dict[str, Any], breach: float) -> bool:
    lower = step.get("MetricIntervalLowerBound")
    upper = step.get("MetricIntervalUpperBound")
    if breach >= 0:
        return (lower is None or breach >= lower) and (upper is None or breach < upper)
    return (lower is None or breach > lower) and (upper is None or breach <= upper)


def choose_step(steps: Sequence[dict[str, Any]], breach: float | None) -> dict[str, Any] | None:
    """The step adjustment for ``breach``; without a breach (no metric or threshold known), the
    step that starts at the threshold (bound 0 or infinite on the threshold's side)."""
    if breach is None:
        if len(steps) == 1:
            return steps[0]
        for step in steps:
            if step.get("MetricIntervalLowerBound") == 0 or step.get("MetricIntervalUpperBound") == 0:
                return step
        return steps[0] if steps else None
    for step in steps:
        if _in_step(step, breach):
            return step
    return None


def percent_change(current: int, percent: float, min_magnitude: int | None) -> int:
    change = current * percent / 100.0
    if 0 < change < 1:
        rounded = 1
    elif -1 < change < 0:
        rounded = -1
    else:
        rounded = int(change)  # toward zero
    if min_magnitude and 0 < abs(rounded) < min_magnitude:
        rounded = min_magnitude if rounded > 0 else -min_magnitude
    return rounded


def step_capacity(current: int, configuration: dict[str, Any], breach: float | None) -> int | None:
    """The capacity a step policy asks for, or None when no step holds the breach."""
    step = choose_step(configuration.get("StepAdjustments") or [], breach)
    if step is None:
        return None
    adjustment = int(step["ScalingAdjustment"])
    kind = configuration.get("AdjustmentType")
    if kind == "ExactCapacity":
        return adjustment
    if kind == "PercentChangeInCapacity":
        return current + percent_change(current, adjustment, configuration.get("MinAdjustmentMagnitude"))
    return current + adjustment


def clamp(capacity: int, minimum: int, maximum: int) -> int:
    return min(max(capacity, minimum), maximum)


def check_step_adjustments(steps: Sequence[dict[str, Any]]) -> str | None:
    """Why AWS would refuse these step adjustments, or None: each step's upper bound above its
    lower; at most one step without a lower bound and one without an upper; no gaps, no overlaps."""
    if not steps:
        return "StepAdjustments must contain at least one step adjustment"
    for step in steps:
        lower, upper = step.get("MetricIntervalLowerBound"), step.get("MetricIntervalUpperBound")
        if lower is not None and upper is not None and upper <= lower:
            return "Upper bound must be greater than lower bound in a step adjustment"
    if sum(1 for step in steps if step.get("MetricIntervalLowerBound") is None) > 1:
        return "Only one step adjustment can have an unspecified lower bound"
    if sum(1 for step in steps if step.get("MetricIntervalUpperBound") is None) > 1:
        return "Only one step adjustment can have an unspecified upper bound"
    ordered = sorted(
        steps,
        key=lambda step: (
            -math.inf if step.get("MetricIntervalLowerBound") is None else float(step["MetricIntervalLowerBound"])
        ),
    )
    for before, after in itertools.pairwise(ordered):
        upper, lower = before.get("MetricIntervalUpperBound"), after.get("MetricIntervalLowerBound")
        if upper is None or lower is None or float(upper) != float(lower):
            return "Step adjustments must not overlap or have gaps between their bounds"
    return None
