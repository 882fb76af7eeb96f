"""An ECS service behind the embedded Application Load Balancer, with boto3 only, as a user
would do it: traffic spreads over the tasks, an unhealthy task leaves the rotation and is
replaced, and scaling in under steady load loses no request."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from conftest import client, wait_until

pytestmark = pytest.mark.docker

IMAGE = "ecsemu-test/web:latest"
WAIT = {"Delay": 1, "MaxAttempts": 90}
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}


def _listener_port(elbv2: Any, listener_arn: str) -> int:
    def bound() -> str | None:
        tags = elbv2.describe_tags(ResourceArns=[listener_arn])["TagDescriptions"][0]["Tags"]
        return next((t["Value"] for t in tags if t["Key"] == "ecsemu:bound-port"), None)

    return int(wait_until(bound, what="the listener to be bound"))


def _answer(port: int) -> dict[str, Any] | None:
    try:
        response = requests.get(f"http://127.0.0.1:{port}/", timeout=3)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.fixture
def web_behind_alb(docker_ecs: Any, docker_emulator: Any) -> dict[str, Any]:
    ecs, elbv2 = docker_ecs, client("elbv2", docker_emulator.endpoint)
    lb = elbv2.create_load_balancer(Name="web", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name="web", Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2,
    )["TargetGroups"][0]  # fmt: skip
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"], Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}]
    )
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=18080,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )["Listeners"][0]  # fmt: skip
    ecs.create_cluster(clusterName="alb")
    ecs.register_task_definition(
        family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": IMAGE, "portMappings": [{"containerPort": 8080}], "stopTimeout": 5}],
    )  # fmt: skip
    ecs.create_service(
        cluster="alb", serviceName="web", taskDefinition="web", desiredCount=3, launchType="FARGATE",
        networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=0,
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 8080}],
    )  # fmt: skip
    ecs.get_waiter("services_stable").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)
    port = _listener_port(elbv2, listener["ListenerArn"])

    def all_healthy() -> bool:
        states = [d["TargetHealth"]["State"] for d in elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]]
        return states == ["healthy"] * 3

    wait_until(all_healthy, timeout=60, what="three healthy targets")
    yield {"ecs": ecs, "elbv2": elbv2, "tg": tg["TargetGroupArn"], "port": port}
    ecs.update_service(cluster="alb", service="web", desiredCount=0)
    ecs.delete_service(cluster="alb", service="web", force=True)
    ecs.get_waiter("services_inactive").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)


def _task_arns(ecs: Any) -> set[str]:
    return set(ecs.list_tasks(cluster="alb", serviceName="web")["taskArns"])


def test_requests_spread_over_every_task(web_behind_alb: dict[str, Any]) -> None:
    ecs, port = web_behind_alb["ecs"], web_behind_alb["port"]
    tasks = _task_arns(ecs)
    seen: set[str] = set()
    wait_until(lambda: seen.add((_answer(port) or {}).get("taskArn", "")) or tasks <= seen, timeout=30, what="all three tasks to answer")
    events = [e["message"] for e in ecs.describe_services(cluster="alb", services=["web"])["services"][0]["events"]]
    assert f"(service web) registered 1 targets in (target-group {web_behind_alb['tg']})" in events


def test_unhealthy_task_leaves_the_rotation_and_is_replaced(web_behind_alb: dict[str, Any]) -> None:
    ecs, elbv2, tg = web_behind_alb["ecs"], web_behind_alb["elbv2"], web_behind_alb["tg"]
    victim = ecs.describe_tasks(cluster="alb", tasks=sorted(_task_arns(ecs))[:1])["tasks"][0]
    own_port = victim["containers"][0]["networkBindings"][0]["hostPort"]
    assert requests.get(f"http://127.0.0.1:{own_port}/health/fail", timeout=5).ok

    def replaced() -> bool:
        task = ecs.describe_tasks(cluster="alb", tasks=[victim["taskArn"]])["tasks"][0]
        return task["desiredStatus"] == "STOPPED" and len(_task_arns(ecs)) == 3

    wait_until(replaced, timeout=90, what="the unhealthy task to be replaced")
    stopped = ecs.describe_tasks(cluster="alb", tasks=[victim["taskArn"]])["tasks"][0]
    assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
    # While it drains and after, it gets no traffic: every answer comes from another task.
    for _ in range(20):
        answer = _answer(web_behind_alb["port"])
        assert answer is not None and answer["taskArn"] != victim["taskArn"]
    del elbv2


def test_scale_in_under_load_loses_no_request(web_behind_alb: dict[str, Any]) -> None:
    ecs, port = web_behind_alb["ecs"], web_behind_alb["port"]
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def load() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                response = session.get(f"http://127.0.0.1:{port}/", timeout=5)
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}")
                answered[0] += 1
            except requests.RequestException as error:
                failures.append(repr(error))

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: answered[0] > 20, what="the load to flow")
        ecs.update_service(cluster="alb", service="web", desiredCount=1)
        ecs.get_waiter("services_stable").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)
        wait_until(lambda: len(_task_arns(ecs)) == 1, timeout=60, what="one task left")
        settled = answered[0]
        wait_until(lambda: answered[0] > settled + 20, what="more requests after the scale-in")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
    assert failures == []
