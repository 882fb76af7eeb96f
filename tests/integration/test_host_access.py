"""Host access is closed by default, through the API (issue 11, finding 1).

RegisterTaskDefinition refuses, with ClientException and nothing stored, Docker volumes whose
driver or driver options reach the host (``type: none, o: bind, device: <dir>``; any plugin)
and environment files named by a local path; RunTask and StartTask refuse such environment
files in container overrides. The texts tell nothing about the host. With
``--allow-host-access`` the same requests are accepted.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from api_state import refused
from botocore.exceptions import ClientError
from conftest import client

from ecsemu.app import Emulator
from ecsemu.config import Config

APP = {"name": "app", "image": "nginx:latest", "memory": 128}

BIND_VOLUME = {
    "name": "hostdir",
    "dockerVolumeConfiguration": {"scope": "task", "driver": "local", "driverOpts": {"type": "none", "o": "bind", "device": "/etc"}},
}
REFUSED: dict[str, dict[str, Any]] = {
    "local bind of a host directory": {"volumes": [BIND_VOLUME]},
    "local bind without a type": {
        "volumes": [{"name": "v", "dockerVolumeConfiguration": {"driverOpts": {"o": "bind", "device": "/root"}}}]
    },
    "a volume plugin": {"volumes": [{"name": "v", "dockerVolumeConfiguration": {"driver": "local-persist"}}]},
    "an environment file on the host": {
        "containerDefinitions": [{**APP, "environmentFiles": [{"value": "/etc/shadow", "type": "s3"}]}]
    },
}


def register(ecs: Any, **members: Any) -> dict[str, Any]:
    members.setdefault("containerDefinitions", [dict(APP)])
    answer: dict[str, Any] = ecs.register_task_definition(family="web", **members)
    return answer


@pytest.mark.parametrize("members", REFUSED.values(), ids=REFUSED.keys())
def test_host_reaching_task_definitions_are_refused(ecs: Any, emulator: Emulator, members: dict[str, Any]) -> None:
    with refused(emulator, "ClientException"):
        register(ecs, **copy.deepcopy(members))


def test_refusals_do_not_tell_whether_a_host_path_exists(ecs: Any, emulator: Emulator) -> None:
    messages = set()
    for path in ("/etc/passwd", "/no/such/file"):
        with pytest.raises(ClientError) as caught:
            register(ecs, containerDefinitions=[{**APP, "environmentFiles": [{"value": path, "type": "s3"}]}])
        messages.add(caught.value.response["Error"]["Message"].replace(path, "<path>"))
    assert len(messages) == 1, messages
    assert "--allow-host-access" in messages.pop()


def test_a_tmpfs_docker_volume_and_an_s3_environment_file_are_accepted(ecs: Any) -> None:
    tmpfs = {"name": "ram", "dockerVolumeConfiguration": {"scope": "task", "driverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=64m"}}}
    s3 = {**APP, "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}]}
    assert register(ecs, volumes=[tmpfs], containerDefinitions=[s3])["taskDefinition"]["revision"] == 1


def test_run_task_overrides_naming_a_host_file_are_refused(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="c")
    register(ecs)
    overrides = {"containerOverrides": [{"name": "app", "environmentFiles": [{"value": "/etc/shadow", "type": "s3"}]}]}
    with refused(emulator, "ClientException"):
        ecs.run_task(cluster="c", taskDefinition="web", overrides=overrides)
    instance = ecs.register_container_instance(cluster="c")["containerInstance"]["containerInstanceArn"]
    with refused(emulator, "ClientException"):
        ecs.start_task(cluster="c", taskDefinition="web", overrides=overrides, containerInstances=[instance])
    assert ecs.list_tasks(cluster="c")["taskArns"] == []


@pytest.fixture(scope="module")
def allowing_emulator() -> Iterator[Emulator]:
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="simulated", allow_host_access=True))
    instance.start()
    yield instance
    instance.shutdown()


def test_with_allow_host_access_they_are_accepted(allowing_emulator: Emulator) -> None:
    ecs = client("ecs", allowing_emulator.endpoint)
    for members in REFUSED.values():
        register(ecs, **copy.deepcopy(members))
    ecs.create_cluster(clusterName="c")
    overrides = {"containerOverrides": [{"name": "app", "environmentFiles": [{"value": "/tmp/app.env", "type": "s3"}]}]}
    assert ecs.run_task(cluster="c", taskDefinition="web:1", overrides=overrides)["tasks"]
