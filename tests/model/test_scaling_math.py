"""Capacity arithmetic: target tracking proportions, step selection, percent rounding, bounds."""

from __future__ import annotations

import pytest

from ecsemu.model import scaling_math


@pytest.mark.parametrize(
    ("current", "metric", "target", "high", "expected"),
    [
        (2, 100.0, 50.0, True, 4),  # twice the target: twice the capacity
        (3, 60.0, 50.0, True, 4),  # ceil(3.6)
        (1, 50.1, 50.0, True, 2),  # any breach adds at least one
        (4, 20.0, 50.0, False, 2),  # ceil(1.6)
        (1, 10.0, 50.0, False, 1),  # rounds up: never removes too much
        (0, 80.0, 50.0, True, 2),  # from zero: the metric alone (ceil 1.6)
        (0, 10.0, 50.0, True, 1),  # from zero: at least one
        (3, None, 50.0, True, 4),
        (3, None, 50.0, False, 2),
    ],
)
def test_target_tracking_capacity(current: int, metric: float | None, target: float, high: bool, expected: int) -> None:
    assert scaling_math.target_tracking_capacity(current, metric, target, high) == expected


STEPS = [
    {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 10.0, "ScalingAdjustment": 1},
    {"MetricIntervalLowerBound": 10.0, "MetricIntervalUpperBound": 20.0, "ScalingAdjustment": 2},
    {"MetricIntervalLowerBound": 20.0, "ScalingAdjustment": 4},
]


@pytest.mark.parametrize(
    ("breach", "adjustment"), [(0.0, 1), (9.99, 1), (10.0, 2), (19.0, 2), (20.0, 4), (1000.0, 4), (None, 1)]
)
def test_choose_step_above_the_threshold(breach: float | None, adjustment: int) -> None:
    step = scaling_math.choose_step(STEPS, breach)
    assert step is not None and step["ScalingAdjustment"] == adjustment


def test_choose_step_below_the_threshold_has_inclusive_upper_bounds() -> None:
    steps = [
        {"MetricIntervalUpperBound": -10.0, "ScalingAdjustment": -2},
        {"MetricIntervalLowerBound": -10.0, "MetricIntervalUpperBound": 0.0, "ScalingAdjustment": -1},
    ]
    assert scaling_math.choose_step(steps, -10.0)["ScalingAdjustment"] == -2  # type: ignore[index]
    assert scaling_math.choose_step(steps, -5.0)["ScalingAdjustment"] == -1  # type: ignore[index]
    assert scaling_math.choose_step(steps, 3.0) is None


def test_step_capacity_by_adjustment_type() -> None:
    assert scaling_math.step_capacity(3, {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": STEPS}, 15.0) == 5
    assert scaling_math.step_capacity(3, {"AdjustmentType": "ExactCapacity", "StepAdjustments": STEPS}, 25.0) == 4
    percent = {
        "AdjustmentType": "PercentChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 50}],
    }
    assert scaling_math.step_capacity(5, percent, 1.0) == 7  # 2.5 rounded toward zero
    assert scaling_math.step_capacity(1, percent, 1.0) == 2  # 0.5 becomes 1
    assert scaling_math.step_capacity(10, {**percent, "MinAdjustmentMagnitude": 8}, 1.0) == 18


@pytest.mark.parametrize(
    ("percent", "current", "change"), [(10, 5, 1), (-10, 5, -1), (150, 3, 4), (-150, 3, -4), (-50, 3, -1)]
)
def test_percent_change_rounding(percent: float, current: int, change: int) -> None:
    assert scaling_math.percent_change(current, percent, None) == change


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([], "at least one"),
        ([{"MetricIntervalLowerBound": 5.0, "MetricIntervalUpperBound": 5.0, "ScalingAdjustment": 1}], "greater than lower"),
        ([{"ScalingAdjustment": 1}, {"MetricIntervalUpperBound": 3.0, "ScalingAdjustment": 1}], "unspecified lower"),
        ([{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}, {"MetricIntervalLowerBound": 3.0, "ScalingAdjustment": 1}], "unspecified upper"),
        (
            [
                {"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 5.0, "ScalingAdjustment": 1},
                {"MetricIntervalLowerBound": 6.0, "ScalingAdjustment": 2},
            ],
            "gaps",
        ),
    ],
)  # fmt: skip
def test_refused_step_adjustments(steps: list[dict[str, float]], problem: str) -> None:
    assert problem in (scaling_math.check_step_adjustments(steps) or "")


def test_good_step_adjustments() -> None:
    assert scaling_math.check_step_adjustments(STEPS) is None
    assert scaling_math.clamp(9, 1, 6) == 6
    assert scaling_math.clamp(0, 1, 6) == 1
