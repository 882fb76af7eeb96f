"""A web service behind the embedded Application Load Balancer, for the end-to-end tests.

``web_behind_alb``: an ALB, an ``ip`` target group with fast health checks (5 s, 2 checks),
an HTTP listener, and a service of 3 awsvpc tasks of the test web image registered in it,
all healthy. Yields the clients, the target group ARN and the listener's bound port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import client, wait_until

IMAGE = "ecsemu-test/web:latest"  # built by scripts/build-test-images.sh
WAIT = {"Delay": 1, "MaxAttempts": 90}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}


def bound_port(endpoint: str, listener_arn: str) -> int | None:
    """Where the load balancer listens for the listener (``GET /_ecsemu/listeners``), once bound."""
    listeners = requests.get(f"{endpoint}/_ecsemu/listeners", timeout=5).json()["listeners"]
    return next((entry["boundPort"] for entry in listeners if entry["listenerArn"] == listener_arn), None)


def listener_port(elbv2: Any, listener_arn: str) -> int:
    """The listener's bound port, asked of the emulator ``elbv2`` talks to."""
    endpoint = elbv2.meta.endpoint_url
    return int(wait_until(lambda: bound_port(endpoint, listener_arn), what="the listener to be bound"))


def answer(port: int) -> dict[str, Any] | None:
    try:
        response = requests.get(f"http://127.0.0.1:{port}/", timeout=3)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def create_web_behind_alb(
    ecs: Any, elbv2: Any, *, name: str, cluster: str, listener_port: int, desired: int, stop_timeout: int = 5
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An ALB, an ``ip`` target group with fast health checks (5 s, 2 checks, 10 s draining),
    an HTTP listener on ``listener_port``, and a Fargate service ``name`` of ``desired`` web
    tasks in ``cluster`` registered in it: (load balancer, target group, listener)."""
    lb = elbv2.create_load_balancer(Name=name, Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2,
    )["TargetGroups"][0]  # fmt: skip
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}]
    )
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=listener_port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )["Listeners"][0]  # fmt: skip
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[
            {"name": "web", "image": IMAGE, "portMappings": [{"containerPort": 8080}], "stopTimeout": stop_timeout}
        ],
    )  # fmt: skip
    ecs.create_service(
        cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=desired, launchType="FARGATE",
        networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=0,
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 8080}],
    )  # fmt: skip
    return lb, tg, listener


@pytest.fixture
def web_behind_alb(docker_ecs: Any, docker_emulator: Any) -> Iterator[dict[str, Any]]:
    ecs, elbv2 = docker_ecs, client("elbv2", docker_emulator.endpoint)
    _, tg, listener = create_web_behind_alb(ecs, elbv2, name="web", cluster="alb", listener_port=18080, desired=3)
    ecs.get_waiter("services_stable").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)
    port = listener_port(elbv2, listener["ListenerArn"])

    def all_healthy() -> bool:
        states = [
            d["TargetHealth"]["State"]
            for d in elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        ]
        return states == ["healthy"] * 3

    wait_until(all_healthy, timeout=60, what="three healthy targets")
    yield {
        "ecs": ecs,
        "elbv2": elbv2,
        "tg": tg["TargetGroupArn"],
        "port": port,
        "namespace": docker_emulator.runtime.namespace,
    }
    ecs.update_service(cluster="alb", service="web", desiredCount=0)
    ecs.delete_service(cluster="alb", service="web", force=True)
    ecs.get_waiter("services_inactive").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)


class SteadyLoad:
    """Clients that send ``GET /`` to a listener without pause, as a context manager: it
    returns once requests flow, and stops the clients on exit. ``versions`` holds the
    ``version`` of every 200 answer, ``failures`` every other answer or error."""

    def __init__(self, port: int, clients: int = 2) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._clients = [threading.Thread(target=self._send) for _ in range(clients)]

    def _send(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            try:
                response = session.get(self.url, timeout=5)
                if response.status_code == 200:
                    self.versions.append(response.json()["version"])
                else:
                    self.failures.append(f"HTTP {response.status_code}")
            except requests.RequestException as error:
                self.failures.append(repr(error))

    def more(self, count: int = 20, what: str = "more requests") -> None:
        """Wait until ``count`` more requests were answered."""
        seen = len(self.versions)
        wait_until(lambda: len(self.versions) > seen + count, what=what)

    def __enter__(self) -> SteadyLoad:
        for client_thread in self._clients:
            client_thread.start()
        self.more(what="the load to flow")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for client_thread in self._clients:
            client_thread.join(timeout=10)


def weighted_listener(elbv2: Any, lb_arn: str, blue: str, green: str, port: int) -> tuple[str, str]:
    """A listener whose default rule forwards blue 100 / green 0: its ARN, and that rule's ARN
    (the production listener rule a blue/green service moves)."""
    weighted = {"TargetGroups": [{"TargetGroupArn": blue, "Weight": 100}, {"TargetGroupArn": green, "Weight": 0}]}
    listener = elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "ForwardConfig": weighted}],
    )["Listeners"][0]
    rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    return str(listener["ListenerArn"]), str(next(r for r in rules if r["IsDefault"])["RuleArn"])


def create_blue_green_service(ecs: Any, cluster: str, definition: str, blue: str, green: str, rule: str) -> None:
    """A BLUE_GREEN service of 2 awsvpc tasks, blue first, moving ``rule`` (no bake time)."""
    ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=definition, desiredCount=2, launchType="FARGATE",
        networkConfiguration=NETWORK, deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
        loadBalancers=[{
            "targetGroupArn": blue, "containerName": "web", "containerPort": 8080,
            "advancedConfiguration": {
                "alternateTargetGroupArn": green, "productionListenerRule": rule,
                "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructure",
            },
        }],
    )  # fmt: skip
