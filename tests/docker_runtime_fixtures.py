"""Real Docker tasks for the docker runtime's tests: the ``engine``, ``tasks`` and ``runtime``
fixtures (a plugin of tests/conftest.py) and the helpers that make and wait for tasks.

Every test makes its tasks through ``tasks`` (a fresh cluster name, fresh task ids); at the
end the fixture removes, by label, every container and volume those tasks own and the
cluster's network. Containers are reached only through 127.0.0.1:<published port>. The
runtimes here use their own namespace, so an emulator on the same engine (the docker e2e
suite, another test session) neither removes these tasks as orphans nor shows us its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import pytest
import requests
from conftest import wait_until

from ecsemu.runtime import docker_spec as spec
from ecsemu.runtime.base import ObservedContainer, ObservedTask, TaskLaunch
from ecsemu.runtime.docker import DockerRuntime
from ecsemu.runtime.docker_engine import docker_available

WEB = "ecsemu-test/web:latest"
NAMESPACE = f"runtime-tests-{uuid.uuid4().hex[:8]}"
HEALTH = ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/health || exit 1"]


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    if not docker_available():
        pytest.skip("no Docker engine answers (run scripts/ensure-docker.sh)")
    client = docker.from_env()
    try:
        client.images.get(WEB)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{WEB} is missing: run scripts/build-test-images.sh")
    yield client
    client.close()


@dataclass
class Tasks:
    engine: Any
    cluster: str = field(default_factory=lambda: f"rt-{uuid.uuid4().hex[:8]}")
    arns: list[str] = field(default_factory=list)

    def new(self, *containers: dict[str, Any], network_mode: str = "awsvpc", **extra: Any) -> TaskLaunch:
        task_id = uuid.uuid4().hex
        arn = f"arn:aws:ecs:us-east-1:123456789012:task/{self.cluster}/{task_id}"
        self.arns.append(arn)
        return TaskLaunch(arn, task_id, self.cluster, "web", 1, network_mode, list(containers), **extra)

    def docker_containers(self, arn: str) -> list[dict[str, Any]]:
        return list(self.engine.api.containers(all=True, filters={"label": f"{spec.TASK_ARN}={arn}"}))

    def clean_up(self) -> None:
        api = self.engine.api
        for arn in self.arns:
            for container in self.docker_containers(arn):
                api.remove_container(container["Id"], force=True, v=True)
            for volume in api.volumes(filters={"label": f"{spec.TASK_ARN}={arn}"}).get("Volumes") or []:
                api.remove_volume(volume["Name"], force=True)
        for network in api.networks(filters={"label": [spec.MANAGED_FILTER, f"{spec.CLUSTER}={self.cluster}"]}):
            api.remove_network(network["Id"])


@pytest.fixture
def tasks(engine: Any) -> Iterator[Tasks]:
    made = Tasks(engine)
    yield made
    made.clean_up()


@pytest.fixture
def runtime(engine: Any, tasks: Tasks) -> Iterator[DockerRuntime]:
    instance = DockerRuntime(engine, pull_timeout_s=20, namespace=NAMESPACE)
    yield instance
    instance.close()


def web(name: str = "web", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": WEB, "essential": True, "portMappings": [{"containerPort": 8080}], **extra}


def job(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": WEB, "essential": False, "command": ["sh", "-c", script], **extra}


def observed(runtime: DockerRuntime, arn: str) -> ObservedTask | None:
    return runtime.observe().get(arn)


def container(runtime: DockerRuntime, arn: str, name: str) -> ObservedContainer | None:
    task = observed(runtime, arn)
    return task.containers.get(name) if task else None


def wait_state(runtime: DockerRuntime, arn: str, name: str, state: str, timeout: float = 20) -> ObservedContainer:
    def reached() -> ObservedContainer | None:
        found = container(runtime, arn, name)
        return found if found is not None and found.state == state else None

    result: ObservedContainer = wait_until(reached, timeout=timeout, what=f"{name} to be {state}")
    return result


def host_port(found: ObservedContainer, container_port: int = 8080) -> int:
    return int(next(b["hostPort"] for b in found.network_bindings if b["containerPort"] == container_port))


def get(port: int, path: str = "/", timeout: float = 3) -> requests.Response | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=timeout)
    except requests.RequestException:
        return None


def get_ok(port: int, path: str = "/") -> requests.Response:
    response: requests.Response = wait_until(
        lambda: (r := get(port, path)) is not None and r.ok and r, what=f"GET {path}"
    )
    return response


def started_at(engine: Any, container_id: str) -> str:
    return str(engine.api.inspect_container(container_id)["State"]["StartedAt"])
