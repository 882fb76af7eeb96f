"""CloudWatch metrics: the datapoint side table, its retention, and aggregation per period.

Vocabulary
----------
metric
    ``(namespace, metric name, dimensions)``; dimensions are a set of name/value pairs, kept as
    a canonical key (``dimensions_key``: JSON of the pairs sorted by name), so two puts naming
    the same pairs in another order write one metric.
datapoint row
    One sample or one statistic set at one timestamp: ``sample_count``, ``total`` (Sum),
    ``minimum``, ``maximum``, and ``value`` when the row is a (possibly repeated) single value
    (``Value``, or one element of ``Values`` with its ``Count``), NULL for a ``StatisticValues``
    set. Percentiles are computed from the rows that have a ``value``.
bucket
    The period a datapoint falls in, counted from the query's start:
    ``start + floor((t - start) / period) * period``; its statistics are aggregated in SQL.

Invariants:
- Rows live in the ``cloudwatch_datapoints`` side table (``state/tables.py``), never in memory;
  the catalog of metrics (for ListMetrics and its ``RecentlyActive``) in ``cloudwatch_metrics``,
  one row per metric and scope, with the time of its latest put.
- Retention: rows older than ``RETENTION_S`` (AWS keeps 1-minute data 15 days) before the newest
  of (wall clock, newest timestamp written) are dropped, and a scope keeps at most
  ``MAX_ROWS_PER_SCOPE`` rows (the oldest go first); both run on write, at most once a
  ``RETENTION_EVERY_S`` per store.
- A MetricStore may be built more than once per store (the side tables are declared idempotently),
  but the first must be built outside a transaction (``SideTable``'s rule).
- The errors CloudWatch answers live here too (the model validates as the API does, and the
  services import it, never the other way); their ``code`` is the JSON ``__type`` (the shape
  name) and ``query_code`` the awsQuery code boto3 shows (awsQueryCompatible).
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.errors import ClientError
from ecsemu.model import metric_math
from ecsemu.state.store import Store
from ecsemu.state.tables import SideTable, TableSpec

# -- errors ----------------------------------------------------------------------------------


class CloudWatchError(ClientError):
    """Base of CloudWatch's errors; ``query_code`` is the awsQuery code when it differs."""

    query_code: str | None = None


class InvalidParameterValue(CloudWatchError):
    code = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"


class MissingParameter(CloudWatchError):
    code = "MissingRequiredParameterException"
    query_code = "MissingParameter"


class InvalidParameterCombination(CloudWatchError):
    code = "InvalidParameterCombinationException"
    query_code = "InvalidParameterCombination"


class InvalidNextToken(CloudWatchError):
    code = "InvalidNextToken"


class InvalidFormat(CloudWatchError):
    code = "InvalidFormatFault"
    query_code = "InvalidFormat"


class LimitExceeded(CloudWatchError):
    code = "LimitExceededFault"
    query_code = "LimitExceeded"


class ResourceNotFound(CloudWatchError):
    code = "ResourceNotFound"
    status_code = 404


class ResourceNotFoundException(CloudWatchError):
    code = "ResourceNotFoundException"
    status_code = 404


# -- the tables ------------------------------------------------------------------------------

DATAPOINTS: Final = TableSpec(
    "cloudwatch_datapoints",
    columns=(
        ("namespace", "TEXT"),
        ("metric_name", "TEXT"),
        ("dimensions", "TEXT"),
        ("timestamp", "REAL"),
        ("unit", "TEXT"),
        ("sample_count", "REAL"),
        ("total", "REAL"),
        ("minimum", "REAL"),
        ("maximum", "REAL"),
        ("value", "REAL"),
        ("storage_resolution", "INTEGER"),
    ),
    indexes=(("namespace", "metric_name", "dimensions", "timestamp"),),
)
CATALOG: Final = TableSpec(
    "cloudwatch_metrics",
    columns=(("namespace", "TEXT"), ("metric_name", "TEXT"), ("dimensions", "TEXT"), ("last_put", "REAL")),
)
_CATALOG_UNIQUE: Final = (
    f"CREATE UNIQUE INDEX IF NOT EXISTS {CATALOG.name}__metric "
    f"ON {CATALOG.name} (account, region, namespace, metric_name, dimensions)"
)
_CATALOG_UPSERT: Final = (
    f"INSERT INTO {CATALOG.name} (account, region, namespace, metric_name, dimensions, last_put) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, namespace, metric_name, dimensions) "
    "DO UPDATE SET last_put = MAX(last_put, excluded.last_put)"
)

RETENTION_S: Final = 15 * 86400
MAX_ROWS_PER_SCOPE: Final = 1_000_000
RETENTION_EVERY_S: Final = 600.0
STANDARD_STATISTICS: Final = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
UNITS: Final = (
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
)  # fmt: skip


def dimensions_key(dimensions: Mapping[str, str]) -> str:
    """The canonical key of a set of dimensions (sorted by name)."""
    return _key_of(tuple(sorted(dimensions.items())))


@functools.lru_cache(maxsize=4096)
def _key_of(pairs: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(pairs, separators=(",", ":"))


def dimensions_of(key: str) -> dict[str, str]:
    return {str(name): str(value) for name, value in json.loads(key)}


def dimension_list(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    """Dimensions as the API shows them: ``[{"Name", "Value"}]``, sorted by name."""
    return [{"Name": name, "Value": value} for name, value in sorted(dimensions.items())]


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return dimensions_key(self.dimensions)

    def api(self) -> dict[str, Any]:
        """The metric as the API shows it (``Namespace``, ``MetricName``, ``Dimensions``)."""
        return {"Namespace": self.namespace, "MetricName": self.name, "Dimensions": dimension_list(self.dimensions)}


@dataclass(frozen=True)
class Datapoint:
    """One put: a single value (``value``, repeated ``count`` times) or a statistic set
    (``value`` None and ``sample_count``/``total``/``minimum``/``maximum`` given)."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    timestamp: float
    value: float | None = None
    unit: str | None = None
    count: float = 1.0
    sample_count: float | None = None
    total: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    storage_resolution: int = 60

    def row(self) -> dict[str, Any]:
        common = {
            "namespace": self.namespace,
            "metric_name": self.name,
            "dimensions": dimensions_key(self.dimensions),
            "timestamp": float(self.timestamp),
            "unit": self.unit or "None",
            "storage_resolution": self.storage_resolution,
        }
        if self.value is not None:
            value = float(self.value)
            return {
                **common,
                "sample_count": self.count,
                "total": value * self.count,
                "minimum": value,
                "maximum": value,
                "value": value,
            }
        return {
            **common,
            "sample_count": self.sample_count,
            "total": self.total,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "value": None,
        }


@dataclass(frozen=True)
class Aggregate:
    """The statistics of one bucket (of one unit, when asked by unit)."""

    timestamp: float
    unit: str
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    values: tuple[tuple[float, float], ...] = ()  # (value, count) of the single-value rows

    def statistic(self, name: str) -> float | None:
        """A standard statistic or a percentile (``p90``, ``p99.9``); None when it cannot be told."""
        if name == "SampleCount":
            return self.sample_count
        if name == "Sum":
            return self.sum
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        if name == "Average":
            return self.sum / self.sample_count if self.sample_count else None
        rank = percentile_rank(name)
        if rank is None:
            return None
        return percentile(self.values, rank) if self.values else None


def percentile_rank(name: str) -> float | None:
    """``p90`` -> 90.0; None when ``name`` is not a percentile (pNN, pNN.NN, p100)."""
    if len(name) < 2 or name[0] != "p":
        return None
    text = name[1:]
    head, _dot, tail = text.partition(".")
    if not head.isdigit() or len(head) > 3 or (tail and (not tail.isdigit() or len(tail) > 2)):
        return None
    rank = float(text)
    return rank if 0.0 <= rank <= 100.0 else None


def percentile(values: Iterable[tuple[float, float]], rank: float) -> float:
    """The weighted nearest-rank percentile of ``(value, count)`` pairs."""
    ordered = sorted(values)
    total = sum(count for _value, count in ordered)
    wanted = max(1.0, math.ceil(rank / 100.0 * total))
    seen = 0.0
    for value, count in ordered:
        seen += count
        if seen >= wanted:
            return value
    return ordered[-1][0]


_BUILT: weakref.WeakKeyDictionary[Store, tuple[SideTable, SideTable]] = weakref.WeakKeyDictionary()
_RETAINED: weakref.WeakKeyDictionary[Store, float] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class MetricStore:
    """The datapoints of one store: puts, aggregation and the catalog of metrics."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with _LOCK:
            tables = _BUILT.get(store)
            if tables is None:
                tables = (SideTable(store, DATAPOINTS), SideTable(store, CATALOG))
                with store.sql() as connection:
                    connection.execute(_CATALOG_UNIQUE)
                _BUILT[store] = tables
        self.datapoints, self.catalog = tables

    # -- writes ------------------------------------------------------------------------------

    def put(
        self,
        scope: Scope,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        timestamp: float,
        value: float,
        unit: str | None = None,
    ) -> None:
        self.put_many(scope, [Datapoint(namespace, name, dimensions, timestamp, value, unit)])

    def put_many(self, scope: Scope, datapoints: Sequence[Datapoint]) -> None:
        """Write the datapoints and their metrics' catalog rows in one transaction."""
        if not datapoints:
            return
        rows = [datapoint.row() for datapoint in datapoints]
        put_at = time.time()
        metrics = {(row["namespace"], row["metric_name"], row["dimensions"]) for row in rows}
        catalog = [(scope.account_id, scope.region, *metric, put_at) for metric in sorted(metrics)]
        newest = max(row["timestamp"] for row in rows)
        with self.store.transaction():
            self.datapoints.insert(scope, rows)
            with self.store.sql() as connection:
                connection.executemany(_CATALOG_UPSERT, catalog)
            self._retain(max(time.time(), newest))

    def _retain(self, reference: float) -> None:
        with _LOCK:
            last = _RETAINED.get(self.store, 0.0)
            if time.monotonic() - last < RETENTION_EVERY_S and last:
                return
            _RETAINED[self.store] = time.monotonic()
        self.expire(reference - RETENTION_S)

    def expire(self, before: float) -> int:
        """Drop every scope's rows older than ``before``, then cap each scope's rows."""
        dropped = 0
        with self.store.sql() as connection:
            scopes = connection.execute(f"SELECT DISTINCT account, region FROM {DATAPOINTS.name}").fetchall()
        for account, region in scopes:
            scope = Scope(account, region)
            dropped += self.datapoints.delete(scope, "timestamp < ?", (before,))
            excess = self.datapoints.count(scope) - MAX_ROWS_PER_SCOPE
            if excess > 0:
                with self.store.sql() as connection:
                    dropped += connection.execute(
                        f"DELETE FROM {DATAPOINTS.name} WHERE rowid IN (SELECT rowid FROM {DATAPOINTS.name} "
                        "WHERE account = ? AND region = ? ORDER BY timestamp LIMIT ?)",
                        (account, region, excess),
                    ).rowcount
        return dropped

    # -- reads -------------------------------------------------------------------------------

    def aggregate(
        self,
        scope: Scope,
        metric: MetricKey,
        start: float,
        end: float,
        period: int,
        *,
        unit: str | None = None,
        by_unit: bool = False,
        with_values: bool = False,
    ) -> list[Aggregate]:
        """The buckets of ``metric`` between ``start`` (inclusive) and ``end`` (exclusive), in
        time order; ``unit`` keeps only data of that unit, ``by_unit`` splits buckets by unit,
        ``with_values`` adds the single values a percentile needs."""
        where = (
            "account = ? AND region = ? AND namespace = ? AND metric_name = ? AND dimensions = ? "
            "AND timestamp >= ? AND timestamp < ?"
        )
        args: list[Any] = [scope.account_id, scope.region, metric.namespace, metric.name, metric.key, start, end]
        if unit is not None:
            where += " AND unit = ?"
            args.append(unit)
        unit_column = "unit" if by_unit else "MIN(unit)"
        group = "bucket, unit" if by_unit else "bucket"
        bucket = "CAST((timestamp - ?) / ? AS INTEGER)"
        sql = (
            f"SELECT {bucket} AS bucket, {unit_column}, SUM(sample_count), SUM(total), MIN(minimum), MAX(maximum) "
            f"FROM {DATAPOINTS.name} WHERE {where} GROUP BY {group} ORDER BY bucket"
        )
        values: dict[tuple[int, str | None], list[tuple[float, float]]] = {}
        with self.store.sql() as connection:
            rows = connection.execute(sql, [start, period, *args]).fetchall()
            if with_values:
                value_sql = (
                    f"SELECT {bucket}, unit, value, sample_count FROM {DATAPOINTS.name} "
                    f"WHERE {where} AND value IS NOT NULL"
                )
                for index, row_unit, value, count in connection.execute(value_sql, [start, period, *args]):
                    values.setdefault((index, row_unit if by_unit else None), []).append((value, count))
        return [
            Aggregate(
                start + index * period,
                row_unit or "None",
                count or 0.0,
                total or 0.0,
                minimum,
                maximum,
                tuple(values.get((index, row_unit if by_unit else None), ())),
            )
            for index, row_unit, count, total, minimum, maximum in rows
        ]

    def series(
        self,
        scope: Scope,
        metric: MetricKey,
        statistic: str,
        start: float,
        end: float,
        period: int,
        unit: str | None = None,
    ) -> dict[float, float]:
        """``{bucket start: statistic}`` for the buckets that have data (and a value)."""
        needs_values = statistic not in STANDARD_STATISTICS
        out: dict[float, float] = {}
        for bucket in self.aggregate(scope, metric, start, end, period, unit=unit, with_values=needs_values):
            value = bucket.statistic(statistic)
            if value is not None:
                out[bucket.timestamp] = value
        return out

    def list_metrics(
        self, scope: Scope, namespace: str | None = None, name: str | None = None, active_since: float | None = None
    ) -> list[MetricKey]:
        """The scope's metrics, ordered by namespace, name and dimensions key."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("namespace", namespace), ("metric_name", name)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if active_since is not None:
            clauses.append("last_put >= ?")
            args.append(active_since)
        rows = self.catalog.select(scope, " AND ".join(clauses), args, order_by="namespace, metric_name, dimensions")
        return [MetricKey(row["namespace"], row["metric_name"], dimensions_of(row["dimensions"])) for row in rows]


# -- metric data queries (GetMetricData, metric-math alarms) ----------------------------------

_QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
MAX_QUERIES: Final = 500


@dataclass(frozen=True)
class QueryResult:
    id: str
    label: str
    series: dict[float, float]
    return_data: bool
    period: int


def metric_of(stat: Mapping[str, Any]) -> MetricKey:
    """The metric of a ``MetricStat`` (or of an alarm's own members)."""
    metric = stat.get("Metric", stat)
    dimensions = {d["Name"]: d.get("Value", "") for d in metric.get("Dimensions") or []}
    return MetricKey(metric.get("Namespace", ""), metric.get("MetricName", ""), dimensions)


def check_queries(queries: Sequence[Mapping[str, Any]]) -> None:
    """What AWS checks of MetricDataQueries beyond their shape (ids, one of MetricStat or
    Expression, references to earlier or later ids that exist, no cycles)."""
    if len(queries) > MAX_QUERIES:
        raise InvalidParameterValue(
            f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
        )
    ids: set[str] = set()
    for query in queries:
        query_id = query.get("Id", "")
        if not _QUERY_ID.match(query_id):
            raise InvalidParameterValue(
                f"The value {query_id} for parameter MetricDataQueries.member.Id is not valid: it must start with a "
                "lowercase letter and contain only letters, numbers and underscores."
            )
        if query_id in ids:
            raise InvalidParameterValue(
                f"The value {query_id} for parameter MetricDataQueries.member.Id is duplicated."
            )
        ids.add(query_id)
        has_stat, has_expression = "MetricStat" in query, "Expression" in query
        if has_stat == has_expression:
            raise InvalidParameterValue(
                "Exactly one of MetricStat and Expression must be specified for each element of MetricDataQueries."
            )
        if has_stat:
            stat = query["MetricStat"]
            check_statistic_name(stat.get("Stat", ""), "MetricStat.Stat")
            check_period(int(stat.get("Period", 0)), "MetricStat.Period")
    for query in queries:
        if "Expression" in query:
            try:
                node = metric_math.parse(query["Expression"])
            except metric_math.MathError as error:
                raise InvalidParameterValue(f"Error in expression {query['Id']}: {error}") from error
            for name in metric_math.references(node) - ids:
                raise InvalidParameterValue(f"Error in expression {query['Id']}: Unrecognized metric id {name!r}.")


def check_statistic_name(name: str, member: str) -> None:
    if name not in STANDARD_STATISTICS and percentile_rank(name) is None:
        raise InvalidParameterValue(f"The value {name} for parameter {member} is not supported.")


def check_period(period: int, member: str) -> None:
    """Period: 1, 5, 10, 20, 30 (high resolution) or a multiple of 60."""
    if period <= 0 or (period not in (1, 5, 10, 20, 30) and period % 60):
        raise InvalidParameterValue(f"The parameter {member} must be 1, 5, 10, 20, 30, or any multiple of 60.")


def run_queries(
    metrics: MetricStore, scope: Scope, queries: Sequence[Mapping[str, Any]], start: float, end: float
) -> list[QueryResult]:
    """Every query's series over ``[start, end)`` in the order given (expressions evaluated in
    dependency order, so one may name a later id); ``check_queries`` has been passed."""
    stats = [q for q in queries if "MetricStat" in q]
    periods = [int(q["MetricStat"]["Period"]) for q in stats] + [int(q["Period"]) for q in queries if q.get("Period")]
    default_period = max(periods) if periods else 60
    results: dict[str, QueryResult] = {}
    for query in stats:
        stat = query["MetricStat"]
        period = int(stat["Period"])
        series = metrics.series(scope, metric_of(stat), stat["Stat"], start, end, period, stat.get("Unit"))
        label = query.get("Label") or metric_of(stat).name
        results[query["Id"]] = QueryResult(query["Id"], label, series, query.get("ReturnData", True), period)
    grid = [start + k * default_period for k in range(max(0, math.ceil((end - start) / default_period)))]
    named = [metric_math.Named(r.id, r.label, r.series) for r in results.values()]
    pending = {q["Id"]: q for q in queries if "Expression" in q}
    nodes = {query_id: metric_math.parse(q["Expression"]) for query_id, q in pending.items()}
    while pending:
        ready = [i for i in pending if metric_math.references(nodes[i]) <= results.keys()]
        if not ready:
            raise InvalidParameterValue(f"Error in expression {next(iter(pending))}: Circular dependency.")
        for query_id in ready:
            query = pending.pop(query_id)
            context = metric_math.Context({k: r.series for k, r in results.items()}, named, grid)
            try:
                series = metric_math.series_result(metric_math.evaluate(nodes[query_id], context), context)
            except metric_math.MathError as error:
                raise InvalidParameterValue(f"Error in expression {query_id}: {error}") from error
            label = query.get("Label") or query_id
            period = int(query.get("Period") or default_period)
            results[query_id] = QueryResult(query_id, label, series, query.get("ReturnData", True), period)
    return [results[q["Id"]] for q in queries]
