"""Unit tests of ecsemu.taskenv.endpoints: the WSGI layer in front of the gateway, called with
plain environ dicts, on task records made through the ECS provider and a fake TaskReader."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from ecsemu.model.logs import LogStore
from ecsemu.taskenv import tokens
from ecsemu.taskenv.awslogs import AwsLogsWriter
from ecsemu.taskenv.endpoints import CREDENTIALS_LIFETIME_S, TaskEndpoints
from ecsemu.taskenv.environment import TaskEnvironment

from .task_records import KEY, ROLE, Tasks

DOCKER_ID = "f00d" * 16
SIDE_ID = "beef" * 16


class FakeReader:
    """What the docker runtime answers of a task's containers."""

    def __init__(self) -> None:
        self.stats_asked: list[tuple[str, str]] = []

    def task_details(self, task_arn: str) -> dict[str, dict[str, Any]]:
        return {
            "main": {
                "Id": DOCKER_ID,
                "Name": "/ecs-main",
                "Image": "sha256:aa",
                "Config": {"Labels": {"ecsemu.x": "1", "a": "b"}},
            },
            "side": {"Id": SIDE_ID, "Name": "/ecs-side", "Image": "sha256:bb", "Config": {"Labels": {}}},
        }

    def container_stats(self, task_arn: str, container_name: str) -> dict[str, Any] | None:
        self.stats_asked.append((task_arn, container_name))
        return {"name": container_name, "cpu_stats": {}, "memory_stats": {"usage": 1}}


def passed_through(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"gateway:" + str(environ["PATH_INFO"]).encode()]


class World:
    def __init__(self) -> None:
        self.tasks = Tasks()
        self.reader = FakeReader()
        self.environment = TaskEnvironment(
            self.tasks.store, KEY, serves_endpoints=False, writer=AwsLogsWriter(LogStore(self.tasks.store))
        )
        self.app = TaskEndpoints(passed_through, self.environment, self.reader)

    def call(self, path: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
        environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method, **headers}
        seen: list[Any] = []
        body = b"".join(self.app(environ, lambda status, response_headers: seen.append((status, response_headers))))
        status, response_headers = seen[0]
        return int(status.split()[0]), dict(response_headers), body

    def get(self, path: str) -> tuple[int, Any]:
        status, headers, body = self.call(path)
        assert headers["Content-Type"] == "application/json" and int(headers["Content-Length"]) == len(body)
        return status, json.loads(body)


@pytest.fixture
def world() -> World:
    return World()


def two_containers(world: World, **definition: Any) -> str:
    return world.tasks.run(
        "web",
        [{"name": "main", "image": "busybox", "memory": 64}, {"name": "side", "image": "nginx", "memory": 32}],
        **definition,
    )


def test_v4_container_and_task_documents(world: World) -> None:
    arn = two_containers(world)
    token = tokens.container_token(KEY, arn, "main")
    status, container = world.get(f"/v4/{token}")
    assert status == 200
    assert container["Name"] == "main" and container["DockerId"] == DOCKER_ID and container["Labels"] == {"a": "b"}
    assert container["ContainerARN"].startswith("arn:aws:ecs:us-east-1:123456789012:container/")
    status, task = world.get(f"/v4/{token}/task")
    assert status == 200
    assert task["TaskARN"] == arn and task["Family"] == "web" and task["Revision"] == "1"
    assert [c["DockerId"] for c in task["Containers"]] == [DOCKER_ID, SIDE_ID]


def test_v4_stats_of_the_container_and_of_the_task(world: World) -> None:
    arn = two_containers(world)
    token = tokens.container_token(KEY, arn, "side")
    status, stats = world.get(f"/v4/{token}/stats")
    assert status == 200 and stats["name"] == "side"
    status, task_stats = world.get(f"/v4/{token}/task/stats")
    assert status == 200
    assert set(task_stats) == {DOCKER_ID, SIDE_ID}  # keyed by Docker id
    assert task_stats[DOCKER_ID]["name"] == "main"


def test_v3_is_the_subset(world: World) -> None:
    arn = two_containers(world)
    token = tokens.container_token(KEY, arn, "main")
    status, container = world.get(f"/v3/{token}")
    assert status == 200 and container["DockerId"] == DOCKER_ID and "ContainerARN" not in container
    status, task = world.get(f"/v3/{token}/task")
    assert status == 200 and task["TaskARN"] == arn and "LaunchType" not in task
    assert "ContainerARN" not in task["Containers"][0]
    status, stats = world.get(f"/v3/{token}/stats")
    assert status == 200 and stats["name"] == "main"


def test_unknown_tokens_and_paths_are_404(world: World) -> None:
    arn = two_containers(world, taskRoleArn=ROLE)
    assert world.get("/v4/" + "0" * 32 + "-0000000000")[0] == 404
    assert world.get("/v4/" + "0" * 32 + "-0000000000/task")[0] == 404
    # A credentials token is not a metadata token.
    assert world.get(f"/v4/{tokens.credentials_token(KEY, arn)}")[0] == 404
    assert world.get(f"/v4/{tokens.container_token(KEY, arn, 'main')}/elsewhere")[0] == 404


def test_a_task_gone_from_the_store_is_404(world: World) -> None:
    arn = two_containers(world)
    token = tokens.container_token(KEY, arn, "main")
    assert world.get(f"/v4/{token}")[0] == 200
    world.tasks.store.reset()
    assert world.get(f"/v4/{token}")[0] == 404


def test_credentials_answer_what_the_sdks_read(world: World) -> None:
    arn = two_containers(world, taskRoleArn=ROLE)
    before = time.time()
    status, credentials = world.get(f"/v2/credentials/{tokens.credentials_token(KEY, arn)}")
    assert status == 200
    assert set(credentials) == {"RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert credentials["RoleArn"] == ROLE
    assert re.fullmatch(r"ASIA123456789012[A-Z0-9]{4}", credentials["AccessKeyId"])
    assert len(credentials["SecretAccessKey"]) == 40 and len(credentials["Token"]) == 356
    expires = datetime.strptime(credentials["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before + CREDENTIALS_LIFETIME_S - 2 <= expires <= time.time() + CREDENTIALS_LIFETIME_S + 1
    # Stable for the task.
    again = world.get(f"/v2/credentials/{tokens.credentials_token(KEY, arn)}")[1]
    assert (again["AccessKeyId"], again["SecretAccessKey"], again["Token"]) == (
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["Token"],
    )  # fmt: skip


def test_credentials_are_refused_for_unknown_tokens_no_role_and_stopped_tasks(world: World) -> None:
    refused = {"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"}
    # (Tasks first: the token index is rebuilt from the store at most once a second.)
    no_role = world.tasks.run("plain")
    with_role = two_containers(world, taskRoleArn=ROLE)
    assert world.get("/v2/credentials/00000000-0000-0000-0000-000000000000") == (400, refused)
    assert world.get(f"/v2/credentials/{tokens.credentials_token(KEY, no_role)}") == (400, refused)
    # A container token is not a credentials token.
    assert world.get(f"/v2/credentials/{tokens.container_token(KEY, with_role, 'main')}") == (400, refused)
    assert world.get(f"/v2/credentials/{tokens.credentials_token(KEY, with_role)}")[0] == 200
    world.tasks.set_last_status(with_role, "STOPPED")
    assert world.get(f"/v2/credentials/{tokens.credentials_token(KEY, with_role)}") == (400, refused)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_only_get_and_head_are_answered(world: World, method: str) -> None:
    arn = two_containers(world, taskRoleArn=ROLE)
    for path in (
        f"/v4/{tokens.container_token(KEY, arn, 'main')}",
        f"/v2/credentials/{tokens.credentials_token(KEY, arn)}",
    ):
        status, _, body = world.call(path, method)
        assert status == 405 and b"AccessKeyId" not in body


def test_head_is_answered(world: World) -> None:
    arn = two_containers(world)
    assert world.call(f"/v4/{tokens.container_token(KEY, arn, 'main')}", "HEAD")[0] == 200


def test_a_request_with_an_origin_is_refused(world: World) -> None:
    arn = two_containers(world, taskRoleArn=ROLE)
    for path in (
        f"/v4/{tokens.container_token(KEY, arn, 'main')}",
        f"/v2/credentials/{tokens.credentials_token(KEY, arn)}",
    ):
        status, _, body = world.call(path, HTTP_ORIGIN="http://evil.example")
        assert status == 403 and b"AccessKeyId" not in body and b"DockerId" not in body
        assert world.call(path, "POST", HTTP_ORIGIN="http://evil.example")[0] == 403


@pytest.mark.parametrize("path", ["/", "/_ecsemu/health", "/v4", "/v2/credentials", "/v1/metadata", "/v5/abc"])
def test_other_paths_pass_through_to_the_gateway(world: World, path: str) -> None:
    status, _, body = world.call(path, "POST")
    assert status == 200 and body == b"gateway:" + path.encode()


def test_without_a_runtime_reader(world: World) -> None:
    arn = two_containers(world)
    bare = TaskEndpoints(passed_through, world.environment, None)
    token = tokens.container_token(KEY, arn, "main")
    assert bare.answer(f"/v4/{token}/task")[0] == 200
    assert bare.answer(f"/v4/{token}/stats") == (200, None)
    assert bare.answer(f"/v4/{token}/task/stats") == (200, {})
