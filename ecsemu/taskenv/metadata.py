"""The task metadata documents (endpoint v4, and v3 as a subset), as AWS documents them.

Built from the task's record (what DescribeTasks shows) and what Docker inspects of its
containers. Field names and shapes are AWS's: ``Revision`` is a string, times are RFC 3339 in
UTC, container ``Limits.CPU`` is in CPU units and the task's in vCPUs.

Invariant: nothing of ecsemu's own bookkeeping is shown — Docker labels starting with
``ecsemu.`` are left out of ``Labels``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from ecsemu.model import task as task_model

Record = dict[str, Any]
OWN_LABEL_PREFIX: Final = "ecsemu."
V3_CONTAINER_FIELDS: Final = (
    "DockerId", "Name", "DockerName", "Image", "ImageID", "Labels", "DesiredStatus", "KnownStatus",
    "Limits", "CreatedAt", "StartedAt", "FinishedAt", "Type", "Networks", "Health", "ExitCode",
)  # fmt: skip
V3_TASK_FIELDS: Final = (
    "Cluster", "TaskARN", "Family", "Revision", "DesiredStatus", "KnownStatus", "Containers", "Limits",
    "PullStartedAt", "PullStoppedAt", "AvailabilityZone",
)  # fmt: skip


def rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _drop_none(document: Record) -> Record:
    return {k: v for k, v in document.items() if v is not None}


def container_document(
    task: task_model.TaskRecord, name: str, inspected: Record | None, definition: Record | None
) -> Record:
    found = next((c for c in task["spec"]["containers"] if c["name"] == name), None)
    spec: Record = dict(found) if found is not None else {}
    status = task["status"].get("containers", {}).get(name, {})
    inspected = inspected or {}
    state = inspected.get("State") or {}
    config = inspected.get("Config") or {}
    labels = {k: v for k, v in (config.get("Labels") or {}).items() if not k.startswith(OWN_LABEL_PREFIX)}
    log_configuration = (definition or {}).get("logConfiguration") or {}
    network_mode = task["spec"].get("networkMode") or "bridge"
    addresses = [
        n.get("IPAddress")
        for n in (inspected.get("ecsemu_networks") or {}).values()
        if isinstance(n, dict) and n.get("IPAddress")
    ]
    memory = spec.get("memory") or spec.get("memoryReservation") or 0
    document: Record = {
        "DockerId": inspected.get("Id") or status.get("runtimeId"),
        "Name": name,
        "DockerName": str(inspected.get("Name") or "").lstrip("/") or None,
        "Image": spec.get("image"),
        "ImageID": inspected.get("Image"),
        "Labels": labels,
        "DesiredStatus": task["spec"]["desiredStatus"],
        "KnownStatus": status.get("lastStatus", "PENDING"),
        "Limits": {"CPU": int(spec.get("cpu") or 0), "Memory": int(memory)},
        "CreatedAt": inspected.get("Created"),
        "StartedAt": state.get("StartedAt") if state.get("StartedAt", "").startswith(("1", "2")) else None,
        "FinishedAt": state.get("FinishedAt") if status.get("lastStatus") == "STOPPED" else None,
        "Type": "NORMAL",
        "ContainerARN": spec.get("containerArn"),
        "LogDriver": log_configuration.get("logDriver"),
        "LogOptions": log_configuration.get("options"),
        "Networks": [{"NetworkMode": network_mode, "IPv4Addresses": addresses}],
        "ExitCode": status.get("exitCode"),
    }
    if spec.get("healthCheck"):
        document["Health"] = {"status": status.get("healthStatus", "UNKNOWN")}
    bindings = status.get("networkBindings") or []
    if bindings:
        document["Ports"] = [
            {
                "ContainerPort": b.get("containerPort"),
                "Protocol": b.get("protocol", "tcp"),
                "HostPort": b.get("hostPort"),
                "HostIp": b.get("bindIP"),
            }
            for b in bindings
        ]
    return _drop_none(document)


def task_document(task: task_model.TaskRecord, details: dict[str, Record], definitions: dict[str, Record]) -> Record:
    spec, status = task["spec"], task["status"]
    region = spec["taskArn"].split(":")[3]
    containers = [
        container_document(task, c["name"], details.get(c["name"]), definitions.get(c["name"]))
        for c in spec["containers"]
    ]
    limits: Record = {}
    if spec.get("cpu"):
        limits["CPU"] = int(spec["cpu"]) / 1024 if str(spec["cpu"]).isdigit() else spec["cpu"]
    if spec.get("memory"):
        limits["Memory"] = int(spec["memory"]) if str(spec["memory"]).isdigit() else spec["memory"]
    document: Record = {
        "Cluster": spec["clusterArn"] if spec.get("launchType") == "FARGATE" else spec["clusterName"],
        "TaskARN": spec["taskArn"],
        "Family": spec["family"],
        "Revision": str(spec["revision"]),
        "DesiredStatus": spec["desiredStatus"],
        "KnownStatus": status.get("lastStatus", "PENDING"),
        "Containers": containers,
        "Limits": limits or None,
        "PullStartedAt": rfc3339(status.get("pullStartedAt")),
        "PullStoppedAt": rfc3339(status.get("pullStoppedAt")),
        "ExecutionStoppedAt": rfc3339(status.get("executionStoppedAt")),
        "AvailabilityZone": f"{region}a",
        "LaunchType": spec.get("launchType"),
        "ServiceName": spec.get("serviceName"),
    }
    return _drop_none(document)


def v3(document: Record, fields: tuple[str, ...]) -> Record:
    """The v3 view of a v4 document: the fields v3 has (containers' too)."""
    out = {k: v for k, v in document.items() if k in fields}
    if "Containers" in out:
        out["Containers"] = [{k: v for k, v in c.items() if k in V3_CONTAINER_FIELDS} for c in out["Containers"]]
    return out
