"""Deployments of a service behind the embedded ALB, with real containers: a rolling update
under load loses no request and keeps within minimumHealthyPercent/maximumPercent; a
deployment that cannot start trips the circuit breaker and rolls back by itself."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

import pytest
from alb_fixture import WAIT, SteadyLoad, answer
from conftest import wait_until

pytestmark = pytest.mark.docker


def _register(ecs: Any, image: str) -> str:
    return str(
        ecs.register_task_definition(
            family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "web", "image": image, "portMappings": [{"containerPort": 8080}], "stopTimeout": 5}],
        )["taskDefinition"]["taskDefinitionArn"]
    )  # fmt: skip


def test_rolling_update_under_load_has_no_failed_request(web_behind_alb: dict[str, Any]) -> None:
    ecs = web_behind_alb["ecs"]
    v2 = _register(ecs, "ecsemu-test/web:v2")
    samples: list[int] = []
    in_docker: list[int] = []
    stop = threading.Event()
    # Only this emulator's containers: another emulator on the engine may run a cluster "alb" too.
    namespace = web_behind_alb["namespace"]

    def sample() -> None:
        while not stop.is_set():
            service = ecs.describe_services(cluster="alb", services=["web"])["services"][0]
            samples.append(sum(d["runningCount"] for d in service["deployments"]))
            running = subprocess.run(
                ["docker", "ps", "-q", "--filter", "label=com.amazonaws.ecs.cluster=alb", "--filter", "label=ecsemu.role=container",
                 "--filter", f"label=ecsemu.namespace={namespace}"],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            in_docker.append(len(running))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with SteadyLoad(web_behind_alb["port"]) as load:
            ecs.update_service(cluster="alb", service="web", taskDefinition=v2)
            ecs.get_waiter("services_stable").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)
            load.more(what="requests after the deployment")
    finally:
        stop.set()
        sampler.join(timeout=10)
    assert load.failures == []
    assert load.versions[0] == "v1" and set(load.versions[-20:]) == {"v2"}
    assert max(samples) <= 6  # maximumPercent 200 of 3
    assert min(samples) >= 3  # minimumHealthyPercent 100 of 3
    assert max(in_docker) <= 6  # and Docker agrees: never more containers running than that
    assert min(in_docker) >= 3
    service = ecs.describe_services(cluster="alb", services=["web"])["services"][0]
    assert [d["taskDefinition"] for d in service["deployments"]] == [v2]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"


def test_circuit_breaker_rolls_back_a_deployment_that_cannot_start(web_behind_alb: dict[str, Any]) -> None:
    ecs = web_behind_alb["ecs"]
    before = ecs.describe_services(cluster="alb", services=["web"])["services"][0]
    broken = _register(ecs, "ecsemu-test/does-not-exist:3")
    ecs.update_service(
        cluster="alb", service="web", taskDefinition=broken,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )  # fmt: skip

    def rolled_back() -> bool:
        service = ecs.describe_services(cluster="alb", services=["web"])["services"][0]
        deployments = service["deployments"]
        return (
            len(deployments) == 1
            and deployments[0]["taskDefinition"] == before["taskDefinition"]
            and deployments[0]["rolloutState"] == "COMPLETED"
        )

    wait_until(rolled_back, timeout=120, interval=0.5, what="the rollback to complete")
    service = ecs.describe_services(cluster="alb", services=["web"])["services"][0]
    messages = [e["message"] for e in service["events"]]
    assert any(m.endswith("deployment failed: tasks failed to start.") for m in messages)
    assert any(m.startswith("(service web) rolling back to deployment ecs-svc/") for m in messages)
    assert service["taskDefinition"] == before["taskDefinition"]
    assert all(answer(web_behind_alb["port"]) for _ in range(10))
