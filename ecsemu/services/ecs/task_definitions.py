"""Task definitions. Kind ``taskdef``, id ``<family>:<revision>``; kind ``taskdef_family``,
id = family, holds the last revision ever given so numbers are never reused.

Invariants:
- A record is the TaskDefinition exactly as DescribeTaskDefinition shows it, plus ``tags``.
- Revisions of a family count up from 1 and are never reused, even after deletion.
- status: ACTIVE → INACTIVE (DeregisterTaskDefinition) → DELETE_IN_PROGRESS
  (DeleteTaskDefinitions). Only ACTIVE revisions may start new tasks or services.
"""

from __future__ import annotations

import re
from typing import Any

from ecsemu.model import task_definition as task_definition_model
from ecsemu.services.ecs import arns
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import ClientException, InvalidParameterException
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.services.ecs.task_definition_checks import check_task_definition, cpu_units, memory_mib
from ecsemu.state.store import Record

KIND = task_definition_model.KIND
FAMILY_KIND = task_definition_model.FAMILY_KIND
_FAMILY = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
# DeleteTaskDefinitions' failure reasons, as ECS words them.
_INVALID_IDENTIFIER = "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."
_NOT_FOUND = "The specified task definition does not exist. Specify a valid account, family, revision and try again."
_STILL_ACTIVE = "The specified task definition is still in ACTIVE status. Please deregister the target and try again."

# Members of RegisterTaskDefinition's input copied as they are into the task definition.
_COPIED = (
    "taskRoleArn", "executionRoleArn", "networkMode", "volumes", "placementConstraints",
    "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode", "proxyConfiguration",
    "inferenceAccelerators", "ephemeralStorage", "runtimePlatform", "enableFaultInjection",
)  # fmt: skip


def _container_defaults(container: dict[str, Any], network_mode: str | None) -> dict[str, Any]:
    """What ECS fills into a container definition when it registers it."""
    filled: dict[str, Any] = {"cpu": 0, **container}
    mappings = []
    for given in container.get("portMappings", []):
        mapping = {**given}
        if network_mode in ("awsvpc", "host") and "containerPort" in mapping:
            mapping.setdefault("hostPort", mapping["containerPort"])
        mapping.setdefault("protocol", "tcp")
        mappings.append(mapping)
    filled["portMappings"] = mappings
    filled.setdefault("essential", True)
    for empty in ("environment", "mountPoints", "volumesFrom", "systemControls"):
        filled.setdefault(empty, [])
    return filled


def _compatibilities(params: Params) -> list[str]:
    """The launch types ECS validated the definition against, in the order ECS lists them.

    EXTERNAL (ECS Anywhere) runs bridge, host and none network modes, never awsvpc; FARGATE
    needs awsvpc and task-level cpu and memory. The AWS CLI's own examples show
    ``["EXTERNAL", "EC2"]`` for a plain bridge definition and ``["EC2", "FARGATE"]`` for a
    FARGATE one.
    """
    if params.get("networkMode") != "awsvpc":
        return ["EXTERNAL", "EC2"]
    if params.get("cpu") and params.get("memory"):
        return ["EC2", "FARGATE"]
    return ["EC2"]


def _volume_defaults(volume: dict[str, Any]) -> dict[str, Any]:
    """What ECS fills into a volume: an EFS volume without a root directory mounts ``/``."""
    efs = volume.get("efsVolumeConfiguration")
    if efs is None or efs.get("rootDirectory"):
        return volume
    return {**volume, "efsVolumeConfiguration": {**efs, "rootDirectory": "/"}}


@operation("RegisterTaskDefinition")
def register_task_definition(call: Call, params: Params) -> Result:
    family = params.get("family") or ""
    if not family:
        raise ClientException("Family can not be blank.")
    if not _FAMILY.match(family):
        raise ClientException("Family contains invalid characters.")
    check_task_definition(params, allow_host_access=call.settings.allow_host_access)
    tags = validate_tags(params.get("tags", []))
    with call.store.transaction():
        family_record = call.store.get(call.scope, FAMILY_KIND, family) or {"family": family, "lastRevision": 0}
        revision = family_record["lastRevision"] + 1
        family_record["lastRevision"] = revision
        definition: Record = {
            "taskDefinitionArn": call.arn("task-definition", f"{family}:{revision}"),
            "containerDefinitions": [
                _container_defaults(c, params.get("networkMode")) for c in params["containerDefinitions"]
            ],
            "family": family,
            "revision": revision,
            "volumes": [],
            "status": "ACTIVE",
            "placementConstraints": [],
            "compatibilities": _compatibilities(params),
            "requiresAttributes": [],
            "registeredAt": call.now,
            "registeredBy": f"arn:aws:iam::{call.scope.account_id}:root",
        }
        for member in _COPIED:
            if member in params:
                definition[member] = params[member]
        # ECS stores sizes as units: "1 vCPU" becomes "1024", "2 GB" "2048" (RegisterTaskDefinition).
        for member, units in (("cpu", cpu_units), ("memory", memory_mib)):
            if member in definition:
                size = units(definition[member])
                definition[member] = str(size if size is not None else definition[member])
        definition["volumes"] = [_volume_defaults(v) for v in definition["volumes"]]
        definition["tags"] = tags
        call.store.put(call.scope, FAMILY_KIND, family, family_record)
        call.store.put(call.scope, KIND, f"{family}:{revision}", definition)
    return {"taskDefinition": public(definition), "tags": tags}


def public(record: Record) -> dict[str, Any]:
    """The task definition as the API shows it (tags are answered beside it)."""
    return {key: value for key, value in record.items() if key != "tags"}


def find(call: Call, reference: str) -> Record | None:
    """The revision a reference names: ``family`` (latest ACTIVE), ``family:rev`` or an ARN."""
    if arns.is_arn(reference):
        parsed = arns.parse(reference)
        if parsed is None or parsed.resource_type != "task-definition" or not call.owns(parsed):
            return None
        reference = parsed.resource
    if ":" in reference:
        return call.store.get(call.scope, KIND, reference)
    family = call.store.get(call.scope, FAMILY_KIND, reference)
    if family is None:
        return None
    for revision in range(family["lastRevision"], 0, -1):
        record = call.store.get(call.scope, KIND, f"{reference}:{revision}")
        if record is not None and record["status"] == "ACTIVE":
            return record
    return None


def require_active(call: Call, reference: str) -> Record:
    """The revision a new task or service may use, or the error ECS gives."""
    if not reference:
        raise InvalidParameterException("Family should not be null or empty.")
    record = find(call, reference)
    if record is None:
        raise ClientException("TaskDefinition not found.")
    if record["status"] != "ACTIVE":
        raise InvalidParameterException("TaskDefinition is inactive")
    return record


@operation("DescribeTaskDefinition")
def describe_task_definition(call: Call, params: Params) -> Result:
    record = find(call, params["taskDefinition"])
    if record is None:
        raise ClientException("Unable to describe task definition.")
    result: Result = {"taskDefinition": public(record)}
    if "TAGS" in params.get("include", []):
        result["tags"] = record.get("tags", [])
    return result


@operation("ListTaskDefinitions")
def list_task_definitions(call: Call, params: Params) -> Result:
    status = params.get("status", "ACTIVE")
    family = params.get("familyPrefix")
    records = [
        r for r in call.store.list(call.scope, KIND)
        if r["status"] == status and (family is None or r["family"] == family)
    ]  # fmt: skip
    records.sort(key=lambda r: (r["family"], r["revision"]), reverse=params.get("sort") == "DESC")
    page, token = paginate([r["taskDefinitionArn"] for r in records], params)
    return page_result("taskDefinitionArns", page, token)


@operation("ListTaskDefinitionFamilies")
def list_task_definition_families(call: Call, params: Params) -> Result:
    status = params.get("status", "ALL")
    prefix = params.get("familyPrefix", "")
    active: dict[str, bool] = {}
    for record in call.store.list(call.scope, KIND):
        if record["status"] == "DELETE_IN_PROGRESS":
            continue
        active[record["family"]] = active.get(record["family"], False) or record["status"] == "ACTIVE"
    families = sorted(
        name for name, has_active in active.items()
        if name.startswith(prefix) and (status == "ALL" or has_active == (status == "ACTIVE"))
    )  # fmt: skip
    page, token = paginate(families, params)
    return page_result("families", page, token)


@operation("DeregisterTaskDefinition")
def deregister_task_definition(call: Call, params: Params) -> Result:
    reference = params["taskDefinition"]
    if ":" not in arns.last_segment(reference):
        raise ClientException("Invalid revision number. Number: ")
    with call.store.transaction():
        record = find(call, reference)
        if record is None:
            raise ClientException("The specified task definition does not exist.")
        if record["status"] == "ACTIVE":
            record["status"] = "INACTIVE"
            record["deregisteredAt"] = call.now
            call.store.put(call.scope, KIND, f"{record['family']}:{record['revision']}", record)
    return {"taskDefinition": public(record)}


@operation("DeleteTaskDefinitions")
def delete_task_definitions(call: Call, params: Params) -> Result:
    deleted: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    references = params["taskDefinitions"]
    if len(references) > 10:
        raise InvalidParameterException("Number of task definitions to delete must be between 1 and 10.")
    with call.store.transaction():
        for reference in references:
            # Failures name the identifier as it was given, ARN or not.
            if ":" not in arns.last_segment(reference):
                failures.append({"arn": reference, "reason": _INVALID_IDENTIFIER})
                continue
            record = find(call, reference)
            if record is None:
                failures.append({"arn": reference, "reason": _NOT_FOUND})
                continue
            if record["status"] == "ACTIVE":
                failures.append({"arn": reference, "reason": _STILL_ACTIVE})
                continue
            record["status"] = "DELETE_IN_PROGRESS"
            record["deleteRequestedAt"] = call.now
            call.store.put(call.scope, KIND, f"{record['family']}:{record['revision']}", record)
            deleted.append(public(record))
    return {"taskDefinitions": deleted, "failures": failures}
