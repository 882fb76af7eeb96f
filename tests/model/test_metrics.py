"""The datapoint side table: puts, aggregation per period in SQL, percentiles, the catalog,
retention, durability through a reopened store."""

from __future__ import annotations

from pathlib import Path

from ecsemu.context import Scope
from ecsemu.model import metrics as metrics_model
from ecsemu.model.metrics import Datapoint, MetricKey, MetricStore, percentile
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
OTHER = Scope("210987654321", "us-east-1")
T0 = 1_796_292_000.0
CPU = MetricKey("AWS/ECS", "CPUUtilization", {"ClusterName": "c", "ServiceName": "s"})


def test_aggregate_per_period_and_dimensions_in_any_order() -> None:
    store = Store()
    metrics = MetricStore(store)
    for k, value in enumerate([10.0, 20.0, 30.0, 40.0]):
        metrics.put(SCOPE, "AWS/ECS", "CPUUtilization", {"ServiceName": "s", "ClusterName": "c"}, T0 + 30 * k, value)
    buckets = metrics.aggregate(SCOPE, CPU, T0, T0 + 120, 60)
    assert [(b.timestamp, b.sample_count, b.sum, b.minimum, b.maximum) for b in buckets] == [
        (T0, 2.0, 30.0, 10.0, 20.0),
        (T0 + 60, 2.0, 70.0, 30.0, 40.0),
    ]
    assert metrics.series(SCOPE, CPU, "Average", T0, T0 + 120, 60) == {T0: 15.0, T0 + 60: 35.0}
    assert metrics.series(OTHER, CPU, "Average", T0, T0 + 120, 60) == {}


def test_statistic_sets_values_counts_and_percentiles() -> None:
    store = Store()
    metrics = MetricStore(store)
    key = MetricKey("App", "Latency")
    metrics.put_many(
        SCOPE,
        [
            Datapoint("App", "Latency", {}, T0, 1.0, "Milliseconds", count=9.0),
            Datapoint("App", "Latency", {}, T0, 100.0, "Milliseconds"),
            Datapoint(
                "App", "Latency", {}, T0 + 1, None, "Milliseconds", sample_count=10, total=50, minimum=2, maximum=8
            ),
        ],
    )
    (bucket,) = metrics.aggregate(SCOPE, key, T0, T0 + 60, 60, with_values=True)
    assert bucket.sample_count == 20.0 and bucket.sum == 159.0 and bucket.minimum == 1.0 and bucket.maximum == 100.0
    assert bucket.statistic("p50") == 1.0 and bucket.statistic("p99") == 100.0
    assert percentile([(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0)], 50) == 2.0
    assert metrics_model.percentile_rank("p99.9") == 99.9 and metrics_model.percentile_rank("avg") is None


def test_list_metrics_catalog_and_recently_active() -> None:
    store = Store()
    metrics = MetricStore(store)
    metrics.put(SCOPE, "App", "B", {"x": "1"}, T0, 1.0)
    metrics.put(SCOPE, "App", "A", {}, T0, 1.0)
    metrics.put(SCOPE, "App", "A", {}, T0 + 5, 2.0)
    assert [(m.name, dict(m.dimensions)) for m in metrics.list_metrics(SCOPE, "App")] == [("A", {}), ("B", {"x": "1"})]
    assert metrics.list_metrics(SCOPE, "Other") == []
    assert len(metrics.list_metrics(SCOPE, active_since=0.0)) == 2


def test_retention_drops_old_rows_and_caps(monkeypatch: object) -> None:
    store = Store()
    metrics = MetricStore(store)
    metrics.put(SCOPE, "App", "A", {}, T0, 1.0)
    metrics.put(SCOPE, "App", "A", {}, T0 + 100, 2.0)
    assert metrics.expire(T0 + 50) == 1
    assert metrics.series(SCOPE, MetricKey("App", "A"), "Sum", T0, T0 + 200, 60) == {T0 + 60: 2.0}


def test_durable_through_a_reopened_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = Store(path)
    MetricStore(store).put(SCOPE, "App", "A", {"k": "v"}, T0, 7.0, "Count")
    store.close()
    reopened = Store(path)
    again = MetricStore(reopened)
    assert again.series(SCOPE, MetricKey("App", "A", {"k": "v"}), "Sum", T0, T0 + 60, 60) == {T0: 7.0}
    assert [m.name for m in again.list_metrics(SCOPE)] == ["A"]
    reopened.close()
