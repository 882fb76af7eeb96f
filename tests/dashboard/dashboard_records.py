"""Hand-made store records for the dashboard's unit tests: as the API and the reconciler write
them (see ecsemu/model/), with only the members the dashboard reads filled in."""

from __future__ import annotations

from typing import Any

from ecsemu.context import Scope
from ecsemu.model import cluster, listener, load_balancer, rule, service, target_group, task, task_definition
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
ELB = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
ECS = "arn:aws:ecs:us-east-1:123456789012"
LB_ARN = f"{ELB}:loadbalancer/app/front/00000000000000aa"
LISTENER_ARN = f"{ELB}:listener/app/front/00000000000000aa/00000000000000bb"
TG_ARN = f"{ELB}:targetgroup/web/00000000000000cc"


def put_cluster(store: Store, name: str = "shop", scope: Scope = SCOPE) -> None:
    store.put(
        scope, cluster.KIND, name, {"clusterArn": f"{ECS}:cluster/{name}", "clusterName": name, "status": "ACTIVE"}
    )


def put_task_definition(store: Store, revision: int, log_options: dict[str, str] | None = None) -> str:
    arn = f"{ECS}:task-definition/web:{revision}"
    container: dict[str, Any] = {"name": "web", "image": f"web:v{revision}", "portMappings": [{"containerPort": 8080}]}
    if log_options is not None:
        container["logConfiguration"] = {"logDriver": "awslogs", "options": log_options}
    store.put(
        SCOPE,
        task_definition.KIND,
        f"web:{revision}",
        {
            "taskDefinitionArn": arn,
            "family": "web",
            "revision": revision,
            "status": "ACTIVE",
            "containerDefinitions": [container],
        },
    )
    return arn


def put_service(
    store: Store,
    deployments: list[tuple[str, str, dict[str, Any]]],
    *,
    events: int = 0,
    desired: int = 2,
    name: str = "web",
) -> None:
    """``deployments``: (id, task definition ARN, observed status), oldest first."""
    spec: dict[str, Any] = {
        "serviceName": name,
        "serviceArn": f"{ECS}:service/shop/{name}",
        "clusterName": "shop",
        "clusterArn": f"{ECS}:cluster/shop",
        "status": "ACTIVE",
        "desiredCount": desired,
        "taskDefinition": deployments[-1][1],
        "launchType": "FARGATE",
        "deploymentConfiguration": dict(service.DEFAULT_DEPLOYMENT_CONFIGURATION),
        "deploymentController": {"type": "ECS"},
        "loadBalancers": [{"targetGroupArn": TG_ARN, "containerName": "web", "containerPort": 8080}],
        "createdAt": 1000.0,
        "deployments": [
            {"id": d, "taskDefinition": td, "createdAt": 1000.0 + i} for i, (d, td, _) in enumerate(deployments)
        ],
    }
    status = {
        "deployments": {d: observed for d, _, observed in deployments},
        "events": [{"id": f"e{i}", "createdAt": 2000.0 - i, "message": f"event {i}"} for i in range(events)],
    }
    store.put(SCOPE, service.KIND, f"shop/{name}", {"spec": spec, "status": status})


def put_task(
    store: Store,
    task_id: str,
    *,
    revision: int = 1,
    service_name: str | None = "web",
    last_status: str = "RUNNING",
    created_at: float = 1500.0,
    host_port: int | None = 49153,
    registrations: list[list[str | int]] | None = None,
    stopped_reason: str | None = None,
) -> str:
    arn = f"{ECS}:task/shop/{task_id}"
    spec: dict[str, Any] = {
        "taskId": task_id,
        "taskArn": arn,
        "clusterName": "shop",
        "taskDefinitionArn": f"{ECS}:task-definition/web:{revision}",
        "family": "web",
        "revision": revision,
        "containers": [{"name": "web", "image": f"web:v{revision}"}],
        "desiredStatus": "STOPPED" if last_status == "STOPPED" else "RUNNING",
        "createdAt": created_at,
    }
    if service_name:
        spec["serviceName"] = service_name
        spec["deploymentId"] = f"ecs-svc/{revision}"
    if stopped_reason:
        spec["stoppedReason"], spec["stopCode"] = stopped_reason, "ServiceSchedulerInitiated"
    observed: dict[str, Any] = {"lastStatus": last_status}
    if host_port is not None:
        observed["networkBindings"] = [
            {"bindIP": "127.0.0.1", "containerPort": 8080, "hostPort": host_port, "protocol": "tcp"}
        ]
    status: dict[str, Any] = {"lastStatus": last_status, "containers": {"web": observed}, "healthStatus": "HEALTHY"}
    if registrations is not None:
        status["registrations"] = registrations
    store.put(SCOPE, task.KIND, f"shop/{task_id}", {"spec": spec, "status": status})
    return arn


def put_load_balancer(store: Store, *, bound_port: int | None = 18080, error: str | None = None) -> None:
    store.put(
        SCOPE,
        load_balancer.KIND,
        "app/front/00000000000000aa",
        {
            "spec": {
                "LoadBalancerArn": LB_ARN,
                "LoadBalancerName": "front",
                "Type": "application",
                "DNSName": "front.elb.localhost",
            },
            "status": {},
        },
    )
    status: dict[str, Any] = {}
    if bound_port is not None:
        status = {"BoundPort": bound_port, "BoundAddress": "127.0.0.1"}
    if error is not None:
        status["Error"] = error
    store.put(
        SCOPE,
        listener.KIND,
        "app/front/00000000000000aa/00000000000000bb",
        {
            "spec": {
                "ListenerArn": LISTENER_ARN,
                "LoadBalancerArn": LB_ARN,
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
            },
            "status": status,
        },
    )


def put_rule(store: Store, priority: int, conditions: list[dict[str, Any]], target_group_arn: str = TG_ARN) -> None:
    rule_id = f"app/front/00000000000000aa/00000000000000bb/{priority:016x}"
    store.put(
        SCOPE,
        rule.KIND,
        rule_id,
        {
            "spec": {
                "RuleArn": f"{ELB}:listener-rule/{rule_id}",
                "ListenerArn": LISTENER_ARN,
                "Priority": priority,
                "IsDefault": False,
                "Conditions": conditions,
                "Actions": [{"Type": "forward", "TargetGroupArn": target_group_arn}],
            },
            "status": {},
        },
    )


def put_target_group(
    store: Store, targets: dict[str, dict[str, Any]], health: dict[str, dict[str, Any]], name: str = "web"
) -> None:
    """``targets``/``health``: target key → the spec entry / the judged entry."""
    arn = TG_ARN if name == "web" else f"{ELB}:targetgroup/{name}/00000000000000dd"
    store.put(
        SCOPE,
        target_group.KIND,
        arn.split("targetgroup/", 1)[1],
        {
            "spec": {
                "TargetGroupArn": arn,
                "TargetGroupName": name,
                "Protocol": "HTTP",
                "Port": 8080,
                "TargetType": "ip",
                "Attributes": {"deregistration_delay.timeout_seconds": "10"},
                "Targets": targets,
            },
            "status": {"Targets": health},
        },
    )
