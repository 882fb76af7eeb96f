"""Scaling activities: what Application Auto Scaling did (or decided not to do), in AWS's words.

Kept in a side table (``autoscaling_activities``), one row per activity, its API body as JSON:
``{"ActivityId", "ServiceNamespace", "ResourceId", "ScalableDimension", "Description",
"Cause", "StartTime", "EndTime"?, "StatusCode", "StatusMessage"?, "Details"?,
"NotScaledReasons"?}``. A not-scaled activity (``NotScaledReasons`` present) is shown only to
``IncludeNotScaledActivities``.

Texts (Application Auto Scaling User Guide, "Scaling activities", and the AWS CLI examples of
describe-scaling-activities):
- Description ``Setting desired count to N.``; StatusMessage ``Successfully set desired count
  to N. Change successfully fulfilled by ecs.``;
- Cause ``monitor alarm <alarm> in state ALARM triggered policy <policy>``,
  ``minimum capacity was set to N``, ``maximum capacity was set to N``;
- scheduled actions: Description ``Setting min capacity to A and max capacity to B``, Cause
  ``scheduled action name <name> was triggered``, StatusMessage ``Successfully set min capacity
  to A and max capacity to B``;
- not scaled: Description ``Attempting to scale due to alarm triggered``, StatusCode ``Failed``,
  ``NotScaledReasons: [{"Code": "AlreadyAtMaxCapacity", "MaxCapacity": 4, ...}]``.

Retention: six weeks (AWS: "You can look up scaling activities from the last six weeks"), and
at most :data:`MAX_PER_TARGET` per scalable target (newest kept).
"""

from __future__ import annotations

import json
import threading
import uuid
import weakref
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model.scaling import TargetKey
from ecsemu.state.store import Store
from ecsemu.state.tables import SideTable, TableSpec

RETENTION_S: Final = 42 * 86400
MAX_PER_TARGET: Final = 1000

TABLE: Final = TableSpec(
    "autoscaling_activities",
    columns=(
        ("activity_id", "TEXT"),
        ("namespace", "TEXT"),
        ("resource_id", "TEXT"),
        ("dimension", "TEXT"),
        ("start_time", "REAL"),
        ("not_scaled", "INTEGER"),
        ("body", "TEXT"),
    ),
    indexes=(("namespace", "resource_id", "start_time"), ("namespace", "start_time")),
)

_tables: weakref.WeakKeyDictionary[Store, SideTable] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def declare(store: Store) -> SideTable:
    """The activities table of ``store`` (created the first time: at start-up, outside any
    transaction — the Application Auto Scaling provider declares it when it is built)."""
    with _lock:
        table = _tables.get(store)
        if table is None:
            table = _tables[store] = SideTable(store, TABLE)
        return table


def record(
    store: Store,
    scope: Scope,
    key: TargetKey,
    *,
    description: str,
    cause: str,
    status_code: str,
    now: float,
    status_message: str | None = None,
    end_time: float | None = None,
    details: str | None = None,
    not_scaled_reasons: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Add one activity and keep the table within its bounds; the activity as the API shows it."""
    activity: dict[str, Any] = {
        "ActivityId": str(uuid.uuid4()),
        "ServiceNamespace": key.namespace,
        "ResourceId": key.resource_id,
        "ScalableDimension": key.dimension,
        "Description": description,
        "Cause": cause,
        "StartTime": now,
        "StatusCode": status_code,
    }
    if end_time is not None:
        activity["EndTime"] = end_time
    if status_message is not None:
        activity["StatusMessage"] = status_message
    if details is not None:
        activity["Details"] = details
    if not_scaled_reasons:
        activity["NotScaledReasons"] = not_scaled_reasons
    table = declare(store)
    with store.transaction():
        table.insert(scope, [{
            "activity_id": activity["ActivityId"], "namespace": key.namespace, "resource_id": key.resource_id,
            "dimension": key.dimension, "start_time": now, "not_scaled": 1 if not_scaled_reasons else 0,
            "body": json.dumps(activity),
        }])  # fmt: skip
        table.expire("start_time", now - RETENTION_S, scope)
        table.cap(
            scope, MAX_PER_TARGET, newest_by="start_time", where="namespace = ? AND resource_id = ? AND dimension = ?",
            params=(key.namespace, key.resource_id, key.dimension),
        )  # fmt: skip
    return activity


def activities(
    store: Store,
    scope: Scope,
    namespace: str,
    *,
    resource_id: str | None = None,
    dimension: str | None = None,
    include_not_scaled: bool = False,
) -> list[dict[str, Any]]:
    """The activities asked for, newest first."""
    where, params = ["namespace = ?"], [namespace]
    if resource_id is not None:
        where.append("resource_id = ?")
        params.append(resource_id)
    if dimension is not None:
        where.append("dimension = ?")
        params.append(dimension)
    if not include_not_scaled:
        where.append("not_scaled = 0")
    rows = declare(store).select(scope, " AND ".join(where), params, order_by="start_time DESC, rowid DESC")
    return [json.loads(row["body"]) for row in rows]
