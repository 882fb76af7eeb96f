"""Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks, task protection.

Records are laid out in ``ecsemu.model.task``; this module writes only their ``spec`` and
renders spec plus the reconciler's ``status`` as ECS's Task shape. RunTask's client tokens
are remembered for 24 hours per cluster (kind ``run_task_token``), as ECS does.
"""

from __future__ import annotations

from typing import Any, Literal

from ecsemu.errors import ClientError
from ecsemu.model import task as task_model
from ecsemu.model import task_definition as task_definition_model
from ecsemu.model.task import ContainerSpec, TaskRecord, TaskSpec, TaskStatus
from ecsemu.services.common import request_digest
from ecsemu.services.ecs import arns, task_definitions
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import ClientException, InvalidParameterException, ServiceNotFoundException
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.services.ecs.task_definition_checks import local_environment_files
from ecsemu.state.store import Record

KIND = task_model.KIND
# RunTask's client tokens: kind ``run_task_token``, id ``<cluster>/<token>``.
TOKEN_KIND = "run_task_token"
TOKEN_TTL_S = 24 * 3600.0

_TIMESTAMPS: tuple[Literal["pullStartedAt", "pullStoppedAt", "startedAt", "connectivityAt", "stoppingAt",
                            "stoppedAt", "executionStoppedAt"], ...] = (
    "pullStartedAt", "pullStoppedAt", "startedAt", "connectivityAt", "stoppingAt", "stoppedAt", "executionStoppedAt",
)  # fmt: skip  (the status's; createdAt, the spec's, comes first)


def render(task: TaskRecord, *, include_tags: bool = False) -> dict[str, Any]:
    spec, status = task["spec"], task["status"]
    stop_code, stopped_reason = task_model.stop_reason(task)
    last_status = status.get("lastStatus", "PROVISIONING")
    rendered: dict[str, Any] = {
        "taskArn": spec["taskArn"],
        "clusterArn": spec["clusterArn"],
        "taskDefinitionArn": spec["taskDefinitionArn"],
        "lastStatus": last_status,
        "desiredStatus": task_model.desired_status(task),
        "containers": [_render_container(spec, status, c) for c in spec["containers"]],
        "overrides": spec["overrides"],
        "group": spec["group"],
        "launchType": spec["launchType"],
        "version": status.get("version", spec["version"]),
        "attachments": status.get("attachments", []),
        "attributes": [],
        "availabilityZone": "local-1a",
        "enableExecuteCommand": spec["enableExecuteCommand"],
        "healthStatus": status.get("healthStatus", "UNKNOWN"),
        "connectivity": status.get("connectivity", "CONNECTED" if task_model.rank(last_status) >= 1 else "CONNECTING"),
    }
    for member in ("cpu", "memory"):
        if spec.get(member):
            rendered[member] = spec[member]
    for optional in ("startedBy", "platformVersion", "platformFamily", "capacityProviderName",
                     "containerInstanceArn", "ephemeralStorage"):  # fmt: skip
        if optional in spec:
            rendered[optional] = spec[optional]
    if spec.get("createdAt") is not None:
        rendered["createdAt"] = spec["createdAt"]
    for member in _TIMESTAMPS:
        value = status.get(member)
        if value is not None:
            rendered[member] = value
    if stop_code:
        rendered["stopCode"] = stop_code
    if stopped_reason:
        rendered["stoppedReason"] = stopped_reason
    if include_tags:
        rendered["tags"] = spec.get("tags", [])
    return rendered


def _render_container(spec: TaskSpec, status: TaskStatus, container: ContainerSpec) -> dict[str, Any]:
    observed = status.get("containers", {}).get(container["name"], {})
    rendered: dict[str, Any] = {
        "containerArn": container["containerArn"],
        "taskArn": spec["taskArn"],
        "name": container["name"],
        "image": container["image"],
        "lastStatus": observed.get("lastStatus", "PENDING"),
        "networkBindings": observed.get("networkBindings", []),
        "networkInterfaces": [],  # never observed: a container reports no interfaces of its own
        "healthStatus": observed.get("healthStatus", "UNKNOWN"),
        "cpu": container["cpu"],
    }
    for member in ("memory", "memoryReservation"):
        if member in container:
            rendered[member] = container[member]
    for seen in ("exitCode", "reason", "runtimeId", "imageDigest"):
        if observed.get(seen) is not None:
            rendered[seen] = observed[seen]
    return rendered


def task_key(call: Call, cluster_name: str, task_ref: str) -> str:
    """The record id of a task named by id or ARN (short or long format)."""
    if arns.is_arn(task_ref):
        parsed = arns.parse(task_ref)
        if parsed is None or parsed.resource_type != "task":
            return f"{cluster_name}/"
        return f"{cluster_name}/{parsed.resource.rsplit('/', 1)[-1]}"
    return f"{cluster_name}/{task_ref}"


# -- starting tasks -------------------------------------------------------------------------


def _check_network(definition: Record, params: Params) -> None:
    network_mode = definition.get("networkMode", "bridge")
    configuration = params.get("networkConfiguration")
    if network_mode == "awsvpc":
        if not configuration or "awsvpcConfiguration" not in configuration:
            raise InvalidParameterException(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        if not configuration["awsvpcConfiguration"].get("subnets"):
            raise InvalidParameterException("subnets can not be empty.")
    elif configuration:
        raise InvalidParameterException(
            "Network Configuration is not valid for the given networkMode of this task definition."
        )


def _check_launch(call: Call, definition: Record, params: Params) -> tuple[str | None, str | None]:
    """The (launch type, capacity provider) a RunTask asks for, after ECS's checks."""
    launch_type = params.get("launchType")
    strategy = params.get("capacityProviderStrategy") or []
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
        )
    provider = strategy[0]["capacityProvider"] if strategy else None
    if launch_type is None and provider is None:
        cluster = call.require_cluster(params.get("cluster"))
        default = cluster.get("defaultCapacityProviderStrategy") or []
        provider = default[0]["capacityProvider"] if default else None
    if (launch_type == "FARGATE" or provider in ("FARGATE", "FARGATE_SPOT")) and "FARGATE" not in definition["compatibilities"]:
        raise InvalidParameterException("Task definition does not support launch_type FARGATE.")
    return launch_type, provider


def _check_overrides(definition: Record, overrides: Record, *, allow_host_access: bool) -> None:
    names = {c["name"] for c in definition["containerDefinitions"]}
    for override in overrides.get("containerOverrides", []):
        if override.get("name") not in names:
            raise InvalidParameterException(f"Container name '{override.get('name')}' is not in the task definition.")
        for variable in override.get("environment", []):
            if not variable.get("name"):
                raise InvalidParameterException("Environment variable names in container overrides can not be blank.")
        if not allow_host_access and local_environment_files(override.get("environmentFiles")):
            raise ClientException(
                f"The override of container '{override.get('name')}' reads an environment file from a local path."
                " ecsemu refuses it unless started with --allow-host-access."
            )


def _start(call: Call, params: Params, *, count: int, container_instances: list[str] | None = None) -> Result:
    if params.get("startedBy") and len(params["startedBy"]) > 128:
        raise InvalidParameterException("startedBy longer than 128.")
    tags = validate_tags(params.get("tags", []))
    overrides = params.get("overrides") or {}
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        definition = task_definitions.require_active(call, params["taskDefinition"])
        _check_network(definition, params)
        _check_overrides(definition, overrides, allow_host_access=call.settings.allow_host_access)
        if container_instances is None:
            launch_type, provider = _check_launch(call, definition, params)
        else:
            launch_type, provider = "EC2", None
        if params.get("propagateTags") == "TASK_DEFINITION":
            tags = validate_tags(definition.get("tags", []) + tags)
        started = []
        failures: list[dict[str, str]] = []
        room = _room_for_tasks(call)
        for index in range(count):
            if index >= room:
                failures.append({"arn": cluster["clusterArn"], "reason": TASK_LIMIT_REASON})
                continue
            task_id = arns.new_task_id()
            task = task_model.new_task(
                call.scope,
                task_id=task_id,
                cluster_name=cluster["clusterName"],
                definition=task_definition_model.from_record(definition),
                now=call.now,
                overrides=overrides,
                started_by=params.get("startedBy"),
                group=params.get("group"),
                launch_type=launch_type,
                capacity_provider=provider,
                network_configuration=params.get("networkConfiguration"),
                tags=tags,
                container_instance_arn=container_instances[index] if container_instances else None,
                enable_execute_command=bool(params.get("enableExecuteCommand")),
                platform_version=params.get("platformVersion"),
            )
            call.store.put(call.scope, KIND, f"{cluster['clusterName']}/{task_id}", task_model.to_record(task))
            started.append(render(task, include_tags=True))
    return {"tasks": started, "failures": failures}


TASK_LIMIT_REASON = "You've reached the limit on the number of tasks you can run concurrently"


def _room_for_tasks(call: Call) -> int:
    """How many more tasks ecsemu starts now, over every account and region (the services'
    tasks count too; see ``task_model.room_for_tasks``)."""
    return task_model.room_for_tasks(
        task_model.from_record(record) for scope in call.store.scopes() for record in call.store.list(scope, KIND)
    )


class ConflictException(ClientError):
    code = "ConflictException"


def _replay(call: Call, cluster_name: str, token: str, digest: str) -> Result | None:
    """The answer of an earlier RunTask with this client token in this cluster, if any."""
    earlier = call.store.get(call.scope, TOKEN_KIND, f"{cluster_name}/{token}")
    if earlier is None or call.now - earlier["createdAt"] >= TOKEN_TTL_S:
        return None
    if earlier["digest"] != digest:
        raise ConflictException(
            "The client token has already been used with different request parameters. Use a new client token."
        )
    tasks = [call.store.get(call.scope, KIND, f"{cluster_name}/{arns.last_segment(a)}") for a in earlier["taskArns"]]
    return {
        "tasks": [render(task_model.from_record(task), include_tags=True) for task in tasks if task is not None],
        "failures": [],
    }


def _remember_token(call: Call, cluster_name: str, token: str, digest: str, result: Result) -> None:
    # Tokens are kept in the order they were given, so the expired ones are the first ones.
    for key in call.store.ids(call.scope, TOKEN_KIND):
        old = call.store.get(call.scope, TOKEN_KIND, key)
        if old is None or call.now - old["createdAt"] < TOKEN_TTL_S:
            break
        call.store.delete(call.scope, TOKEN_KIND, key)
    record = {"digest": digest, "createdAt": call.now, "taskArns": [t["taskArn"] for t in result["tasks"]]}
    call.store.put(call.scope, TOKEN_KIND, f"{cluster_name}/{token}", record)


@operation("RunTask")
def run_task(call: Call, params: Params) -> Result:
    """Starts ``count`` tasks. With a client token (boto3 always sends one), a repeated request
    answers what the first one did instead of starting more; the token lives 24 hours."""
    count = params.get("count", 1)
    if not 1 <= count <= 10:
        raise InvalidParameterException("Count must be between 1 and 10.")
    token = params.get("clientToken")
    if not token:
        return _start(call, params, count=count)
    digest = request_digest(params)
    with call.store.transaction():
        cluster_name = call.require_cluster(params.get("cluster"))["clusterName"]
        replayed = _replay(call, cluster_name, token, digest)
        if replayed is not None:
            return replayed
        result = _start(call, params, count=count)
        _remember_token(call, cluster_name, token, digest, result)
    return result


@operation("StartTask")
def start_task(call: Call, params: Params) -> Result:
    references = params["containerInstances"]
    if not references:
        raise InvalidParameterException("Container Instances cannot be empty.")
    if len(references) > 10:
        raise InvalidParameterException("containerInstances can have at most 10 items.")
    cluster = call.require_cluster(params.get("cluster"))
    instance_arns = []
    for reference in references:
        key = f"{cluster['clusterName']}/{arns.last_segment(reference)}"
        instance = call.store.get(call.scope, "container_instance", key)
        if instance is None or instance.get("status") == "INACTIVE":
            raise InvalidParameterException(f"Container instance {reference} not found.")
        instance_arns.append(instance["containerInstanceArn"])
    return _start(call, params, count=len(instance_arns), container_instances=instance_arns)


# -- stopping, reading ----------------------------------------------------------------------


@operation("StopTask")
def stop_task(call: Call, params: Params) -> Result:
    reason = params.get("reason") or "Task stopped by user"
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        key = task_key(call, cluster["clusterName"], params["task"])
        stored = call.store.get(call.scope, KIND, key)
        if stored is None:
            raise InvalidParameterException("The referenced task was not found.")
        task = task_model.from_record(stored)
        if task_model.request_stop(task, stop_code="UserInitiated", reason=reason, now=call.now):
            call.store.put(call.scope, KIND, key, stored)
    return {"task": render(task, include_tags=True)}


@operation("DescribeTasks")
def describe_tasks(call: Call, params: Params) -> Result:
    references = params["tasks"]
    if not references:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(references) > 100:
        raise InvalidParameterException("taskIds can have at most 100 items.")
    cluster = call.require_cluster(params.get("cluster"))
    include_tags = "TAGS" in params.get("include", [])
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for reference in references:
        task = call.store.get(call.scope, KIND, task_key(call, cluster["clusterName"], reference))
        if task is None:
            as_arn = reference if arns.is_arn(reference) else call.arn("task", f"{cluster['clusterName']}/{reference}")
            failures.append({"arn": as_arn, "reason": "MISSING"})
        else:
            found.append(render(task_model.from_record(task), include_tags=include_tags))
    return {"tasks": found, "failures": failures}


@operation("ListTasks")
def list_tasks(call: Call, params: Params) -> Result:
    cluster = call.require_cluster(params.get("cluster"))
    name = cluster["clusterName"]
    desired = params.get("desiredStatus", "RUNNING")
    service_name = params.get("serviceName")
    for exclusive in ("serviceName", "startedBy"):
        others = ("family", "containerInstance", "startedBy", "serviceName")
        if params.get(exclusive) is not None and any(params.get(o) is not None for o in others if o != exclusive):
            raise InvalidParameterException(f"cannot specify {exclusive} with other arguments")
    if service_name is not None:
        service = call.store.get(call.scope, "service", f"{name}/{arns.last_segment(service_name)}")
        if service is None:
            raise ServiceNotFoundException()
    family = params.get("family")
    instance = params.get("containerInstance")
    selected = []
    for stored in call.store.list(call.scope, KIND, under=name):  # only this cluster's tasks ("<cluster>/<id>")
        task = task_model.from_record(stored)
        spec = task["spec"]
        # ECS never sets a task's desired status to PENDING: filtering on it finds nothing.
        if task_model.desired_status(task) != desired:
            continue
        if family is not None and spec["family"] != family:
            continue
        if params.get("startedBy") is not None and spec.get("startedBy") != params["startedBy"]:
            continue
        if service_name is not None and spec.get("serviceName") != arns.last_segment(service_name):
            continue
        if params.get("launchType") is not None and spec["launchType"] != params["launchType"]:
            continue
        if instance is not None and arns.last_segment(spec.get("containerInstanceArn", "")) != arns.last_segment(instance):
            continue
        selected.append(spec["taskArn"])
    page, token = paginate(selected, params)
    return page_result("taskArns", page, token)


# -- task protection ------------------------------------------------------------------------


@operation("GetTaskProtection")
def get_task_protection(call: Call, params: Params) -> Result:
    cluster = call.require_cluster(params.get("cluster"))
    name = cluster["clusterName"]
    protected: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    references = params.get("tasks")
    if references is None:
        raise InvalidParameterException("tasks can not be empty.")
    for reference in references:
        stored = call.store.get(call.scope, KIND, task_key(call, name, reference))
        if stored is None or task_model.is_stopped(task_model.from_record(stored)):
            failures.append({"arn": reference, "reason": "TASK_NOT_VALID"})
            continue
        protected.append(_protection(task_model.from_record(stored), call.now))
    return {"protectedTasks": protected, "failures": failures}


def _protection(task: TaskRecord, now: float) -> dict[str, Any]:
    protection = task["spec"].get("protection") or {}
    enabled = bool(protection.get("protectionEnabled")) and protection.get("expirationDate", 0) > now
    result: dict[str, Any] = {"taskArn": task["spec"]["taskArn"], "protectionEnabled": enabled}
    if enabled:
        result["expirationDate"] = protection["expirationDate"]
    return result


@operation("UpdateTaskProtection")
def update_task_protection(call: Call, params: Params) -> Result:
    enabled = params["protectionEnabled"]
    minutes = params.get("expiresInMinutes", 120)
    if not params["tasks"]:
        raise InvalidParameterException("tasks can not be empty.")
    if enabled and not 1 <= minutes <= 2880:
        raise InvalidParameterException("expiresInMinutes must be between 1 and 2880.")
    protected: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        for reference in params["tasks"]:
            key = task_key(call, cluster["clusterName"], reference)
            stored = call.store.get(call.scope, KIND, key)
            task = None if stored is None else task_model.from_record(stored)
            if task is None or task_model.is_stopped(task) or "serviceName" not in task["spec"]:
                failures.append({"arn": reference, "reason": "TASK_NOT_VALID", "detail": "The task is not part of a service."})  # fmt: skip
                continue
            task["spec"]["protection"] = (
                {"protectionEnabled": True, "expirationDate": call.now + minutes * 60} if enabled else {}
            )
            call.store.put(call.scope, KIND, key, task_model.to_record(task))
            protected.append(_protection(task, call.now))
    return {"protectedTasks": protected, "failures": failures}
