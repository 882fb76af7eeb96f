"""CloudWatch Logs metric filters: kind ``logs.metricFilter``, and the datapoints they turn log
events into.

Record (per account and region), id ``<group name with "/" written ":">/<filter name>`` (under
its group, like a stream)::

    {"spec": {"filterName", "logGroupName", "filterPattern", "creationTime",
              "metricTransformations": [{"metricName", "metricNamespace", "metricValue",
                                         "defaultValue"?, "dimensions"?, "unit"?}]},
     "status": {}}

Vocabulary
----------
metric value
    A number (``"1"``, ``"0.5"``) published for each matching event, or a JSON selector
    (``$.latency``) whose numeric field in the event is published (an event whose field is
    absent or not a number publishes nothing).
dimensions
    Each dimension's value is a JSON selector (``$.status``) read from the event; an event
    missing one publishes nothing (AWS's rule: dimension values come from the event's fields).
default value
    Published once, at ingestion time, for a batch of events of which none matched.

Invariants:
- A group holds at most ``MAX_PER_GROUP`` filters (AWS's quota); deleting the group deletes them.
- Filters are evaluated when events are stored (``LogStore.append``, so PutLogEvents and the
  awslogs driver alike), never retroactively, as AWS does.
- Pure apart from the store reads in :func:`filters_of`; patterns are compiled by
  :mod:`ecsemu.model.log_filter`, and a filter ecsemu cannot evaluate is refused when put.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model.log_filter import FilterPattern, compile_pattern, json_field
from ecsemu.model.metrics import Datapoint
from ecsemu.state.store import Record, Store

KIND: Final = "logs.metricFilter"
MAX_PER_GROUP: Final = 100


def head(group: str) -> str:
    return group.replace("/", ":")


def record_id(group: str, name: str) -> str:
    return f"{head(group)}/{name}"


@dataclass(frozen=True)
class MetricFilter:
    group: str
    name: str
    pattern: str
    creation_time: int
    transformations: tuple[dict[str, Any], ...]

    @classmethod
    def from_record(cls, record: Record) -> MetricFilter:
        spec = record["spec"]
        return cls(
            group=spec["logGroupName"],
            name=spec["filterName"],
            pattern=spec["filterPattern"],
            creation_time=int(spec["creationTime"]),
            transformations=tuple(dict(t) for t in spec["metricTransformations"]),
        )

    def to_record(self) -> Record:
        spec = {
            "filterName": self.name,
            "logGroupName": self.group,
            "filterPattern": self.pattern,
            "creationTime": self.creation_time,
            "metricTransformations": [dict(t) for t in self.transformations],
        }
        return {"spec": spec, "status": {}}

    def api(self) -> dict[str, Any]:
        """The ``MetricFilter`` shape DescribeMetricFilters answers."""
        return {
            "filterName": self.name,
            "filterPattern": self.pattern,
            "metricTransformations": [dict(t) for t in self.transformations],
            "creationTime": self.creation_time,
            "logGroupName": self.group,
            "applyOnTransformedLogs": False,
        }


def filters_of(store: Store, scope: Scope, group: str) -> list[MetricFilter]:
    """The group's filters, by name."""
    found = (MetricFilter.from_record(record) for record in store.list(scope, KIND, under=head(group)))
    return sorted((f for f in found if f.group == group), key=lambda f: f.name)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _selected(text: str, message: str) -> Any:
    return json_field(message, text) if text.startswith("$") else text


def datapoints(metric_filter: MetricFilter, events: Sequence[tuple[int, str]], now_ms: int) -> list[Datapoint]:
    """What ``metric_filter`` publishes for a batch of ``(timestamp ms, message)`` events."""
    pattern: FilterPattern = compile_pattern(metric_filter.pattern)
    published: list[Datapoint] = []
    matched = False
    for timestamp, message in events:
        if not pattern.matches(message):
            continue
        matched = True
        for transformation in metric_filter.transformations:
            value = _number(_selected(str(transformation["metricValue"]), message))
            dimensions = {
                str(name): _selected(str(selector), message)
                for name, selector in (transformation.get("dimensions") or {}).items()
            }
            if value is None or any(v is None or isinstance(v, (dict, list)) for v in dimensions.values()):
                continue
            published.append(
                Datapoint(
                    namespace=str(transformation["metricNamespace"]),
                    name=str(transformation["metricName"]),
                    dimensions={name: str(v) for name, v in dimensions.items()},
                    timestamp=timestamp / 1000,
                    value=value,
                    unit=transformation.get("unit"),
                )
            )
    if not matched and events:
        for transformation in metric_filter.transformations:
            default = transformation.get("defaultValue")
            if default is not None and not transformation.get("dimensions"):
                published.append(
                    Datapoint(
                        namespace=str(transformation["metricNamespace"]),
                        name=str(transformation["metricName"]),
                        dimensions={},
                        timestamp=now_ms / 1000,
                        value=float(default),
                        unit=transformation.get("unit"),
                    )
                )
    return published
