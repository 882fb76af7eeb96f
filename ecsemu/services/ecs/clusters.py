"""Clusters. Kind ``cluster``, id = cluster name.

Invariants:
- A record holds only what the API wrote (name, settings, configuration, capacity providers,
  tags, status ACTIVE or INACTIVE). The counts DescribeClusters shows are derived from the
  tasks, services and container instances at the moment of the call, so they are always true.
- A deleted cluster stays describable as INACTIVE, and listed by ListClusters; creating it
  again makes it ACTIVE anew.
- Every answer that shows a cluster reads it, and the records its counts come from, in one
  snapshot of the store (``Store.snapshot``, or the writing call's transaction): the counts
  and the statistics are one tally, taken while no write can land between two reads.
"""

from __future__ import annotations

import re
from typing import Any

from ecsemu.model import cluster as cluster_model
from ecsemu.model import container_instance as container_instance_model
from ecsemu.model import service as service_model
from ecsemu.model import task as task_model
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import (
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    InvalidParameterException,
)
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.state.store import Record

KIND = cluster_model.KIND
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
PENDING_STATES = {"PROVISIONING", "PENDING", "ACTIVATING"}
DEFAULT_SETTINGS = [{"name": "containerInsights", "value": "disabled"}]
# What include=STATISTICS shows, "separated by launch type" (names as the API reference lists them).
_STATISTICS = (
    "runningEC2TasksCount", "runningFargateTasksCount", "pendingEC2TasksCount", "pendingFargateTasksCount",
    "activeEC2ServiceCount", "activeFargateServiceCount", "drainingEC2ServiceCount", "drainingFargateServiceCount",
)  # fmt: skip


def _launch_kind(launch_type: str | None, capacity_provider: str | None) -> str:
    """The launch type a cluster's statistics count a task or service under."""
    if launch_type == "FARGATE" or capacity_provider in ("FARGATE", "FARGATE_SPOT"):
        return "Fargate"
    return "External" if launch_type == "EXTERNAL" else "EC2"


def _tally(call: Call, name: str) -> dict[str, int]:
    """Every count DescribeClusters shows, read from the records now (STATISTICS names)."""
    tally: dict[str, int] = dict.fromkeys(_STATISTICS, 0)
    # Tasks and services are kept under "<cluster>/...": only this cluster's records are read.
    for task in call.store.list(call.scope, task_model.KIND, under=name):
        spec = task["spec"]
        last_status = task["status"].get("lastStatus", "PROVISIONING")
        kind = _launch_kind(spec.get("launchType"), spec.get("capacityProviderName"))
        if last_status == "RUNNING":
            tally[f"running{kind}TasksCount"] = tally.get(f"running{kind}TasksCount", 0) + 1
        elif last_status in PENDING_STATES:
            tally[f"pending{kind}TasksCount"] = tally.get(f"pending{kind}TasksCount", 0) + 1
    for service in call.store.list(call.scope, service_model.KIND, under=name):
        if service["status"].get("inactive"):
            continue
        spec = service["spec"]
        strategy = spec.get("capacityProviderStrategy") or [{}]
        kind = _launch_kind(spec.get("launchType"), strategy[0].get("capacityProvider"))
        state = "active" if spec["status"] == "ACTIVE" else "draining"
        tally[f"{state}{kind}ServiceCount"] = tally.get(f"{state}{kind}ServiceCount", 0) + 1
    return tally


def _counts(call: Call, name: str, tally: dict[str, int] | None = None) -> dict[str, int]:
    """The counts DescribeClusters shows; from ``tally`` when the caller already took it (in
    the same snapshot)."""
    if tally is None:
        tally = _tally(call, name)
    instances = sum(
        1
        for instance in call.store.list(call.scope, container_instance_model.KIND, under=name)
        if instance.get("status") != "INACTIVE"
    )
    return {
        "registeredContainerInstancesCount": instances,
        "runningTasksCount": sum(v for k, v in tally.items() if k.startswith("running")),
        "pendingTasksCount": sum(v for k, v in tally.items() if k.startswith("pending")),
        "activeServicesCount": sum(v for k, v in tally.items() if k.startswith("active")),
    }


def render(call: Call, record: Record, include: list[str]) -> dict[str, Any]:
    """The cluster as DescribeClusters shows it. Call it inside a snapshot or transaction."""
    tally = _tally(call, record["clusterName"])
    counts = _counts(call, record["clusterName"], tally)
    cluster: dict[str, Any] = {
        "clusterArn": record["clusterArn"],
        "clusterName": record["clusterName"],
        "status": record["status"],
        **counts,
        "statistics": [],
        "capacityProviders": record.get("capacityProviders", []),
        "defaultCapacityProviderStrategy": record.get("defaultCapacityProviderStrategy", []),
    }
    if record.get("configuration") and "CONFIGURATIONS" in include:
        cluster["configuration"] = record["configuration"]
    if record.get("serviceConnectDefaults"):
        cluster["serviceConnectDefaults"] = record["serviceConnectDefaults"]
    if "SETTINGS" in include:
        cluster["settings"] = record.get("settings", DEFAULT_SETTINGS)
    if "TAGS" in include:
        cluster["tags"] = record.get("tags", [])
    if "ATTACHMENTS" in include:
        cluster["attachments"] = []
    if "STATISTICS" in include:
        cluster["statistics"] = [{"name": name, "value": str(tally[name])} for name in _STATISTICS]
    return cluster


def _settings(params: Params) -> list[dict[str, str]]:
    settings = {item["name"]: item["value"] for item in DEFAULT_SETTINGS}
    for item in params.get("settings", []):
        if item.get("name") != "containerInsights":
            raise InvalidParameterException(f"Invalid cluster setting name: {item.get('name')}")
        if item.get("value") not in ("enabled", "disabled", "enhanced"):
            raise InvalidParameterException("Container Insights value must be one of: enabled, disabled, enhanced.")
        settings[item["name"]] = item["value"]
    return [{"name": name, "value": value} for name, value in settings.items()]


# What the writing operations answer with: the cluster as it now is, in full.
_ANSWER = ["SETTINGS", "TAGS", "CONFIGURATIONS"]


@operation("CreateCluster")
def create_cluster(call: Call, params: Params) -> Result:
    name = params.get("clusterName") or "default"
    if not _NAME.match(name):
        raise InvalidParameterException(f"Cluster must match ^[a-zA-Z0-9\\-_]{{1,255}}$, but was {name}")
    settings = _settings(params)
    tags = validate_tags(params.get("tags", []))
    strategy = params.get("defaultCapacityProviderStrategy", [])
    providers = params.get("capacityProviders", [])
    _check_capacity_providers(call, providers, strategy)
    with call.store.transaction():
        existing = call.find_cluster(name)
        if existing is not None:
            # CreateCluster is idempotent: an ACTIVE cluster of that name is answered as it is.
            return {"cluster": render(call, existing, _ANSWER)}
        record: Record = {
            "clusterArn": call.arn("cluster", name),
            "clusterName": name,
            "status": "ACTIVE",
            "settings": settings,
            "tags": tags,
            "capacityProviders": providers,
            "defaultCapacityProviderStrategy": strategy,
            "createdAt": call.now,
        }
        for optional in ("configuration", "serviceConnectDefaults"):
            if optional in params:
                record[optional] = params[optional]
        call.store.put(call.scope, KIND, name, record)
        return {"cluster": render(call, record, _ANSWER)}


@operation("DescribeClusters")
def describe_clusters(call: Call, params: Params) -> Result:
    include = params.get("include", [])
    names = params.get("clusters") or ["default"]
    clusters: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with call.store.snapshot():
        for name_or_arn in names:
            record = call.store.get(call.scope, KIND, call.cluster_name(name_or_arn))
            if record is None:
                failures.append({"arn": _as_arn(call, name_or_arn), "reason": "MISSING"})
            else:
                clusters.append(render(call, record, include))
    return {"clusters": clusters, "failures": failures}


def _as_arn(call: Call, name_or_arn: str) -> str:
    return name_or_arn if name_or_arn.startswith("arn:") else call.arn("cluster", name_or_arn)


@operation("ListClusters")
def list_clusters(call: Call, params: Params) -> Result:
    # A deleted (INACTIVE) cluster is listed as long as DescribeClusters finds it, as ECS does.
    arns_ = [r["clusterArn"] for r in call.store.list(call.scope, KIND)]
    page, token = paginate(arns_, params)
    return page_result("clusterArns", page, token)


@operation("DeleteCluster")
def delete_cluster(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = call.require_cluster(params.get("cluster"))
        counts = _counts(call, record["clusterName"])
        if counts["activeServicesCount"] or _draining_services(call, record["clusterName"]):
            raise ClusterContainsServicesException("The Cluster cannot be deleted while Services are active.")
        if counts["registeredContainerInstancesCount"]:
            raise ClusterContainsContainerInstancesException(
                "The Cluster cannot be deleted while Container Instances are active."
            )
        if _unstopped_tasks(call, record["clusterName"]):
            raise ClusterContainsTasksException("The Cluster cannot be deleted while Tasks are active.")
        record["status"] = "INACTIVE"
        call.store.put(call.scope, KIND, record["clusterName"], record)
        return {"cluster": render(call, record, _ANSWER)}


def _draining_services(call: Call, name: str) -> int:
    return sum(
        1
        for service in call.store.list(call.scope, service_model.KIND, under=name)
        if service["spec"]["status"] == "DRAINING"
        and not service["status"].get("inactive")
    )


def _unstopped_tasks(call: Call, name: str) -> int:
    return sum(
        1
        for task in call.store.list(call.scope, task_model.KIND, under=name)
        if task["status"].get("lastStatus") != "STOPPED"
    )


def _apply_settings(record: Record, changes: list[dict[str, str]]) -> None:
    _settings({"settings": changes})  # refuse unknown names and values before merging
    current = {s["name"]: s["value"] for s in record.get("settings", DEFAULT_SETTINGS)}
    current.update({s["name"]: s["value"] for s in changes})
    record["settings"] = _settings({"settings": [{"name": k, "value": v} for k, v in current.items()]})


@operation("UpdateCluster")
def update_cluster(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = call.require_cluster(params.get("cluster"))
        if "settings" in params:
            _apply_settings(record, params["settings"])
        for optional in ("configuration", "serviceConnectDefaults"):
            if optional in params:
                record[optional] = params[optional]
        call.store.put(call.scope, KIND, record["clusterName"], record)
        return {"cluster": render(call, record, _ANSWER)}


@operation("UpdateClusterSettings")
def update_cluster_settings(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = call.require_cluster(params.get("cluster"))
        _apply_settings(record, params.get("settings", []))
        call.store.put(call.scope, KIND, record["clusterName"], record)
        return {"cluster": render(call, record, _ANSWER)}


def _check_capacity_providers(call: Call, providers: list[str], strategy: list[dict[str, Any]]) -> None:
    """The cluster's capacity providers must exist; its default strategy may use only them."""
    known = {"FARGATE", "FARGATE_SPOT"} | set(call.store.ids(call.scope, "capacity_provider"))
    for name in providers:
        if name not in known:
            raise InvalidParameterException(f"The specified capacity provider '{name}' does not exist.")
    for item in strategy:
        if item.get("capacityProvider") not in providers:
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster."
            )


@operation("PutClusterCapacityProviders")
def put_cluster_capacity_providers(call: Call, params: Params) -> Result:
    providers = params.get("capacityProviders", [])
    strategy = params.get("defaultCapacityProviderStrategy", [])
    _check_capacity_providers(call, providers, strategy)
    with call.store.transaction():
        record = call.require_cluster(params.get("cluster"))
        record["capacityProviders"] = providers
        record["defaultCapacityProviderStrategy"] = strategy
        call.store.put(call.scope, KIND, record["clusterName"], record)
        return {"cluster": render(call, record, _ANSWER)}
