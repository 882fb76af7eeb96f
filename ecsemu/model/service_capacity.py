"""The one write Application Auto Scaling makes to ECS: a service's desired count.

``set_desired_count`` is the typed contract by which scaling decisions (alarms invoking policies,
scheduled actions, min/max clamps) set ``spec.desiredCount`` of an ECS service record — the same
write ``UpdateService(desiredCount=N)`` makes with nothing else asked: ECS's UpdateService
(``ecsemu/services/ecs/services.py``) puts ``spec.desiredCount`` and writes nothing more for a
desired count alone (no new deployment, no event, no updatedAt); the scheduler then sees the
new count and starts or stops tasks with the service's usual deployment behaviour and events.

Invariants:
- Only an ACTIVE service (not DRAINING, not INACTIVE) is scaled; otherwise nothing is written
  and None is returned.
- The count is kept within [0, ECS's Tasks per service quota] (5,000), as UpdateService refuses
  anything outside.
- The read and the write are one store transaction: a concurrent UpdateService is never lost
  under the scaling write (the later writer wins whole).
"""

from __future__ import annotations

from typing import Final

from ecsemu.context import Scope
from ecsemu.model import service as service_model
from ecsemu.state.store import Store

MAX_DESIRED_COUNT: Final = 5000  # ECS's "Tasks per service" quota (ecsemu/services/ecs/services.py)


def _find(store: Store, scope: Scope, cluster: str, service_name: str) -> service_model.ServiceRecord | None:
    found = store.get(scope, service_model.KIND, f"{cluster}/{service_name}")
    if found is None:
        return None
    service = service_model.from_record(found)
    return service if service_model.visible_status(service) == "ACTIVE" else None


def desired_count(store: Store, scope: Scope, cluster: str, service_name: str) -> int | None:
    """The ACTIVE service's desired count, or None when there is no such service."""
    service = _find(store, scope, cluster, service_name)
    return None if service is None else int(service["spec"]["desiredCount"])


def service_exists(store: Store, scope: Scope, cluster: str, service_name: str) -> bool:
    return _find(store, scope, cluster, service_name) is not None


def deployment_in_progress(store: Store, scope: Scope, cluster: str, service_name: str) -> bool:
    """An ECS-controlled service is deploying while it has more than one deployment with tasks
    (an older one not yet retired): Application Auto Scaling holds scale-in meanwhile."""
    service = _find(store, scope, cluster, service_name)
    if service is None:
        return False
    observed = service["status"].get("deployments") or {}
    live = [d for d in service["spec"].get("deployments") or [] if not (observed.get(d["id"]) or {}).get("retired")]
    return len(live) > 1


def set_desired_count(
    store: Store, scope: Scope, cluster: str, service_name: str, count: int, now: float
) -> int | None:
    """Set the ACTIVE service's desired count to ``count`` (within [0, 5000]); the count set,
    or None when there is no ACTIVE service. ``now`` is when the decision was made (kept for the
    contract: UpdateService records no time for a desired count alone)."""
    del now
    wanted = min(max(int(count), 0), MAX_DESIRED_COUNT)
    with store.transaction():
        service = _find(store, scope, cluster, service_name)
        if service is None:
            return None
        if service["spec"]["desiredCount"] != wanted:
            service["spec"]["desiredCount"] = wanted
            store.put(scope, service_model.KIND, f"{cluster}/{service_name}", service_model.to_record(service))
    return wanted
