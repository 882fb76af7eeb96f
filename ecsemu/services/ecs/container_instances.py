"""Container instances: RegisterContainerInstance, DeregisterContainerInstance,
ListContainerInstances (with the cluster query language), DescribeContainerInstances,
UpdateContainerInstancesState.

Kind ``container_instance``, id ``<cluster>/<instance id>`` (the tail of its long ARN
``container-instance/<cluster>/<id>``; the id is 32 hex digits). A record holds, top level,
what ECS describes and the API wrote: ``containerInstanceArn``, ``clusterName``, ``status``
(ACTIVE, DRAINING, INACTIVE once deregistered), ``ec2InstanceId``, ``registeredResources``,
``versionInfo``, ``attributes``, ``tags``, ``registeredAt``, ``version`` ...

Invariants:
- Counts and remaining resources are derived from the tasks placed on the instance (task
  ``spec.containerInstanceArn``) at the moment of the call, so they are always true.
- A deregistered instance stays describable as INACTIVE and no longer counts in its cluster;
  without ``force`` an instance with unstopped tasks is not deregistered. Tasks left on a
  force-deregistered instance keep running (ECS calls them orphaned).
- With no ``totalResources``, an instance registers this machine's CPUs (1024 units each) and
  memory (MiB), and the ports the ECS agent reserves.
"""

from __future__ import annotations

import json
import operator
import os
import platform
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ecsemu.model import task as task_model
from ecsemu.model.task import TaskRecord
from ecsemu.services.ecs import arns
from ecsemu.services.ecs import attributes as attribute_rules
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import ClientException, InvalidParameterException
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.state.store import Record

KIND = attribute_rules.INSTANCE_KIND
RESERVED_PORTS = ["22", "2376", "2375", "51678", "51679"]
RESOURCE_TYPES = {
    "INTEGER": "integerValue",
    "DOUBLE": "doubleValue",
    "LONG": "longValue",
    "STRINGSET": "stringSetValue",
}
VERSION_INFO = {"agentVersion": "1.89.0", "agentHash": "ecsemu", "dockerVersion": "DockerVersion: 25.0.0"}
AVAILABILITY_ZONE = "local-1a"
UPDATABLE_STATES = ("ACTIVE", "DRAINING")


# -- resources ------------------------------------------------------------------------------


def _host_memory_mib() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)
    except (ValueError, OSError, AttributeError):
        return 2048


def _resource(name: str, kind: str, value: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"name": name, "type": kind, "doubleValue": 0.0, "longValue": 0, "integerValue": 0}
    if kind == "STRINGSET":
        resource["stringSetValue"] = list(value)
    else:
        resource[RESOURCE_TYPES[kind]] = value
    return resource


def host_resources() -> list[dict[str, Any]]:
    return [
        _resource("CPU", "INTEGER", (os.cpu_count() or 1) * 1024),
        _resource("MEMORY", "INTEGER", _host_memory_mib()),
        _resource("PORTS", "STRINGSET", RESERVED_PORTS),
        _resource("PORTS_UDP", "STRINGSET", []),
    ]


def _total_resources(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resources = []
    for item in given:
        name, kind = item.get("name"), item.get("type")
        if not name or kind not in RESOURCE_TYPES:
            raise InvalidParameterException(
                "Each resource must have a name and a type of INTEGER, DOUBLE, LONG or STRINGSET."
            )
        value = item.get(RESOURCE_TYPES[kind])
        resources.append(_resource(name, kind, value if value is not None else [] if kind == "STRINGSET" else 0))
    return resources


def _task_usage(task: TaskRecord) -> tuple[int, int]:
    """(CPU units, MiB) a task reserves: its task-level size, else the sum of its containers."""
    spec = task["spec"]

    def number(value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    cpu = number(spec.get("cpu")) or sum(number(c.get("cpu")) for c in spec["containers"])
    memory = number(spec.get("memory")) or sum(
        number(c.get("memory")) or number(c.get("memoryReservation")) for c in spec["containers"]
    )
    return cpu, memory


def _remaining(registered: list[dict[str, Any]], tasks: list[TaskRecord]) -> list[dict[str, Any]]:
    cpu = memory = 0
    ports: list[str] = []
    for task in tasks:
        used_cpu, used_memory = _task_usage(task)
        cpu, memory = cpu + used_cpu, memory + used_memory
        for container in task["status"].get("containers", {}).values():
            ports += [str(b["hostPort"]) for b in container.get("networkBindings", []) if b.get("hostPort")]
    remaining = []
    used = {"CPU": cpu, "MEMORY": memory}
    for resource in registered:
        item = dict(resource)
        if item["type"] == "STRINGSET":
            if item["name"] == "PORTS":
                item["stringSetValue"] = list(dict.fromkeys(item.get("stringSetValue", []) + ports))
        elif item["name"] in used:
            member = RESOURCE_TYPES[item["type"]]
            item[member] = item[member] - used[item["name"]]
        remaining.append(item)
    return remaining


# -- rendering ------------------------------------------------------------------------------


def _tasks_by_instance(call: Call, cluster_name: str) -> dict[str, list[TaskRecord]]:
    """The cluster's unstopped tasks by the instance they were placed on (a task is placed only
    on an instance of its own cluster, so only that cluster's tasks are read)."""
    placed: dict[str, list[TaskRecord]] = {}
    for stored in call.store.list(call.scope, task_model.KIND, under=cluster_name):
        task = task_model.from_record(stored)
        instance_arn = task["spec"].get("containerInstanceArn")
        if instance_arn and not task_model.is_stopped(task):
            placed.setdefault(instance_arn, []).append(task)
    return placed


def _counts(tasks: list[TaskRecord]) -> tuple[int, int]:
    running = sum(
        1 for t in tasks if task_model.desired_status(t) == "RUNNING" and t["status"].get("lastStatus") == "RUNNING"
    )
    pending = sum(1 for t in tasks if t["status"].get("lastStatus", "PROVISIONING") in task_model.PENDING_STATES)
    return running, pending


def render(record: Record, tasks: list[TaskRecord], include: list[str]) -> dict[str, Any]:
    running, pending = _counts(tasks)
    rendered: dict[str, Any] = {
        "containerInstanceArn": record["containerInstanceArn"],
        "ec2InstanceId": record["ec2InstanceId"],
        "version": record["version"],
        "versionInfo": record["versionInfo"],
        "remainingResources": _remaining(record["registeredResources"], tasks),
        "registeredResources": record["registeredResources"],
        "status": record["status"],
        "agentConnected": record["status"] != "INACTIVE",
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "attributes": record.get("attributes", []),
        "registeredAt": record["registeredAt"],
        "attachments": [],
    }
    for member in ("statusReason", "capacityProviderName"):
        if record.get(member):
            rendered[member] = record[member]
    if "TAGS" in include:
        rendered["tags"] = record.get("tags", [])
    if "CONTAINER_INSTANCE_HEALTH" in include:
        rendered["healthStatus"] = {
            "overallStatus": "OK",
            "details": [
                {
                    "type": "CONTAINER_RUNTIME",
                    "status": "OK",
                    "lastUpdated": record["registeredAt"],
                    "lastStatusChange": record["registeredAt"],
                }
            ],
        }
    return rendered


def _as_arn(call: Call, cluster_name: str, reference: str) -> str:
    return reference if arns.is_arn(reference) else call.arn("container-instance", f"{cluster_name}/{reference}")


# -- registering ----------------------------------------------------------------------------


def _identity(document: str | None) -> dict[str, Any]:
    if not document:
        return {}
    try:
        parsed = json.loads(document)
    except ValueError as error:
        raise InvalidParameterException("The instance identity document is not valid JSON.") from error
    if not isinstance(parsed, dict):
        raise InvalidParameterException("The instance identity document is not valid JSON.")
    return parsed


def _agent_attributes(identity: dict[str, Any]) -> list[dict[str, str]]:
    machine = platform.machine().lower()
    attributes = [
        {"name": "ecs.os-type", "value": "linux"},
        {"name": "ecs.os-family", "value": "LINUX"},
        {"name": "ecs.cpu-architecture", "value": "arm64" if machine in ("arm64", "aarch64") else "x86_64"},
        {"name": "ecs.availability-zone", "value": str(identity.get("availabilityZone") or AVAILABILITY_ZONE)},
        {"name": "ecs.capability.container-health-check"},
        {"name": "ecs.capability.task-eni"},
        {"name": "ecs.capability.execution-role-awslogs"},
        {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
        {"name": "com.amazonaws.ecs.capability.logging-driver.json-file"},
    ]
    for member, name in (("instanceType", "ecs.instance-type"), ("imageId", "ecs.ami-id")):
        if identity.get(member):
            attributes.append({"name": name, "value": str(identity[member])})
    return attributes


def _registration(params: Params) -> dict[str, Any]:
    """What a registration sets on an instance, checked before anything is written."""
    identity = _identity(params.get("instanceIdentityDocument"))
    given = [attribute_rules.validate(a) for a in params.get("attributes") or []]
    registration: dict[str, Any] = {
        "identity": identity,
        "attributes": attribute_rules.merge(_agent_attributes(identity), given),
        "tags": validate_tags(params.get("tags") or []),
    }
    if params.get("totalResources"):
        registration["registeredResources"] = _total_resources(params["totalResources"])
    return registration


def _reregister(call: Call, cluster_name: str, params: Params, registration: dict[str, Any]) -> Record:
    reference = params["containerInstanceArn"]
    instance_id = arns.last_segment(reference)
    record = call.store.get(call.scope, KIND, f"{cluster_name}/{instance_id}")
    if record is None:
        raise ClientException(f"Referenced container instance {instance_id} not registered.")
    if record["status"] == "INACTIVE":
        raise ClientException(f"Container instance {instance_id} is inactive.")
    custom = [a for a in record.get("attributes", []) if attribute_rules.is_custom(a["name"])]
    record["attributes"] = attribute_rules.merge(registration["attributes"], custom)
    if "registeredResources" in registration:
        record["registeredResources"] = registration["registeredResources"]
    if params.get("versionInfo"):
        record["versionInfo"] = {**VERSION_INFO, **params["versionInfo"]}
    record["version"] += 1
    return record


@operation("RegisterContainerInstance")
def register_container_instance(call: Call, params: Params) -> Result:
    registration = _registration(params)
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        cluster_name = cluster["clusterName"]
        if params.get("containerInstanceArn"):
            record = _reregister(call, cluster_name, params, registration)
        else:
            instance_id = secrets.token_hex(16)
            identity = registration["identity"]
            record = {
                "containerInstanceArn": call.arn("container-instance", f"{cluster_name}/{instance_id}"),
                "containerInstanceId": instance_id,
                "clusterName": cluster_name,
                "status": "ACTIVE",
                "ec2InstanceId": str(identity.get("instanceId") or "i-" + secrets.token_hex(9)[:17]),
                "registeredResources": registration.get("registeredResources") or host_resources(),
                "versionInfo": {**VERSION_INFO, **(params.get("versionInfo") or {})},
                "attributes": registration["attributes"],
                "tags": registration["tags"],
                "platformDevices": params.get("platformDevices") or [],
                "registeredAt": call.now,
                "version": 1,
            }
        key = f"{cluster_name}/{arns.last_segment(record['containerInstanceArn'])}"
        call.store.put(call.scope, KIND, key, record)
    return {"containerInstance": render(record, [], ["TAGS"])}


@operation("DeregisterContainerInstance")
def deregister_container_instance(call: Call, params: Params) -> Result:
    reference = params.get("containerInstance")
    if not reference:
        raise InvalidParameterException("containerInstance can not be blank.")
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        key = attribute_rules.instance_key(call, cluster["clusterName"], reference)
        record = call.store.get(call.scope, KIND, key) if key else None
        if record is None:
            raise ClientException(f"Referenced container instance {arns.last_segment(reference)} not found.")
        tasks = _tasks_by_instance(call, cluster["clusterName"]).get(record["containerInstanceArn"], [])
        if record["status"] != "INACTIVE":
            if tasks and not params.get("force"):
                raise InvalidParameterException("Found running tasks on the instance.")
            record["status"] = "INACTIVE"
            record["version"] += 1
            call.store.put(call.scope, KIND, f"{record['clusterName']}/{record['containerInstanceId']}", record)
    return {"containerInstance": render(record, tasks, ["TAGS"])}


# -- reading --------------------------------------------------------------------------------


@operation("DescribeContainerInstances")
def describe_container_instances(call: Call, params: Params) -> Result:
    references = params.get("containerInstances") or []
    if not references:
        raise InvalidParameterException("Container Instances cannot be empty.")
    if len(references) > 100:
        raise InvalidParameterException("containerInstances can have at most 100 items.")
    cluster = call.require_cluster(params.get("cluster"))
    include = params.get("include") or []
    placed = _tasks_by_instance(call, cluster["clusterName"])
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for reference in references:
        key = attribute_rules.instance_key(call, cluster["clusterName"], reference)
        record = call.store.get(call.scope, KIND, key) if key else None
        if record is None:
            failures.append({"arn": _as_arn(call, cluster["clusterName"], reference), "reason": "MISSING"})
        else:
            found.append(render(record, placed.get(record["containerInstanceArn"], []), include))
    return {"containerInstances": found, "failures": failures}


@operation("ListContainerInstances")
def list_container_instances(call: Call, params: Params) -> Result:
    cluster = call.require_cluster(params.get("cluster"))
    status = params.get("status")
    query = parse_query(params["filter"]) if params.get("filter") else None
    placed = _tasks_by_instance(call, cluster["clusterName"])
    selected = []
    for record in call.store.list(call.scope, KIND, under=cluster["clusterName"]):
        if (status is None and record["status"] == "INACTIVE") or (status is not None and record["status"] != status):
            continue
        if query is not None and not query(_Subject(record, placed.get(record["containerInstanceArn"], []))):
            continue
        selected.append(record["containerInstanceArn"])
    page, token = paginate(selected, params)
    return page_result("containerInstanceArns", page, token)


@operation("UpdateContainerInstancesState")
def update_container_instances_state(call: Call, params: Params) -> Result:
    status = params.get("status")
    if status not in UPDATABLE_STATES:
        raise InvalidParameterException("Container instances status can only be updated to ACTIVE or DRAINING.")
    references = params.get("containerInstances") or []
    if not references:
        raise InvalidParameterException("Container Instances cannot be empty.")
    if len(references) > 10:
        raise InvalidParameterException("containerInstances can have at most 10 items.")
    updated: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        placed = _tasks_by_instance(call, cluster["clusterName"])
        for reference in references:
            key = attribute_rules.instance_key(call, cluster["clusterName"], reference)
            record = call.store.get(call.scope, KIND, key) if key else None
            if record is None:
                failures.append({"arn": _as_arn(call, cluster["clusterName"], reference), "reason": "MISSING"})
                continue
            if record["status"] not in UPDATABLE_STATES:
                failures.append({"arn": record["containerInstanceArn"], "reason": "INACTIVE", "detail": "The container instance is not ACTIVE or DRAINING."})  # fmt: skip
                continue
            if record["status"] != status:
                record["status"] = status
                record["version"] += 1
                call.store.put(call.scope, KIND, f"{record['clusterName']}/{record['containerInstanceId']}", record)
            updated.append(render(record, placed.get(record["containerInstanceArn"], []), []))
    return {"containerInstances": updated, "failures": failures}


# -- the cluster query language -------------------------------------------------------------
#
#   expression := or;  or := and (("||" | "or") and)*;  and := unary (("&&" | "and") unary)*
#   unary := ("!" | "not") unary | "(" expression ")" | subject operator [argument]
#
# Subjects: agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt,
# runningTasksCount, task:group. Arguments are literals or lists "[a, b]"; quotes are optional.


class _Subject:
    """What a query can ask of one container instance."""

    def __init__(self, record: Record, tasks: list[TaskRecord]) -> None:
        self.record = record
        self.tasks = tasks

    def values(self, subject: str) -> list[str] | None:
        """The subject's values (several for task:group); None when it does not exist."""
        record = self.record
        if subject.startswith("attribute:"):
            name = subject.removeprefix("attribute:")
            found = [a for a in record.get("attributes", []) if a["name"] == name]
            return [found[0].get("value", "")] if found else None
        if subject == "task:group":
            return [str(t["spec"]["group"]) for t in self.tasks]
        simple = {
            "agentConnected": "true" if record["status"] != "INACTIVE" else "false",
            "agentVersion": record["versionInfo"].get("agentVersion"),
            "ec2InstanceId": record.get("ec2InstanceId"),
            "registeredAt": str(record["registeredAt"]),
            "runningTasksCount": str(_counts(self.tasks)[0]),
        }
        value = simple.get(subject)
        return None if value is None else [value]


Query = Callable[[_Subject], bool]
_TOKEN = re.compile(r"\s*(\(|\)|\[[^\]]*\]|&&|\|\||[^\s()\[\]]+)")
_OPERATORS = {
    "==": "==", "equals": "==", "!=": "!=", "not_equals": "!=",
    ">": ">", "greater_than": ">", ">=": ">=", "greater_than_equal": ">=",
    "<": "<", "less_than": "<", "<=": "<=", "less_than_equal": "<=",
    "exists": "exists", "!exists": "!exists", "not_exists": "!exists",
    "in": "in", "!in": "!in", "not_in": "!in",
    "=~": "matches", "matches": "matches", "!~": "!matches", "not_matches": "!matches",
}  # fmt: skip
_SUBJECTS = ("agentConnected", "agentVersion", "ec2InstanceId", "registeredAt", "runningTasksCount", "task:group")


def _invalid(text: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid filter expression: {text}")


def parse_query(text: str) -> Query:
    """Compile a cluster query language expression, or raise InvalidParameterException."""
    tokens: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _invalid(text)
        tokens.append(match.group(1))
        position = match.end()
    parser = _Parser(tokens, text)
    query = parser.expression()
    if parser.index != len(tokens):
        raise _invalid(text)
    return query


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _invalid(self.text)
        self.index += 1
        return token

    def expression(self) -> Query:
        terms = [self.conjunction()]
        while self.peek() in ("||", "or"):
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda s: any(term(s) for term in terms))

    def conjunction(self) -> Query:
        terms = [self.unary()]
        while self.peek() in ("&&", "and"):
            self.take()
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else (lambda s: all(term(s) for term in terms))

    def unary(self) -> Query:
        token = self.take()
        if token in ("!", "not"):
            inner = self.unary()
            return lambda s: not inner(s)
        if token == "(":
            inner = self.expression()
            if self.take() != ")":
                raise _invalid(self.text)
            return inner
        return self.comparison(token)

    def comparison(self, subject: str) -> Query:
        if not (subject.startswith("attribute:") and len(subject) > len("attribute:")) and subject not in _SUBJECTS:
            raise _invalid(self.text)
        operator = _OPERATORS.get(self.take())
        if operator is None:
            raise _invalid(self.text)
        if operator in ("exists", "!exists"):
            wanted = operator == "exists"
            return lambda s: (s.values(subject) is not None) == wanted
        argument = self.take()
        if operator in ("in", "!in"):
            if not argument.startswith("["):
                raise _invalid(self.text)
            options = {_unquote(item) for item in argument[1:-1].split(",") if item.strip()}
            inside = operator == "in"
            return lambda s: any(v in options for v in s.values(subject) or []) == inside
        value = _unquote(argument)
        if operator in ("matches", "!matches"):
            try:
                pattern = re.compile(value)
            except re.error as error:
                raise _invalid(self.text) from error
            matching = operator == "matches"
            return lambda s: any(pattern.fullmatch(v) for v in s.values(subject) or []) == matching
        if operator == "!=":
            return lambda s: all(v != value for v in s.values(subject) or [])
        compare = _comparator(subject, operator, value, self.text)
        return lambda s: any(compare(v) for v in s.values(subject) or [])


def _unquote(text: str) -> str:
    return text.strip().strip("'\"")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _comparator(subject: str, operator_name: str, argument: str, text: str) -> Callable[[str], bool]:
    """``value <operator> argument``, comparing versions, dates or numbers where they are."""
    keys: dict[str, Callable[[str], Any]] = {
        "agentVersion": _version,
        "registeredAt": _timestamp,
        "runningTasksCount": float,
    }
    key = keys.get(subject, str if operator_name == "==" else _number_or_text)
    try:
        target: Any = key(argument)
    except ValueError as error:
        raise _invalid(text) from error
    compare = _COMPARE[operator_name]

    def test(value: str) -> bool:
        try:
            actual: Any = key(value)
        except ValueError:
            return False
        return type(actual) is type(target) and compare(actual, target)

    return test


def _timestamp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()


def _number_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
