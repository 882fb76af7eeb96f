"""Unit tests of ecsemu.taskenv.environment: the variables each container is given (on stored task
records and task definitions made through the ECS provider), secrets, awslogs checks, the token
index (also rebuilt from the store by a fresh TaskEnvironment) and the log sink's side."""

from __future__ import annotations

import json
import socket
from typing import Any, cast

import pytest

from ecsemu.context import Scope
from ecsemu.model.logs import LogStore
from ecsemu.runtime.base import LaunchRefused
from ecsemu.services.secretsmanager.provider import SecretsManagerProvider
from ecsemu.services.ssm.provider import SsmProvider
from ecsemu.taskenv import tokens
from ecsemu.taskenv.awslogs import MISSING_GROUP_REASON, AwsLogsWriter
from ecsemu.taskenv.environment import ENDPOINT, TaskEnvironment, TaskRef
from ecsemu.taskenv.relay import EndpointRelay

from .task_records import CONTEXT, KEY, ROLE, SCOPE, Tasks

SECRETS_PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: "


class FakeRelay:
    def __init__(self) -> None:
        self.served: list[tuple[str, socket.socket]] = []
        self.withdrawn: list[str] = []

    def serve(self, task_arn: str, listener: socket.socket) -> None:
        self.served.append((task_arn, listener))

    def withdraw(self, task_arn: str) -> None:
        self.withdrawn.append(task_arn)


@pytest.fixture
def tasks() -> Tasks:
    return Tasks()


def environment_of(
    tasks: Tasks, *, serves: bool = True, aws_endpoint: bool = True, relay: Any = None
) -> TaskEnvironment:
    return TaskEnvironment(
        tasks.store,
        KEY,
        serves_endpoints=serves,
        aws_endpoint_in_tasks=aws_endpoint,
        relay=cast(EndpointRelay, relay or FakeRelay()),
        writer=AwsLogsWriter(LogStore(tasks.store)),
    )


def variables(env: TaskEnvironment, tasks: Tasks, task_arn: str, name: str = "main") -> dict[str, str]:
    return env.environment(tasks.launch(task_arn), tasks.container(task_arn, name))


# --- TaskRef ----------------------------------------------------------------------------------


def test_task_ref_of_a_task_arn() -> None:
    ref = TaskRef.of("arn:aws:ecs:eu-west-1:210987654321:task/prod/0123abcd")
    assert ref == TaskRef(
        "arn:aws:ecs:eu-west-1:210987654321:task/prod/0123abcd", Scope("210987654321", "eu-west-1"), "prod/0123abcd"
    )
    assert ref is not None and ref.task_id == "0123abcd"


@pytest.mark.parametrize(
    "text",
    ["", "not an arn", "arn:aws:ecs:us-east-1:123456789012:service/default/web", "arn:aws:ecs:us-east-1:123456789012"],
)
def test_task_ref_of_anything_else_is_none(text: str) -> None:
    assert TaskRef.of(text) is None


# --- environment ------------------------------------------------------------------------------


def test_metadata_uris_name_the_container_by_its_token(tasks: Tasks) -> None:
    arn = tasks.run(
        "web", [{"name": "main", "image": "busybox", "memory": 64}, {"name": "side", "image": "busybox", "memory": 64}]
    )
    env = environment_of(tasks)
    main, side = variables(env, tasks, arn, "main"), variables(env, tasks, arn, "side")
    token = tokens.container_token(KEY, arn, "main")
    assert main["ECS_CONTAINER_METADATA_URI_V4"] == f"http://169.254.170.2/v4/{token}"
    assert main["ECS_CONTAINER_METADATA_URI"] == f"http://169.254.170.2/v3/{token}"
    assert side["ECS_CONTAINER_METADATA_URI_V4"].endswith(tokens.container_token(KEY, arn, "side"))
    assert main["AWS_ENDPOINT_URL"] == ENDPOINT == "http://169.254.170.2"
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in main  # no task role
    assert env.lookup(token) == (arn, "main")


def test_nothing_of_the_endpoints_when_they_are_not_served(tasks: Tasks) -> None:
    arn = tasks.run("web", taskRoleArn=ROLE)
    assert variables(environment_of(tasks, serves=False), tasks, arn) == {}
    # Without a relay the endpoints cannot be served either.
    no_relay = TaskEnvironment(
        tasks.store, KEY, serves_endpoints=True, relay=None, writer=AwsLogsWriter(LogStore(tasks.store))
    )
    assert not no_relay.serves_endpoints
    assert variables(no_relay, tasks, arn) == {}


def test_credentials_uri_with_the_definitions_task_role(tasks: Tasks) -> None:
    arn = tasks.run("web", taskRoleArn=ROLE)
    env = environment_of(tasks)
    token = tokens.credentials_token(KEY, arn)
    assert variables(env, tasks, arn)["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] == f"/v2/credentials/{token}"
    assert env.lookup(token) == (arn, None)
    ref = TaskRef.of(arn)
    assert ref is not None and env.task_role(ref) == ROLE


def test_credentials_uri_with_run_tasks_role_override(tasks: Tasks) -> None:
    other = "arn:aws:iam::123456789012:role/override"
    arn = tasks.run("web", overrides={"taskRoleArn": other})
    env = environment_of(tasks)
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in variables(env, tasks, arn)
    ref = TaskRef.of(arn)
    assert ref is not None and env.task_role(ref) == other
    # The override wins over the definition's role.
    arn = tasks.run("web2", taskRoleArn=ROLE, overrides={"taskRoleArn": other})
    ref = TaskRef.of(arn)
    assert ref is not None and env.task_role(ref) == other


def test_the_containers_own_endpoint_url_is_not_overridden(tasks: Tasks) -> None:
    arn = tasks.run(
        "web",
        [
            {
                "name": "main",
                "image": "busybox",
                "memory": 64,
                "environment": [{"name": "AWS_ENDPOINT_URL", "value": "http://mine"}],
            }
        ],
    )
    env = variables(environment_of(tasks), tasks, arn)
    assert "AWS_ENDPOINT_URL" not in env  # the container's own stays (the runtime merges ours over it)
    assert "ECS_CONTAINER_METADATA_URI_V4" in env


def test_no_endpoint_url_when_turned_off(tasks: Tasks) -> None:
    arn = tasks.run("web", taskRoleArn=ROLE)
    env = variables(environment_of(tasks, aws_endpoint=False), tasks, arn)
    assert "AWS_ENDPOINT_URL" not in env
    assert {"ECS_CONTAINER_METADATA_URI_V4", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} <= set(env)


def test_an_arn_that_is_not_a_tasks_gets_nothing(tasks: Tasks) -> None:
    arn = tasks.run("web")
    launch = tasks.launch(arn)
    odd = type(launch)(**{**launch.__dict__, "task_arn": "not-an-arn"})
    assert environment_of(tasks).environment(odd, tasks.container(arn)) == {}


def test_secrets_become_variables(tasks: Tasks) -> None:
    SsmProvider(tasks.store).handle(
        CONTEXT, "PutParameter", {"Name": "/app/pw", "Value": "s3cr3t", "Type": "SecureString"}
    )
    secret = SecretsManagerProvider(tasks.store).handle(
        CONTEXT, "CreateSecret", {"Name": "app/db", "SecretString": json.dumps({"user": "admin"})}
    )["ARN"]
    arn = tasks.run(
        "web",
        [
            {
                "name": "main",
                "image": "busybox",
                "memory": 64,
                "secrets": [{"name": "PW", "valueFrom": "/app/pw"}, {"name": "USER", "valueFrom": f"{secret}:user::"}],
            }
        ],
    )
    env = variables(environment_of(tasks, serves=False), tasks, arn)
    assert env == {"PW": "s3cr3t", "USER": "admin"}


def test_a_missing_secret_refuses_the_launch_with_ecs_text(tasks: Tasks) -> None:
    arn = tasks.run(
        "web", [{"name": "main", "image": "busybox", "memory": 64, "secrets": [{"name": "X", "valueFrom": "/no/such"}]}]
    )
    with pytest.raises(LaunchRefused) as refused:
        variables(environment_of(tasks), tasks, arn)
    assert refused.value.container == "main"
    assert refused.value.reason.startswith(
        SECRETS_PREFIX + "execution resource retrieval failed: unable to retrieve secrets from ssm"
    )


def awslogs(**options: str) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/ecs/web",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "app",
            **options,
        },
    }


def test_a_missing_log_group_refuses_the_launch(tasks: Tasks) -> None:
    arn = tasks.run("web", [{"name": "main", "image": "busybox", "memory": 64, "logConfiguration": awslogs()}])
    with pytest.raises(LaunchRefused) as refused:
        variables(environment_of(tasks), tasks, arn)
    assert refused.value.reason == MISSING_GROUP_REASON and refused.value.container == "main"


def test_create_group_makes_the_log_group(tasks: Tasks) -> None:
    container = {
        "name": "main",
        "image": "busybox",
        "memory": 64,
        "logConfiguration": awslogs(**{"awslogs-create-group": "true"}),
    }
    arn = tasks.run("web", [container])
    variables(environment_of(tasks), tasks, arn)
    assert LogStore(tasks.store).group_exists(SCOPE, "/ecs/web")


def test_a_bad_multiline_pattern_refuses_the_launch(tasks: Tasks) -> None:
    options = {"awslogs-create-group": "true", "awslogs-multiline-pattern": "(["}
    arn = tasks.run("web", [{"name": "main", "image": "busybox", "memory": 64, "logConfiguration": awslogs(**options)}])
    with pytest.raises(
        LaunchRefused, match=r"^ResourceInitializationError: failed to validate logger args: awslogs-multiline-pattern"
    ):
        variables(environment_of(tasks), tasks, arn)


# --- lookup -----------------------------------------------------------------------------------


def test_a_fresh_environment_rebuilds_the_token_index_from_the_store(tasks: Tasks) -> None:
    first = tasks.run(
        "web", [{"name": "main", "image": "busybox", "memory": 64}, {"name": "side", "image": "busybox", "memory": 64}]
    )
    second = tasks.run("api", taskRoleArn=ROLE)
    restarted = environment_of(tasks)  # nothing remembered: as after a restart
    assert restarted.lookup(tokens.container_token(KEY, first, "side")) == (first, "side")
    assert restarted.lookup(tokens.container_token(KEY, second, "main")) == (second, "main")
    assert restarted.lookup(tokens.credentials_token(KEY, second)) == (second, None)
    assert restarted.lookup("0" * 32 + "-0000000000") is None
    # Another key names nothing.
    assert restarted.lookup(tokens.container_token(bytes(32), first, "main")) is None


def test_lookup_of_an_unknown_token_is_none(tasks: Tasks) -> None:
    assert environment_of(tasks).lookup("nothing") is None


# --- endpoints' sockets ----------------------------------------------------------------------


def test_network_ready_and_gone_reach_the_relay(tasks: Tasks) -> None:
    relay = FakeRelay()
    env = environment_of(tasks, relay=relay)
    with socket.socket() as listener:
        env.network_ready("arn:task", listener)
        env.network_gone("arn:task")
        assert relay.served == [("arn:task", listener)] and relay.withdrawn == ["arn:task"]


def test_without_a_relay_the_socket_is_closed(tasks: Tasks) -> None:
    env = TaskEnvironment(
        tasks.store, KEY, serves_endpoints=False, relay=None, writer=AwsLogsWriter(LogStore(tasks.store))
    )
    listener = socket.socket()
    env.network_ready("arn:task", listener)
    assert listener.fileno() == -1
    env.network_gone("arn:task")


# --- the log sink ----------------------------------------------------------------------------


def test_log_lines_go_to_the_containers_stream(tasks: Tasks) -> None:
    container = {
        "name": "main",
        "image": "busybox",
        "memory": 64,
        "logConfiguration": awslogs(**{"awslogs-create-group": "true"}),
    }
    arn = tasks.run("web", [container])
    env = environment_of(tasks)
    variables(env, tasks, arn)
    ref = TaskRef.of(arn)
    assert ref is not None
    assert env.resume_after(arn, "main", "c0ffee") is None
    t0 = 1_800_000_000_000_000_000
    env.log_lines(arn, "main", [(t0, "one"), (t0 + 1_000_000, "two")])
    env.log_ended(arn, "main")
    logs = LogStore(tasks.store)
    stream = f"app/main/{ref.task_id}"
    stored = logs.read(SCOPE, "/ecs/web", stream, start=None, end=None, limit=10)
    assert [(e.timestamp, e.message) for e in stored] == [(t0 // 1_000_000, "one"), (t0 // 1_000_000 + 1, "two")]
    # As after a restart: a fresh environment resumes after what is stored.
    assert environment_of(tasks).resume_after(arn, "main", "c0ffee") == t0 + 1_999_999


def test_resume_after_is_none_for_other_drivers_and_unknown_tasks(tasks: Tasks) -> None:
    arn = tasks.run("web")
    env = environment_of(tasks)
    assert env.resume_after(arn, "main", "c0ffee") is None
    assert env.resume_after(arn, "nobody", "c0ffee") is None
    assert env.resume_after("not-an-arn", "main", "c0ffee") is None
    env.log_lines(arn, "main", [(1, "ignored")])  # nothing registered: dropped quietly
    env.log_ended(arn, "main")
