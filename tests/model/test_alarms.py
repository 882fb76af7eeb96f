"""Alarm evaluation as a pure function: M out of N, each TreatMissingData, AWS's reason texts;
and the evaluator over a store (periods, history, actions, SetAlarmState holding one period)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecsemu.context import Scope
from ecsemu.model import alarms
from ecsemu.model.alarms import ALARM, INSUFFICIENT_DATA, OK, PeriodPoint, evaluate
from ecsemu.model.metrics import InvalidParameterValue, MetricStore, MissingParameter
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
T0 = 1_796_292_000.0  # 2026-12-03 10:00:00 UTC
POLICY = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:abc:resource/ecs/service/c/s:policyName/p"


def _spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        "AlarmName": "cpu-high",
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/ECS",
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    spec.update(overrides)
    return spec


def _points(*values: float | None) -> list[PeriodPoint]:
    return [PeriodPoint(T0 + 60 * k, value, None if value is None else 1.0) for k, value in enumerate(values)]


def test_three_of_three_breaching_reason_text() -> None:
    result = evaluate(_spec(), OK, _points(66.0, 70.1, 72.5), T0 + 200)
    assert result.state == ALARM
    assert result.reason == (
        "Threshold Crossed: 3 out of the last 3 datapoints [72.5 (03/12/26 10:02:00), 70.1 (03/12/26 10:01:00), "
        "66.0 (03/12/26 10:00:00)] were greater than the threshold (50.0) (minimum 3 datapoints for OK -> ALARM "
        "transition)."
    )
    data = result.reason_data
    assert data["recentDatapoints"] == [66.0, 70.1, 72.5] and data["threshold"] == 50.0
    assert data["statistic"] == "Average" and data["period"] == 60
    assert data["evaluatedDatapoints"][0] == {
        "timestamp": "2026-12-03T10:02:00.000+0000",
        "sampleCount": 1.0,
        "value": 72.5,
    }


def test_single_period_texts() -> None:
    spec = _spec(EvaluationPeriods=1)
    up = evaluate(spec, INSUFFICIENT_DATA, _points(95.0), T0)
    assert (
        up.reason == "Threshold Crossed: 1 datapoint [95.0 (03/12/26 10:00:00)] was greater than the threshold (50.0)."
    )
    down = evaluate(spec, ALARM, _points(10.0), T0)
    assert down.state == OK
    assert (
        down.reason
        == "Threshold Crossed: 1 datapoint [10.0 (03/12/26 10:00:00)] was not greater than the threshold (50.0)."
    )


def test_m_out_of_n() -> None:
    spec = _spec(EvaluationPeriods=5, DatapointsToAlarm=2)
    assert evaluate(spec, OK, _points(60, 10, 10, 70, 10), T0).state == ALARM
    assert evaluate(spec, OK, _points(60, 10, 10, 10, 10), T0).state == OK
    result = evaluate(spec, OK, _points(60, 10, 10, 70, 10), T0)
    assert (
        "2 out of the last 5 datapoints" in result.reason and "(minimum 2 datapoints for OK -> ALARM" in result.reason
    )


@pytest.mark.parametrize(
    ("treat", "values", "current", "expected"),
    [
        ("missing", (None, None, None), OK, INSUFFICIENT_DATA),
        ("ignore", (None, None, None), ALARM, ALARM),
        ("breaching", (None, None, None), OK, ALARM),
        ("notBreaching", (None, None, None), ALARM, OK),
        ("missing", (None, None, 90.0), OK, ALARM),  # AWS's table: "- - X" of 3 is ALARM
        ("ignore", (None, None, 90.0), OK, OK),  # retains the state
        ("breaching", (None, 90.0, None), OK, ALARM),
        ("notBreaching", (90.0, 90.0, None), ALARM, OK),
        ("missing", (10.0, None, 90.0), ALARM, OK),
        ("ignore", (10.0, None, 90.0), ALARM, OK),
    ],
)
def test_treat_missing_data(treat: str, values: tuple[float | None, ...], current: str, expected: str) -> None:
    assert evaluate(_spec(TreatMissingData=treat), current, _points(*values), T0).state == expected


def test_missing_data_texts() -> None:
    unknown = evaluate(_spec(), OK, _points(None, None, None), T0)
    assert unknown.reason == "Insufficient Data: 3 datapoints were unknown."
    treated = evaluate(_spec(TreatMissingData="breaching", EvaluationPeriods=1), OK, _points(None), T0)
    assert treated.reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [Breaching]."
    )


def _put(store: Store, **overrides: Any) -> str:
    return alarms.put_alarm(store, SCOPE, _spec(**overrides), T0)


def test_put_alarm_validation_changes_nothing() -> None:
    store = Store()
    with pytest.raises(InvalidParameterValue):
        _put(store, DatapointsToAlarm=4)
    with pytest.raises(MissingParameter):
        alarms.put_alarm(store, SCOPE, {k: v for k, v in _spec().items() if k != "Period"}, T0)
    with pytest.raises(InvalidParameterValue):
        _put(store, Period=45)
    with pytest.raises(InvalidParameterValue):
        _put(store, AlarmActions=["not-an-arn"])
    assert store.count(SCOPE, alarms.KIND) == 0
    assert alarms.history(store, SCOPE, None, None, None, None, True) == []


def test_new_alarm_starts_insufficient_data_and_evaluates_once_a_period() -> None:
    store = Store()
    metrics = MetricStore(store)
    arn = _put(store, AlarmActions=[POLICY], OKActions=["arn:aws:sns:us-east-1:123456789012:t"])
    assert arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"
    record = store.get(SCOPE, alarms.KIND, "cpu-high")
    assert record is not None and record["status"]["StateValue"] == INSUFFICIENT_DATA
    assert record["status"]["StateReason"] == "Unchecked: Initial alarm creation"
    for k in range(3):
        metrics.put(SCOPE, "AWS/ECS", "CPUUtilization", {}, T0 + 60 * k + 5, 80.0 + k, "Percent")
    now = T0 + 180 + 1
    (transition,) = alarms.evaluate_alarms(store, now)
    assert (transition.old_state, transition.new_state, transition.actions) == (INSUFFICIENT_DATA, ALARM, (POLICY,))
    assert alarms.evaluate_alarms(store, now + 10) == []  # same period: not evaluated again
    (again,) = alarms.evaluate_alarms(store, now + 60)  # staying in ALARM: the scaling policy again
    assert again.old_state == again.new_state == ALARM and again.actions == (POLICY,)
    items = alarms.history(store, SCOPE, "cpu-high", "StateUpdate", None, None, True)
    assert items[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    data = json.loads(items[0]["HistoryData"])
    assert data["newState"]["stateValue"] == ALARM and data["oldState"]["stateValue"] == INSUFFICIENT_DATA


def test_set_alarm_state_holds_until_next_period_and_hands_out_actions() -> None:
    store = Store()
    MetricStore(store)
    _put(store, OKActions=["arn:aws:sns:us-east-1:123456789012:t"])
    alarms.evaluate_alarms(store, T0 + 181)  # no data: stays INSUFFICIENT_DATA
    alarms.change_state(store, SCOPE, "cpu-high", OK, "testing", None, T0 + 190, pending=True)
    (pending,) = alarms.evaluate_alarms(store, T0 + 200)
    assert pending.new_state == OK and pending.actions == ("arn:aws:sns:us-east-1:123456789012:t",)
    record = store.get(SCOPE, alarms.KIND, "cpu-high")
    assert record is not None and record["status"]["StateValue"] == OK
    (back,) = alarms.evaluate_alarms(store, T0 + 241)  # the next period's evaluation moves it back
    assert back.new_state == INSUFFICIENT_DATA


def test_metric_math_alarm() -> None:
    store = Store()
    metrics = MetricStore(store)
    queries = [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors"}, "Period": 60,
                                    "Stat": "Sum"}, "ReturnData": False},
        {"Id": "m2", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Requests"}, "Period": 60,
                                    "Stat": "Sum"}, "ReturnData": False},
        {"Id": "e1", "Expression": "100 * m1 / m2", "Label": "error rate"},
    ]  # fmt: skip
    spec = {
        "AlarmName": "errors",
        "Metrics": queries,
        "EvaluationPeriods": 2,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    alarms.put_alarm(store, SCOPE, spec, T0)
    for k in range(2):
        metrics.put(SCOPE, "App", "Errors", {}, T0 + 60 * k, 10.0)
        metrics.put(SCOPE, "App", "Requests", {}, T0 + 60 * k, 100.0)
    (transition,) = alarms.evaluate_alarms(store, T0 + 121)
    assert transition.new_state == ALARM
    assert "[10.0 (03/12/26 10:01:00), 10.0 (03/12/26 10:00:00)]" in transition.reason
    with pytest.raises(InvalidParameterValue, match="Exactly one element"):
        alarms.put_alarm(store, SCOPE, {**spec, "Metrics": [{**q, "ReturnData": True} for q in queries]}, T0)


def test_delete_alarms_all_or_none() -> None:
    store = Store()
    MetricStore(store)
    _put(store)
    with pytest.raises(Exception, match="not found"):
        alarms.delete_alarms(store, SCOPE, ["cpu-high", "nope"], T0)
    assert store.get(SCOPE, alarms.KIND, "cpu-high") is not None
    alarms.delete_alarms(store, SCOPE, ["cpu-high"], T0)
    assert store.get(SCOPE, alarms.KIND, "cpu-high") is None
