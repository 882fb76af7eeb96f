"""ECS services: Create, Describe, List, Update, Delete, ListServicesByNamespace.

Records are laid out in ``ecsemu.model.service``. This module writes ``spec`` only: the
desired count, the deployments it creates, ACTIVE → DRAINING. The scheduler (reconciler)
turns that into tasks and writes ``status``, including ``inactive`` once drained.
"""

from __future__ import annotations

import re
from typing import Any, Literal, cast

from ecsemu.errors import NotSupportedError
from ecsemu.model import service as service_model
from ecsemu.model.service import (
    CircuitBreaker,
    DeploymentConfiguration,
    DeploymentController,
    ServiceLoadBalancer,
    ServiceRecord,
    ServiceSpec,
)
from ecsemu.services.common import request_digest
from ecsemu.services.ecs import arns, task_definitions, task_sets
from ecsemu.services.ecs.base import Call, Params, Result, operation, page_result, paginate
from ecsemu.services.ecs.errors import (
    InvalidParameterException,
    ServiceNotActiveException,
    ServiceNotFoundException,
)
from ecsemu.services.ecs.load_balancers import check_load_balancers, check_strategy
from ecsemu.services.ecs.tags import validate_tags
from ecsemu.services.ecs.tasks import _check_network
from ecsemu.state.store import Record

KIND = service_model.KIND
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")


def service_role(call: Call) -> str:
    return f"arn:aws:iam::{call.scope.account_id}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"


# -- rendering ------------------------------------------------------------------------------


def render(call: Call, service: ServiceRecord, *, include_tags: bool = False) -> dict[str, Any]:
    spec, status = service["spec"], service["status"]
    deployments = _render_deployments(service)
    rendered: dict[str, Any] = {
        "serviceArn": spec["serviceArn"],
        "serviceName": spec["serviceName"],
        "clusterArn": spec["clusterArn"],
        "loadBalancers": spec.get("loadBalancers", []),
        "serviceRegistries": [],  # refused at CreateService: never stored
        "status": service_model.visible_status(service),
        "desiredCount": spec["desiredCount"],
        "runningCount": sum(d["runningCount"] for d in deployments),
        "pendingCount": sum(d["pendingCount"] for d in deployments),
        "deploymentConfiguration": spec["deploymentConfiguration"],
        "deployments": deployments,
        "roleArn": spec["roleArn"],
        "events": status.get("events", []),
        "createdAt": spec["createdAt"],
        "placementConstraints": spec.get("placementConstraints", []),
        "placementStrategy": spec.get("placementStrategy", []),
        "schedulingStrategy": spec["schedulingStrategy"],
        "deploymentController": spec["deploymentController"],
        "createdBy": spec["createdBy"],
        "enableECSManagedTags": spec.get("enableECSManagedTags", False),
        "propagateTags": spec.get("propagateTags", "NONE"),
        "enableExecuteCommand": spec.get("enableExecuteCommand", False),
        "availabilityZoneRebalancing": spec.get("availabilityZoneRebalancing", "DISABLED"),
    }
    if spec.get("taskDefinition"):
        rendered["taskDefinition"] = spec["taskDefinition"]
    for member in ("launchType", "capacityProviderStrategy", "platformVersion", "platformFamily",
                   "networkConfiguration", "healthCheckGracePeriodSeconds"):  # fmt: skip
        value = spec.get(member)
        if value is not None:
            rendered[member] = value
    if spec["deploymentController"]["type"] == "EXTERNAL":
        rendered["taskSets"] = task_sets.for_service(call, service)
    if include_tags:
        rendered["tags"] = spec.get("tags", [])
    return rendered


def _render_deployments(service: ServiceRecord) -> list[dict[str, Any]]:
    spec, status = service["spec"], service["status"]
    if spec["deploymentController"]["type"] == "EXTERNAL":
        return []
    rendered = []
    created = spec["deployments"]
    for index, deployment in enumerate(reversed(created)):
        observed = status.get("deployments", {}).get(deployment["id"], {})
        if observed.get("retired"):
            continue
        is_primary = index == 0
        item: dict[str, Any] = {
            **deployment,
            "status": "PRIMARY" if is_primary else "ACTIVE",
            "desiredCount": spec["desiredCount"] if is_primary else observed.get("desiredCount", 0),
            "pendingCount": observed.get("pendingCount", 0),
            "runningCount": observed.get("runningCount", 0),
            "failedTasks": observed.get("failedTasks", 0),
            "updatedAt": observed.get("updatedAt", deployment["createdAt"]),
            "rolloutState": observed.get("rolloutState", "IN_PROGRESS"),
            "rolloutStateReason": observed.get(
                "rolloutStateReason", f"ECS deployment {deployment['id']} in progress."
            ),
        }
        rendered.append(item)
    return rendered


# -- lookups --------------------------------------------------------------------------------


def service_key(cluster_name: str, reference: str) -> str:
    return f"{cluster_name}/{arns.last_segment(reference)}"


def find(call: Call, cluster_name: str, reference: str) -> ServiceRecord | None:
    """The service a name or ARN names in the cluster; an ARN of another cluster, account or
    region names nothing here."""
    if arns.is_arn(reference):
        parsed = arns.parse(reference)
        if parsed is None or parsed.resource_type != "service" or not call.owns(parsed):
            return None
        parts = parsed.resource.split("/")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != cluster_name):
            return None
    found = call.store.get(call.scope, KIND, service_key(cluster_name, reference))
    return None if found is None else service_model.from_record(found)


def require_active(call: Call, cluster_name: str, reference: str) -> ServiceRecord:
    service = find(call, cluster_name, reference)
    if service is None:
        raise ServiceNotFoundException()
    if service_model.visible_status(service) != "ACTIVE":
        raise ServiceNotActiveException()
    return service


# -- checks ---------------------------------------------------------------------------------


def _refuse_unsupported(params: Params) -> None:
    for member, what in (
        ("serviceRegistries", "Service discovery (serviceRegistries)"),
        ("serviceConnectConfiguration", "Service Connect"),
        ("volumeConfigurations", "Service volumeConfigurations (EBS)"),
        ("vpcLatticeConfigurations", "VPC Lattice configurations"),
    ):
        if params.get(member):
            raise NotSupportedError(what)


def _deployment_configuration(given: Any, base: DeploymentConfiguration) -> DeploymentConfiguration:
    # ``given`` is the API's DeploymentConfiguration, validated against botocore's shape.
    configuration = cast(DeploymentConfiguration, {**base, **(given or {})})
    breaker: CircuitBreaker = {**base["deploymentCircuitBreaker"], **configuration.get("deploymentCircuitBreaker", {})}
    configuration["deploymentCircuitBreaker"] = breaker
    if configuration.get("lifecycleHooks"):
        raise NotSupportedError("Deployment lifecycle hooks (their Lambda functions cannot run locally)")
    if configuration.get("strategy", "ROLLING") not in ("ROLLING", *service_model.TRAFFIC_SHIFTING):
        raise InvalidParameterException(f"Invalid deployment strategy: {configuration['strategy']}")
    maximum, minimum = configuration["maximumPercent"], configuration["minimumHealthyPercent"]
    if not 0 <= minimum <= 100:
        raise InvalidParameterException("minimumHealthyPercent must be between 0 and 100.")
    if maximum < 100:
        raise InvalidParameterException("maximumPercent must be at least 100.")
    if maximum > 200 and maximum % 1:
        raise InvalidParameterException("maximumPercent is invalid.")
    return configuration


def _launch(
    call: Call, params: Params, definition: Record, cluster: Record
) -> tuple[str | None, list[Record] | None]:
    """The launch type or capacity provider strategy: as given, else the cluster's default
    strategy, else EC2."""
    launch_type = params.get("launchType")
    strategy = params.get("capacityProviderStrategy")
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
        )
    if launch_type is None and not strategy:
        strategy = cluster.get("defaultCapacityProviderStrategy") or None
    providers = {item["capacityProvider"] for item in strategy or []}
    if (launch_type == "FARGATE" or providers & {"FARGATE", "FARGATE_SPOT"}) and "FARGATE" not in definition["compatibilities"]:
        raise InvalidParameterException("Task definition does not support launch_type FARGATE.")
    if launch_type is None and not strategy:
        launch_type = "EC2"
    return launch_type, strategy


# ECS's "Tasks per service" quota: "The maximum number of tasks per service (the desired
# count)", 5,000 by default (Amazon ECS service quotas).
MAX_DESIRED_COUNT = 5000


def _check_desired_count(desired: int | None) -> None:
    if desired is None:
        return
    if desired < 0:
        raise InvalidParameterException("desiredCount must be 0 or greater.")
    if desired > MAX_DESIRED_COUNT:
        raise InvalidParameterException(
            f"desiredCount must be {MAX_DESIRED_COUNT} or less: the Tasks per service quota is {MAX_DESIRED_COUNT}."
        )


# -- operations -----------------------------------------------------------------------------


@operation("CreateService")
def create_service(call: Call, params: Params) -> Result:
    name = params["serviceName"]
    if not _NAME.match(name):
        raise InvalidParameterException(
            "Service name should be between 1 and 255 characters long and may contain letters, numbers, hyphens and underscores."
        )
    _refuse_unsupported(params)
    scheduling = params.get("schedulingStrategy", "REPLICA")
    if scheduling == "DAEMON":
        raise NotSupportedError("The DAEMON scheduling strategy")
    controller: DeploymentController = params.get("deploymentController") or {"type": "ECS"}
    if controller["type"] == "CODE_DEPLOY":
        raise NotSupportedError("The CODE_DEPLOY deployment controller")
    desired = params.get("desiredCount")
    if desired is None and controller["type"] != "EXTERNAL":
        raise InvalidParameterException("desiredCount is required for the REPLICA scheduling strategy.")
    _check_desired_count(desired)
    tags = validate_tags(params.get("tags", []))
    digest = request_digest(params)
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        cluster_name = cluster["clusterName"]
        existing = find(call, cluster_name, name)
        if existing is not None and not service_model.is_inactive(existing):
            # Idempotent only for a retry: the same client token with the same request.
            token = params.get("clientToken")
            if token and existing["spec"].get("clientToken") == token and existing["spec"].get("requestDigest") == digest:
                return {"service": render(call, existing)}
            raise InvalidParameterException("Creation of service was not idempotent.")
        definition: Record | None = None
        load_balancers: list[ServiceLoadBalancer] = []
        if controller["type"] == "EXTERNAL":
            if params.get("taskDefinition"):
                raise InvalidParameterException("TaskDefinition must be blank")
            launch_type, strategy = params.get("launchType"), params.get("capacityProviderStrategy")
        else:
            definition = task_definitions.require_active(call, params.get("taskDefinition") or "")
            _check_network(definition, params)
            launch_type, strategy = _launch(call, params, definition, cluster)
            load_balancers = check_load_balancers(call, params.get("loadBalancers") or [], definition)
            check_strategy(
                (params.get("deploymentConfiguration") or {}).get("strategy", "ROLLING"), load_balancers, controller["type"]
            )
        spec: ServiceSpec = {
            "serviceName": name,
            "serviceArn": call.arn("service", f"{cluster_name}/{name}"),
            "clusterName": cluster_name,
            "clusterArn": cluster["clusterArn"],
            "status": "ACTIVE",
            "desiredCount": desired or 0,
            "taskDefinition": definition["taskDefinitionArn"] if definition else None,
            "launchType": launch_type,
            "capacityProviderStrategy": strategy,
            "platformVersion": params.get("platformVersion") or ("LATEST" if launch_type == "FARGATE" else None),
            "deploymentConfiguration": _deployment_configuration(
                params.get("deploymentConfiguration"), service_model.DEFAULT_DEPLOYMENT_CONFIGURATION
            ),
            "deploymentController": controller,
            "schedulingStrategy": scheduling,
            "loadBalancers": load_balancers,
            "networkConfiguration": params.get("networkConfiguration"),
            "placementConstraints": params.get("placementConstraints", []),
            "placementStrategy": params.get("placementStrategy", []),
            "healthCheckGracePeriodSeconds": params.get("healthCheckGracePeriodSeconds"),
            "enableECSManagedTags": params.get("enableECSManagedTags", False),
            "propagateTags": params.get("propagateTags", "NONE"),
            "enableExecuteCommand": params.get("enableExecuteCommand", False),
            "availabilityZoneRebalancing": params.get("availabilityZoneRebalancing", "DISABLED"),
            "roleArn": params.get("role") or service_role(call),
            "createdBy": f"arn:aws:iam::{call.scope.account_id}:root",
            "createdAt": call.now,
            "tags": tags,
            "deployments": [],
        }
        if params.get("clientToken"):
            spec["clientToken"], spec["requestDigest"] = params["clientToken"], digest
        if definition is not None:
            spec["deployments"].append(service_model.new_deployment(arns.new_deployment_id(), spec, call.now))
        record: ServiceRecord = {"spec": spec, "status": {}}
        call.store.put(call.scope, KIND, f"{cluster_name}/{name}", service_model.to_record(record))
    return {"service": render(call, record)}


@operation("DescribeServices")
def describe_services(call: Call, params: Params) -> Result:
    references = params["services"]
    if not references:
        raise InvalidParameterException("Services cannot be empty.")
    if len(references) > 10:
        raise InvalidParameterException("service names can have at most 10 items.")
    cluster = call.require_cluster(params.get("cluster"))
    include_tags = "TAGS" in params.get("include", [])
    found: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for reference in references:
        service = find(call, cluster["clusterName"], reference)
        if service is None:
            # ECS names an unknown service by a short ARN, without the cluster.
            as_arn = reference if arns.is_arn(reference) else call.arn("service", reference)
            failures.append({"arn": as_arn, "reason": "MISSING"})
        else:
            found.append(render(call, service, include_tags=include_tags))
    return {"services": found, "failures": failures}


@operation("ListServices")
def list_services(call: Call, params: Params) -> Result:
    cluster = call.require_cluster(params.get("cluster"))
    selected = []
    for stored in call.store.list(call.scope, KIND, under=cluster["clusterName"]):
        service = service_model.from_record(stored)
        spec = service["spec"]
        if service_model.visible_status(service) != "ACTIVE":
            continue
        if params.get("launchType") and spec.get("launchType") != params["launchType"]:
            continue
        if params.get("schedulingStrategy") and spec["schedulingStrategy"] != params["schedulingStrategy"]:
            continue
        selected.append(spec["serviceArn"])
    page, token = paginate(selected, params, default_max=10)
    return page_result("serviceArns", page, token)


@operation("ListServicesByNamespace")
def list_services_by_namespace(call: Call, params: Params) -> Result:
    # Service Connect and service discovery are refused at CreateService, so no service of
    # ecsemu is ever in a namespace.
    if not params.get("namespace"):
        raise InvalidParameterException("namespace can not be blank.")
    page, token = paginate(list[str](), params, default_max=10)
    return page_result("serviceArns", page, token)


_NEW_DEPLOYMENT_MEMBERS: tuple[Literal["networkConfiguration", "platformVersion", "capacityProviderStrategy"], ...] = (
    "networkConfiguration", "platformVersion", "capacityProviderStrategy",
)  # fmt: skip
_SETTINGS: tuple[
    Literal["healthCheckGracePeriodSeconds", "enableExecuteCommand", "enableECSManagedTags", "propagateTags",
            "placementConstraints", "placementStrategy", "availabilityZoneRebalancing"], ...
] = (
    "healthCheckGracePeriodSeconds", "enableExecuteCommand", "enableECSManagedTags", "propagateTags",
    "placementConstraints", "placementStrategy", "availabilityZoneRebalancing",
)  # fmt: skip


@operation("UpdateService")
def update_service(call: Call, params: Params) -> Result:
    _refuse_unsupported(params)
    if params.get("deploymentController"):
        raise NotSupportedError("Changing the deployment controller")
    desired = params.get("desiredCount")
    _check_desired_count(desired)
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        service = require_active(call, cluster["clusterName"], params["service"])
        spec = service["spec"]
        new_deployment = bool(params.get("forceNewDeployment"))
        if params.get("loadBalancers") is not None or params.get("taskDefinition"):
            reference = params.get("taskDefinition") or spec["taskDefinition"]
            if reference:
                checked = check_load_balancers(
                    call,
                    params["loadBalancers"] if params.get("loadBalancers") is not None else spec.get("loadBalancers", []),
                    task_definitions.require_active(call, reference),
                )
                if checked != spec.get("loadBalancers", []):
                    spec["loadBalancers"] = checked
                    new_deployment = True
        if params.get("taskDefinition"):
            if spec["deploymentController"]["type"] == "EXTERNAL":
                raise InvalidParameterException("TaskDefinition must be blank")
            definition = task_definitions.require_active(call, params["taskDefinition"])
            _check_network(definition, {"networkConfiguration": params.get("networkConfiguration", spec.get("networkConfiguration"))})
            if definition["taskDefinitionArn"] != spec["taskDefinition"]:
                spec["taskDefinition"] = definition["taskDefinitionArn"]
                new_deployment = True
        for member in _NEW_DEPLOYMENT_MEMBERS:
            if member in params and params[member] != spec.get(member):
                spec[member] = params[member]
                new_deployment = True
        if desired is not None:
            spec["desiredCount"] = desired
        if "deploymentConfiguration" in params:
            spec["deploymentConfiguration"] = _deployment_configuration(
                params["deploymentConfiguration"], spec["deploymentConfiguration"]
            )
        for setting in _SETTINGS:
            if setting in params:
                spec[setting] = params[setting]
        check_strategy(service_model.strategy(spec), spec.get("loadBalancers", []), spec["deploymentController"]["type"])
        if new_deployment and spec["deploymentController"]["type"] == "ECS":
            spec["deployments"].append(service_model.new_deployment(arns.new_deployment_id(), spec, call.now))
        call.store.put(call.scope, KIND, service_key(cluster["clusterName"], spec["serviceName"]), service_model.to_record(service))
    return {"service": render(call, service)}


@operation("DeleteService")
def delete_service(call: Call, params: Params) -> Result:
    with call.store.transaction():
        cluster = call.require_cluster(params.get("cluster"))
        service = find(call, cluster["clusterName"], params["service"])
        if service is None:
            raise ServiceNotFoundException()
        if service_model.visible_status(service) != "ACTIVE":
            raise ServiceNotActiveException()
        spec = service["spec"]
        if spec["desiredCount"] > 0 and not params.get("force") and spec["schedulingStrategy"] == "REPLICA":
            raise InvalidParameterException("The service cannot be stopped while it is scaled above 0.")
        spec["desiredCount"] = 0
        spec["status"] = "DRAINING"
        spec["deletedAt"] = call.now
        call.store.put(call.scope, KIND, service_key(cluster["clusterName"], spec["serviceName"]), service_model.to_record(service))
    return {"service": render(call, service)}
