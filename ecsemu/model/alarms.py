"""CloudWatch metric alarms: their records, their history, and their evaluation.

Vocabulary
----------
record
    ``cloudwatch.alarm`` keyed by the alarm name: ``{"spec": PutMetricAlarm's members as given
    (validated, defaults filled), "status": {StateValue, StateReason, StateReasonData,
    StateUpdatedTimestamp, StateTransitionedTimestamp, AlarmConfigurationUpdatedTimestamp,
    EvaluatedPeriod, Pending}}``. ``Pending`` holds transitions made outside an evaluation
    (SetAlarmState) whose actions the next ``evaluate_alarms`` hands out.
window
    The last ``EvaluationPeriods`` complete periods before ``now``: period k covers
    ``[end - (N - k) * P, end - (N - k - 1) * P)`` with ``end = floor(now / P) * P``.
breaching
    A period's value on the wrong side of the threshold (``ComparisonOperator``).

Evaluation (``evaluate``, pure): with M = DatapointsToAlarm (default N) out of N periods,
missing periods are first treated as TreatMissingData says: ``breaching`` / ``notBreaching``
fill them; ``missing`` and ``ignore`` leave them out. Then: all missing -> INSUFFICIENT_DATA
(``missing``) or the current state (``ignore``); at least M breaching -> ALARM; under
``missing``, when fewer than M periods have data and all of them breach -> ALARM (AWS's table:
``- - X`` of 3 is ALARM); ``ignore`` keeps the state unless more than N - M periods do not
breach (then OK); otherwise OK. An alarm is evaluated once per period (``EvaluatedPeriod``), so
a state set by SetAlarmState holds until the next period's evaluation, as in AWS.

Invariants:
- History lives in the ``cloudwatch_alarm_history`` side table, 30 days (AWS's retention) and
  at most ``MAX_HISTORY_PER_SCOPE`` rows per scope; every state change and configuration change
  writes one item in the same transaction as the record.
- Time is an argument everywhere (``now``: AWS time, epoch seconds); periods stay AWS's.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model import metrics as metrics_model
from ecsemu.model.metrics import (
    InvalidParameterCombination,
    InvalidParameterValue,
    MetricStore,
    MissingParameter,
    check_period,
    check_queries,
    metric_of,
    run_queries,
)
from ecsemu.state.store import Record, Store
from ecsemu.state.tables import SideTable, TableSpec

KIND: Final = "cloudwatch.alarm"
OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES: Final = (OK, ALARM, INSUFFICIENT_DATA)
Comparison = Callable[[float, float], bool]
COMPARISONS: Final[dict[str, tuple[str, Comparison]]] = {
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
ANOMALY_COMPARISONS: Final = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREAT_MISSING: Final = ("breaching", "notBreaching", "ignore", "missing")
INITIAL_REASON: Final = "Unchecked: Initial alarm creation"
MAX_ACTIONS: Final = 5
MAX_EVALUATION_SPAN_S: Final = 7 * 86400
HISTORY_RETENTION_S: Final = 30 * 86400
MAX_HISTORY_PER_SCOPE: Final = 100_000
AUTOSCALING_POLICY_PREFIX: Final = "arn:aws:autoscaling:"

HISTORY: Final = TableSpec(
    "cloudwatch_alarm_history",
    columns=(
        ("alarm_name", "TEXT"),
        ("timestamp", "REAL"),
        ("item_type", "TEXT"),
        ("summary", "TEXT"),
        ("data", "TEXT"),
    ),
    indexes=(("alarm_name", "timestamp"), ("timestamp",)),
)
_HISTORY: weakref.WeakKeyDictionary[Store, SideTable] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def history_table(store: Store) -> SideTable:
    """The store's history side table (declared once; the first call outside a transaction)."""
    with _LOCK:
        table = _HISTORY.get(store)
        if table is None:
            table = _HISTORY[store] = SideTable(store, HISTORY)
        return table


def alarm_arn(scope: Scope, name: str) -> str:
    return f"arn:aws:cloudwatch:{scope.region}:{scope.account_id}:alarm:{name}"


def name_of_arn(scope: Scope, arn: str) -> str | None:
    prefix = alarm_arn(scope, "")
    return arn[len(prefix) :] if arn.startswith(prefix) and len(arn) > len(prefix) else None


def iso(moment: float) -> str:
    """AWS's timestamp in reason data and history: ``2026-12-03T10:04:12.345+0000``."""
    text = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "+0000"


# -- validation (PutMetricAlarm) -------------------------------------------------------------


def _check_actions(spec: Mapping[str, Any]) -> None:
    for member in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        actions = spec.get(member) or []
        if len(actions) > MAX_ACTIONS:
            raise InvalidParameterValue(f"The collection {member} must not have a size greater than {MAX_ACTIONS}.")
        for action in actions:
            if not action.startswith("arn:"):
                raise InvalidParameterValue(f"Invalid arn syntax: {action}")


def validate(params: Mapping[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's members, checked as AWS checks them beyond their shape; the spec."""
    spec = {key: value for key, value in params.items() if value is not None}
    name = spec.get("AlarmName", "")
    if not name or any(ord(ch) < 32 for ch in name):
        raise InvalidParameterValue(f"The value {name!r} for parameter AlarmName is not valid.")
    comparison = spec.get("ComparisonOperator")
    if comparison in ANOMALY_COMPARISONS or "ThresholdMetricId" in spec:
        raise InvalidParameterValue("Anomaly detection alarms are not supported by ecsemu yet.")
    if comparison not in COMPARISONS:
        raise InvalidParameterValue(f"The value {comparison} for parameter ComparisonOperator is not valid.")
    if "Threshold" not in spec:
        raise MissingParameter("The parameter Threshold is required.")
    treat = spec.get("TreatMissingData", "missing")
    if treat not in TREAT_MISSING:
        raise InvalidParameterValue(
            f"The value {treat} for parameter TreatMissingData is not valid. "
            f"Valid values are: {', '.join(TREAT_MISSING)}."
        )
    evaluation_periods = int(spec.get("EvaluationPeriods", 0))
    if evaluation_periods < 1:
        raise MissingParameter("The parameter EvaluationPeriods is required.")
    datapoints = int(spec.get("DatapointsToAlarm", evaluation_periods))
    if datapoints > evaluation_periods:
        raise InvalidParameterValue("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if "Metrics" in spec:
        _check_math_alarm(spec)
        period = return_period(spec)
    else:
        _check_single_metric_alarm(spec)
        period = int(spec["Period"])
    if period * evaluation_periods > MAX_EVALUATION_SPAN_S:
        raise InvalidParameterValue(
            "The evaluation period of the alarm (Period * EvaluationPeriods) must not exceed 604800 seconds (7 days)."
        )
    _check_actions(spec)
    spec.setdefault("ActionsEnabled", True)
    for member in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        spec[member] = list(dict.fromkeys(spec.get(member) or []))
    spec["Threshold"] = float(spec["Threshold"])
    return spec


def _check_single_metric_alarm(spec: Mapping[str, Any]) -> None:
    for member in ("MetricName", "Namespace", "Period"):
        if member not in spec:
            raise MissingParameter(f"The parameter {member} is required.")
    has_statistic, has_extended = "Statistic" in spec, "ExtendedStatistic" in spec
    if has_statistic and has_extended:
        raise InvalidParameterCombination("Statistic and ExtendedStatistic cannot both be specified.")
    if not (has_statistic or has_extended):
        raise MissingParameter("One of Statistic or ExtendedStatistic must be specified.")
    if has_extended:
        metrics_model.check_statistic_name(spec["ExtendedStatistic"], "ExtendedStatistic")
    check_period(int(spec["Period"]), "Period")


def _check_math_alarm(spec: Mapping[str, Any]) -> None:
    single = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")
    given = [member for member in single if member in spec]
    if given:
        raise InvalidParameterCombination(f"The parameters Metrics and {given[0]} are mutually exclusive.")
    queries = spec["Metrics"]
    if not queries:
        raise MissingParameter("The parameter Metrics must not be empty.")
    check_queries(queries)
    if sum(1 for q in queries if q.get("ReturnData", True)) != 1:
        raise InvalidParameterValue("Exactly one element of the metrics list should return data.")


def return_period(spec: Mapping[str, Any]) -> int:
    """The period an alarm evaluates on (a math alarm: its returned query's, else the largest)."""
    if "Metrics" not in spec:
        return int(spec["Period"])
    periods = [int(q["MetricStat"]["Period"]) for q in spec["Metrics"] if "MetricStat" in q]
    periods += [int(q["Period"]) for q in spec["Metrics"] if q.get("Period")]
    returned = next(q for q in spec["Metrics"] if q.get("ReturnData", True))
    if "MetricStat" in returned:
        return int(returned["MetricStat"]["Period"])
    return int(returned.get("Period") or (max(periods) if periods else 60))


# -- records ---------------------------------------------------------------------------------


def put_alarm(store: Store, scope: Scope, params: dict[str, Any], now: float) -> str:
    """Create or replace an alarm (PutMetricAlarm); returns its ARN. A new alarm starts in
    INSUFFICIENT_DATA; an update keeps the state (and its tags unless Tags are given)."""
    spec = validate(params)
    history = history_table(store)
    name = spec["AlarmName"]
    with store.transaction():
        existing = store.get(scope, KIND, name)
        if existing is None:
            status = {
                "StateValue": INSUFFICIENT_DATA,
                "StateReason": INITIAL_REASON,
                "StateUpdatedTimestamp": now,
                "StateTransitionedTimestamp": now,
                "Pending": [],
            }
            summary, kind = f'Alarm "{name}" created', "Create"
        else:
            status = existing["status"]
            status.pop("EvaluatedPeriod", None)  # a new configuration is evaluated afresh
            if "Tags" not in spec and "Tags" in existing["spec"]:
                spec["Tags"] = existing["spec"]["Tags"]
            summary, kind = f'Alarm "{name}" updated', "Update"
        status["AlarmConfigurationUpdatedTimestamp"] = now
        record = {"spec": spec, "status": status}
        store.put(scope, KIND, name, record)
        data = {"version": "1.0", "type": kind, f"{kind.lower()}dAlarm": describe(scope, record)}
        _history(history, scope, name, now, "ConfigurationUpdate", summary, data)
    return alarm_arn(scope, name)


def delete_alarms(store: Store, scope: Scope, names: Sequence[str], now: float) -> None:
    """Delete the named alarms (names that do not exist are AWS's ResourceNotFound: all or none)."""
    history = history_table(store)
    with store.transaction():
        missing = [name for name in names if store.get(scope, KIND, name) is None]
        if missing:
            raise metrics_model.ResourceNotFound(
                f"{len(missing)}/{len(names)} alarms not found: [{', '.join(missing)}]"
            )
        for name in dict.fromkeys(names):
            record = store.get(scope, KIND, name)
            assert record is not None
            store.delete(scope, KIND, name)
            data = {"version": "1.0", "type": "Delete", "deletedAlarm": describe(scope, record)}
            _history(history, scope, name, now, "ConfigurationUpdate", f'Alarm "{name}" deleted', data)


def describe(scope: Scope, record: Record) -> dict[str, Any]:
    """A MetricAlarm as DescribeAlarms shows it (timestamps as epoch seconds)."""
    spec, status = record["spec"], record["status"]
    out: dict[str, Any] = {"AlarmName": spec["AlarmName"], "AlarmArn": alarm_arn(scope, spec["AlarmName"])}
    for member in ("AlarmDescription",):
        if member in spec:
            out[member] = spec[member]
    out["AlarmConfigurationUpdatedTimestamp"] = status["AlarmConfigurationUpdatedTimestamp"]
    out["ActionsEnabled"] = spec["ActionsEnabled"]
    for member in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        out[member] = list(spec.get(member) or [])
    for member in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp"):
        if member in status:
            out[member] = status[member]
    for member in (
        "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
        "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
        "EvaluateLowSampleCountPercentile", "Metrics",
    ):  # fmt: skip
        if member in spec:
            out[member] = spec[member]
    if "Metrics" not in spec:
        out.setdefault("Dimensions", [])
    out["StateTransitionedTimestamp"] = status.get("StateTransitionedTimestamp", status["StateUpdatedTimestamp"])
    return out


def _history(
    table: SideTable, scope: Scope, name: str, now: float, item_type: str, summary: str, data: Mapping[str, Any]
) -> None:
    row = {"alarm_name": name, "timestamp": now, "item_type": item_type, "summary": summary}
    table.insert(scope, [{**row, "data": json.dumps(data, separators=(",", ":"))}])
    table.delete(scope, "timestamp < ?", (now - HISTORY_RETENTION_S,))
    if table.count(scope) > MAX_HISTORY_PER_SCOPE:
        table.cap(scope, MAX_HISTORY_PER_SCOPE, newest_by="timestamp")


def record_action(store: Store, scope: Scope, alarm_name: str, action: str, succeeded: bool, now: float) -> None:
    """Write an ``Action`` history item (the caller invoked one of an alarm's actions)."""
    word = "Successfully executed" if succeeded else "Failed to execute"
    data = {"actionState": "Succeeded" if succeeded else "Failed", "notificationResource": action}
    _history(history_table(store), scope, alarm_name, now, "Action", f"{word} action {action}", data)


def history(
    store: Store, scope: Scope, name: str | None, item_type: str | None, start: float | None, end: float | None,
    newest_first: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """AlarmHistoryItems (AlarmType ``MetricAlarm``) matching the filters."""
    clauses: list[str] = []
    args: list[Any] = []
    for clause, value in (("alarm_name = ?", name), ("item_type = ?", item_type)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    if start is not None:
        clauses.append("timestamp >= ?")
        args.append(start)
    if end is not None:
        clauses.append("timestamp <= ?")
        args.append(end)
    order = "timestamp DESC, rowid DESC" if newest_first else "timestamp, rowid"
    rows = history_table(store).select(scope, " AND ".join(clauses), args, order_by=order)
    return [
        {
            "AlarmName": row["alarm_name"],
            "AlarmType": "MetricAlarm",
            "Timestamp": row["timestamp"],
            "HistoryItemType": row["item_type"],
            "HistorySummary": row["summary"],
            "HistoryData": row["data"],
        }
        for row in rows
    ]


# -- evaluation (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodPoint:
    """One period of the window: its start, and its value (None when missing)."""

    timestamp: float
    value: float | None
    sample_count: float | None = None


@dataclass(frozen=True)
class Evaluation:
    state: str
    reason: str
    reason_data: dict[str, Any]


def _number(value: float) -> str:
    text = repr(float(value))
    return text.replace("e", "E") if "e" in text else text


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%d/%m/%y %H:%M:%S")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def evaluate(spec: Mapping[str, Any], state: str, points: Sequence[PeriodPoint], now: float) -> Evaluation:
    """The state an alarm should be in, given its window's points (oldest first), with AWS's
    reason and reason data. The state may equal ``state`` (then nothing is to be written)."""
    n = len(points)
    m = int(spec.get("DatapointsToAlarm") or n)
    threshold = float(spec["Threshold"])
    words, breaches = COMPARISONS[spec["ComparisonOperator"]]
    treat = spec.get("TreatMissingData", "missing")
    present = [p for p in points if p.value is not None]
    missing = n - len(present)
    b = sum(1 for p in present if p.value is not None and breaches(p.value, threshold))
    nb = len(present) - b
    if treat == "breaching":
        b += missing
    elif treat == "notBreaching":
        nb += missing
    data = _reason_data(spec, points, threshold, now)
    if not present and treat in ("breaching", "notBreaching"):
        word = "Breaching" if treat == "breaching" else "NonBreaching"
        new_state = ALARM if treat == "breaching" and b >= m else OK
        treated = "missing datapoint was" if missing == 1 else "missing datapoints were"
        reason = (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{missing} {treated} treated as [{word}]."
        )
        return Evaluation(new_state, reason, data)
    if not present:
        if treat == "ignore":
            return Evaluation(state, "", data)
        verb = "was" if n == 1 else "were"
        return Evaluation(INSUFFICIENT_DATA, f"Insufficient Data: {_plural(n, 'datapoint')} {verb} unknown.", data)
    if b >= m or (treat == "missing" and len(present) < m and nb == 0 and b > 0):
        new_state = ALARM
    elif treat == "ignore" and nb <= n - m:
        return Evaluation(state, "", data)
    else:
        new_state = OK
    listed = ", ".join(f"{_number(p.value)} ({_when(p.timestamp)})" for p in reversed(present) if p.value is not None)
    count = b if new_state == ALARM else nb
    negation = "" if new_state == ALARM else "not "
    verb = "was" if count == 1 else "were"
    if n == 1:
        reason = (
            f"Threshold Crossed: 1 datapoint [{listed}] was {negation}{words} the threshold ({_number(threshold)})."
        )
    else:
        needed = m if new_state == ALARM else n - m + 1
        transition = f"{state} -> {new_state}"
        reason = (
            f"Threshold Crossed: {count} out of the last {n} datapoints [{listed}] {verb} {negation}{words} "
            f"the threshold ({_number(threshold)}) (minimum {_plural(needed, 'datapoint')} for {transition} "
            "transition)."
        )
    return Evaluation(new_state, reason, data)


def _reason_data(
    spec: Mapping[str, Any], points: Sequence[PeriodPoint], threshold: float, now: float
) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": iso(now)}
    if points:
        data["startDate"] = iso(points[0].timestamp)
    if "Metrics" not in spec:
        if "Unit" in spec:
            data["unit"] = spec["Unit"]
        data["statistic"] = spec.get("Statistic") or spec.get("ExtendedStatistic")
    data["period"] = return_period(spec)
    data["recentDatapoints"] = [p.value for p in points if p.value is not None]
    data["threshold"] = threshold
    evaluated = []
    for point in reversed(points):
        item: dict[str, Any] = {"timestamp": iso(point.timestamp)}
        if point.value is not None:
            if point.sample_count is not None:
                item["sampleCount"] = point.sample_count
            item["value"] = point.value
        evaluated.append(item)
    data["evaluatedDatapoints"] = evaluated
    return data


def window(spec: Mapping[str, Any], now: float) -> tuple[float, float, int]:
    """``(start, end, period)`` of the alarm's evaluation window at ``now``."""
    period = return_period(spec)
    end = math.floor(now / period) * period
    return end - int(spec["EvaluationPeriods"]) * period, end, period


def collect(metrics: MetricStore, scope: Scope, spec: Mapping[str, Any], now: float) -> list[PeriodPoint]:
    """The alarm's window of period values, oldest first, from the datapoint table."""
    start, end, period = window(spec, now)
    stamps = [start + k * period for k in range(int(spec["EvaluationPeriods"]))]
    if "Metrics" in spec:
        results = run_queries(metrics, scope, spec["Metrics"], start, end)
        series = next(r.series for r in results if r.return_data)
        return [PeriodPoint(t, series.get(t)) for t in stamps]
    statistic = spec.get("Statistic") or spec["ExtendedStatistic"]
    buckets = metrics.aggregate(
        scope, metric_of(spec), start, end, period, unit=spec.get("Unit"), with_values="ExtendedStatistic" in spec
    )
    by_time = {bucket.timestamp: bucket for bucket in buckets}
    return [
        PeriodPoint(t, by_time[t].statistic(statistic), by_time[t].sample_count)
        if t in by_time
        else PeriodPoint(t, None)
        for t in stamps
    ]


# -- state changes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmTransition:
    """What an evaluation changed or must invoke: a state change (with the new state's actions
    when ActionsEnabled), or an alarm staying in ALARM whose Application Auto Scaling policy
    actions AWS invokes again every period."""

    scope: Scope
    alarm_name: str
    alarm_arn: str
    old_state: str
    new_state: str
    reason: str
    actions: tuple[str, ...]


_ACTIONS_OF: Final = {ALARM: "AlarmActions", OK: "OKActions", INSUFFICIENT_DATA: "InsufficientDataActions"}


def _transition(scope: Scope, spec: Mapping[str, Any], old: str, new: str, reason: str) -> AlarmTransition:
    actions: tuple[str, ...] = ()
    if spec.get("ActionsEnabled", True):
        actions = tuple(spec.get(_ACTIONS_OF[new]) or ())
        if old == new:  # staying in ALARM: only the scaling policies are invoked again
            actions = tuple(a for a in actions if a.startswith(AUTOSCALING_POLICY_PREFIX))
    name = spec["AlarmName"]
    return AlarmTransition(scope, name, alarm_arn(scope, name), old, new, reason, actions)


def change_state(
    store: Store, scope: Scope, name: str, new: str, reason: str, reason_data: Mapping[str, Any] | None, now: float,
    *, pending: bool = False,
) -> AlarmTransition | None:  # fmt: skip
    """Move an alarm to ``new`` (writing the state, its history item and, with ``pending``, the
    transition for the next ``evaluate_alarms``); None when the alarm is gone or unchanged."""
    history = history_table(store)
    with store.transaction():
        record = store.get(scope, KIND, name)
        if record is None:
            return None
        spec, status = record["spec"], record["status"]
        old = status["StateValue"]
        if old == new and not pending:
            return None
        old_state = {"stateValue": old, "stateReason": status.get("StateReason", "")}
        if "StateReasonData" in status:
            old_state["stateReasonData"] = json.loads(status["StateReasonData"])
        status.update(StateValue=new, StateReason=reason, StateUpdatedTimestamp=now)
        if old != new:
            status["StateTransitionedTimestamp"] = now
        status.pop("StateReasonData", None)
        new_state: dict[str, Any] = {"stateValue": new, "stateReason": reason}
        if reason_data is not None:
            status["StateReasonData"] = json.dumps(reason_data, separators=(",", ":"))
            new_state["stateReasonData"] = dict(reason_data)
        transition = _transition(scope, spec, old, new, reason)
        if pending and old != new:
            status.setdefault("Pending", []).append(
                {"old": old, "new": new, "reason": reason, "actions": list(transition.actions)}
            )
        store.put(scope, KIND, name, record)
        if old != new:
            data = {"version": "1.0", "oldState": old_state, "newState": new_state}
            _history(history, scope, name, now, "StateUpdate", f"Alarm updated from {old} to {new}", data)
        return transition


def evaluate_alarms(store: Store, now: float) -> list[AlarmTransition]:
    """Evaluate every alarm of every scope that has not been evaluated in its current period;
    write new states and their history; return the state changes and the actions to invoke
    now (with those SetAlarmState made since the last call)."""
    metrics = MetricStore(store)
    history_table(store)
    out: list[AlarmTransition] = []
    for scope in store.scopes():
        for name, record in store.items(scope, KIND):
            spec, status = record["spec"], record["status"]
            for item in status.get("Pending") or []:
                out.append(
                    AlarmTransition(
                        scope, name, alarm_arn(scope, name), item["old"], item["new"], item["reason"],
                        tuple(item["actions"]),
                    )
                )  # fmt: skip
            period = return_period(spec)
            evaluated_period = math.floor(now / period)
            if status.get("EvaluatedPeriod") == evaluated_period and not status.get("Pending"):
                continue
            points = collect(metrics, scope, spec, now)
            result = evaluate(spec, status["StateValue"], points, now)
            with store.transaction():
                current = store.get(scope, KIND, name)
                if current is None:
                    continue
                current["status"]["Pending"] = []
                current["status"]["EvaluatedPeriod"] = evaluated_period
                store.put(scope, KIND, name, current)
                if status.get("EvaluatedPeriod") == evaluated_period:
                    continue  # only the pending transitions were due
                old = current["status"]["StateValue"]
                if result.state != old:
                    changed = change_state(store, scope, name, result.state, result.reason, result.reason_data, now)
                    if changed is not None:
                        out.append(changed)
                elif old == ALARM:
                    staying = _transition(scope, spec, ALARM, ALARM, current["status"].get("StateReason", ""))
                    if staying.actions:
                        out.append(staying)
    return out
