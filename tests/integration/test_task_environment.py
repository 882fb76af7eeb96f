"""Inside the task, on real containers: awslogs output in CloudWatch Logs, the metadata endpoint
(v4, v3), task-role credentials, secrets from SSM and Secrets Manager, and the AWS SDK inside a
task calling ecsemu with nothing configured by hand.

Every container here reads its endpoints with busybox's wget on 169.254.170.2 — inside its own
network namespace; the test itself only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import client, wait_until

from ecsemu.app import Emulator
from ecsemu.taskenv.awslogs import MISSING_GROUP_REASON

pytestmark = pytest.mark.docker

IMAGE = "ecsemu-test/web:latest"
SDK_IMAGE = "ecsemu-test/ecsemu:latest"  # has Python and botocore (built by scripts/build-image.sh)
REPO = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/app-role"


def awslogs(group: str, prefix: str = "app", **extra: str) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {"awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": prefix, **extra},
    }


def run_to_stop(
    ecs: Any, family: str, script: str, *, image: str = IMAGE, command: list[str] | None = None, **definition: Any
) -> dict[str, Any]:
    """Register ``family`` (one container, ``main``), run it once and wait for STOPPED."""
    container = definition.pop("container", {})
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "main",
                "image": image,
                "memory": 128,
                "command": command or ["sh", "-c", script],
                "logConfiguration": awslogs(f"/ecs/{family}", **{"awslogs-create-group": "true"}),
                **container,
            }
        ],
        **definition,
    )
    task_arn = ecs.run_task(cluster="default", taskDefinition=family)["tasks"][0]["taskArn"]

    def stopped() -> dict[str, Any] | None:
        task = ecs.describe_tasks(cluster="default", tasks=[task_arn])["tasks"][0]
        return task if task["lastStatus"] == "STOPPED" else None

    task: dict[str, Any] = wait_until(stopped, timeout=90, what=f"{family}'s task to stop")
    return task


def messages(logs: Any, group: str, stream: str) -> list[str]:
    """Every event of the stream, oldest first, following forward tokens to the end."""
    out: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        out += [event["message"] for event in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def task_id(task: dict[str, Any]) -> str:
    return str(task["taskArn"].rsplit("/", 1)[1])


@pytest.fixture
def env(docker_ecs: Any, docker_emulator: Emulator) -> tuple[Any, Any, Emulator]:
    docker_ecs.create_cluster(clusterName="default")
    return docker_ecs, client("logs", docker_emulator.endpoint), docker_emulator


def test_awslogs_lines_in_order_and_kept_after_the_container_is_gone(env: tuple[Any, Any, Emulator]) -> None:
    ecs, logs, emulator = env
    task = run_to_stop(ecs, "printer", "for i in $(seq 1 500); do echo line-$i; done; echo to-stderr >&2")
    assert task["containers"][0]["exitCode"] == 0, task
    stream = f"app/main/{task_id(task)}"
    expected = [f"line-{i}" for i in range(1, 501)]
    # All there when the task says STOPPED. Docker stamps stdout and stderr as it reads each
    # pipe, so the stderr line's place among the stdout lines is Docker's to choose.
    found = messages(logs, "/ecs/printer", stream)
    assert [m for m in found if m != "to-stderr"] == expected and found.count("to-stderr") == 1
    wait_until(
        lambda: task["taskArn"] not in emulator.runtime.observe(), timeout=60, what="the containers to be removed"
    )
    assert messages(logs, "/ecs/printer", stream) == found
    streams = logs.describe_log_streams(logGroupName="/ecs/printer")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]
    done = subprocess.run(
        ["aws", "--endpoint-url", emulator.endpoint, "--region", "us-east-1", "logs", "get-log-events",
         "--log-group-name", "/ecs/printer", "--log-stream-name", stream, "--limit", "3", "--start-from-head", "--output", "json"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "PATH": "/usr/local/bin:/usr/bin:/bin:/root/.pyenv/shims"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [e["message"] for e in json.loads(done.stdout)["events"]] == found[:3]


def test_a_last_line_without_a_newline_is_kept(env: tuple[Any, Any, Emulator]) -> None:
    """Docker writes such a line as the container exits, sometimes after a follow ended."""
    ecs, logs, _ = env
    for attempt in range(4):
        task = run_to_stop(ecs, f"nonewline{attempt}", "echo first; printf 'the end'")
        assert messages(logs, f"/ecs/nonewline{attempt}", f"app/main/{task_id(task)}") == ["first", "the end"]


def test_multiline_pattern_joins_lines_into_events(env: tuple[Any, Any, Emulator]) -> None:
    ecs, logs, _ = env
    script = "echo 'START one'; echo '  detail a'; echo '  detail b'; echo 'START two'; echo '  detail c'"
    container = {
        "logConfiguration": awslogs(
            "/ecs/multi", **{"awslogs-create-group": "true", "awslogs-multiline-pattern": "^START"}
        )
    }
    task = run_to_stop(ecs, "multi", script, container=container)
    assert messages(logs, "/ecs/multi", f"app/main/{task_id(task)}") == [
        "START one\n  detail a\n  detail b",
        "START two\n  detail c",
    ]


def test_a_missing_log_group_stops_the_task_as_ecs_does(env: tuple[Any, Any, Emulator]) -> None:
    ecs, logs, _ = env
    container = {"logConfiguration": awslogs("/ecs/never-made")}
    task = run_to_stop(ecs, "nogroup", "echo never", container=container)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == MISSING_GROUP_REASON
    assert logs.describe_log_groups(logGroupNamePrefix="/ecs/never-made")["logGroups"] == []


def test_metadata_endpoint_v4_and_v3_describe_the_task(env: tuple[Any, Any, Emulator]) -> None:
    ecs, logs, _ = env
    script = (
        "wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task; echo; wget -qO- $ECS_CONTAINER_METADATA_URI_V4; echo; "
        "wget -qO- $ECS_CONTAINER_METADATA_URI_V4/stats; echo; wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task/stats; echo; "
        "wget -qO- $ECS_CONTAINER_METADATA_URI/task; echo"
    )
    task = run_to_stop(ecs, "meta", script, container={"dockerLabels": {"team": "blue"}})
    lines = messages(logs, "/ecs/meta", f"app/main/{task_id(task)}")
    assert len(lines) == 5, lines
    v4_task, v4_container, stats, task_stats, v3_task = (json.loads(line) for line in lines)
    assert v4_task["TaskARN"] == task["taskArn"]
    assert v4_task["Family"] == "meta" and v4_task["Revision"] == "1"
    assert v4_task["DesiredStatus"] == "RUNNING" and v4_task["LaunchType"] == "EC2"
    assert v4_task["AvailabilityZone"] == "us-east-1a"
    [described] = v4_task["Containers"]
    assert described["Name"] == "main" and described["Image"] == IMAGE
    assert described["ContainerARN"] == task["containers"][0]["containerArn"]
    assert described["DockerId"] == task["containers"][0]["runtimeId"]
    assert described["Labels"]["team"] == "blue"
    assert described["Labels"]["com.amazonaws.ecs.task-arn"] == task["taskArn"]
    assert not [label for label in described["Labels"] if label.startswith("ecsemu.")]
    assert described["LogDriver"] == "awslogs" and described["LogOptions"]["awslogs-group"] == "/ecs/meta"
    assert described["Limits"] == {"CPU": 0, "Memory": 128}
    assert described["Networks"][0]["NetworkMode"] == "bridge"
    assert v4_container["DockerId"] == described["DockerId"] and v4_container["KnownStatus"] == "RUNNING"
    assert "memory_stats" in stats and "cpu_stats" in stats
    assert list(task_stats) == [described["DockerId"]]
    assert v3_task["TaskARN"] == task["taskArn"] and "ContainerARN" not in v3_task["Containers"][0]


def test_task_role_credentials_from_the_relative_uri(env: tuple[Any, Any, Emulator]) -> None:
    ecs, logs, _ = env
    script = (
        "wget -qO- http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; echo; echo endpoint=$AWS_ENDPOINT_URL"
    )
    task = run_to_stop(ecs, "creds", script, taskRoleArn=ROLE)
    credentials_text, endpoint = messages(logs, "/ecs/creds", f"app/main/{task_id(task)}")
    credentials = json.loads(credentials_text)
    assert credentials["RoleArn"] == ROLE
    assert credentials["AccessKeyId"].startswith("ASIA123456789012") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40 and credentials["Token"]
    assert credentials["Expiration"].endswith("Z")
    assert endpoint == "endpoint=http://169.254.170.2"
    # No role, no credentials URI.
    task = run_to_stop(ecs, "nocreds", "echo uri=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    assert messages(logs, "/ecs/nocreds", f"app/main/{task_id(task)}") == ["uri="]


def test_secrets_from_ssm_and_secrets_manager_become_variables(env: tuple[Any, Any, Emulator]) -> None:
    ecs, logs, emulator = env
    ssm = client("ssm", emulator.endpoint)
    secretsmanager = client("secretsmanager", emulator.endpoint)
    ssm.put_parameter(Name="/app/db-password", Value="s3cr3t", Type="SecureString")
    ssm.put_parameter(Name="plain", Value="hello", Type="String")
    secret_arn = secretsmanager.create_secret(Name="app/db", SecretString=json.dumps({"user": "admin", "port": 5432}))[
        "ARN"
    ]
    container = {
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": "/app/db-password"},
            {"name": "PLAIN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/plain"},
            {"name": "DB_USER", "valueFrom": f"{secret_arn}:user::"},
            {"name": "DB_ALL", "valueFrom": secret_arn},
        ]
    }
    task = run_to_stop(
        ecs, "secrets", "echo $DB_PASSWORD; echo $PLAIN; echo $DB_USER; echo $DB_ALL", container=container
    )
    assert messages(logs, "/ecs/secrets", f"app/main/{task_id(task)}") == [
        "s3cr3t",
        "hello",
        "admin",
        json.dumps({"user": "admin", "port": 5432}),
    ]


def test_a_secret_that_does_not_resolve_fails_the_task(env: tuple[Any, Any, Emulator]) -> None:
    ecs, _, _ = env
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    task = run_to_stop(ecs, "badsecret", "echo never", container={"secrets": [{"name": "X", "valueFrom": missing}]})
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        f"unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret {missing} from secrets manager: "
    ), task["stoppedReason"]
    task = run_to_stop(
        ecs, "badparam", "echo never", container={"secrets": [{"name": "X", "valueFrom": "/no/such/parameter"}]}
    )
    assert task["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets or registry auth"), (
        task["stoppedReason"]
    )
    assert "unable to retrieve secrets from ssm" in task["stoppedReason"]


@pytest.fixture(scope="module")
def sdk_image() -> str:
    """An image with Python and botocore: ecsemu's own (scripts/build-image.sh), built if missing."""
    present = subprocess.run(["docker", "image", "inspect", SDK_IMAGE], capture_output=True, timeout=60, check=False)
    if present.returncode != 0:
        built = subprocess.run(
            ["bash", str(REPO / "scripts" / "build-image.sh"), "--tag", SDK_IMAGE],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert built.returncode == 0, built.stderr[-3000:]
    return SDK_IMAGE


SDK_APP = """
import botocore.session
sqs = botocore.session.get_session().create_client("sqs")
url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="from inside the task")
print("sent", flush=True)
"""


def test_the_sdk_in_a_task_calls_sqs_with_nothing_configured(env: tuple[Any, Any, Emulator], sdk_image: str) -> None:
    ecs, logs, emulator = env
    sqs = client("sqs", emulator.endpoint)
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    task = run_to_stop(
        ecs, "sdkapp", "", image=sdk_image, command=["-c", SDK_APP], taskRoleArn=ROLE,
        container={"entryPoint": ["/opt/ecsemu/bin/python"]},
    )  # fmt: skip
    output = messages(logs, "/ecs/sdkapp", f"app/main/{task_id(task)}")
    assert task["containers"][0].get("exitCode") == 0, (task, output)
    assert output[-1] == "sent", output
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in received] == ["from inside the task"]


def test_the_task_endpoints_are_served_to_tasks_only(env: tuple[Any, Any, Emulator]) -> None:
    """The host's endpoint serves no task endpoint (they exist inside tasks, as on ECS), and a
    task reaches the AWS APIs but no admin endpoint: it cannot reset the emulator."""
    import requests  # noqa: PLC0415

    ecs, logs, emulator = env
    assert requests.get(f"{emulator.endpoint}/v4/{uuid.uuid4().hex}/task", timeout=5).status_code == 404
    assert requests.get(f"{emulator.endpoint}/v2/credentials/{uuid.uuid4()}", timeout=5).status_code == 404
    script = (
        "wget -qO- $ECS_CONTAINER_METADATA_URI_V4/../0123/task >/dev/null 2>&1; echo unknown=$?; "
        "wget -qO- --header 'Content-Type: application/json' --post-data '{}' http://169.254.170.2/_ecsemu/reset >/dev/null 2>&1; "
        "echo reset=$?; wget -qO- http://169.254.170.2/_ecsemu/health >/dev/null 2>&1; echo health=$?"
    )
    task = run_to_stop(ecs, "nosy", script)
    assert messages(logs, "/ecs/nosy", f"app/main/{task_id(task)}") == ["unknown=1", "reset=1", "health=1"]
    assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["default"])["clusters"]] == ["default"]


def test_output_survives_a_kill_dash_nine_and_an_adopted_task_goes_on_logging(
    start_server: Any, tmp_path: Path
) -> None:
    """Lines written before ecsemu dies are kept; the adopted task's later lines follow them,
    none lost and none twice; the metadata endpoint answers the adopted task again."""
    import signal  # noqa: PLC0415

    import requests  # noqa: PLC0415

    data_dir = tmp_path / "state"
    server = start_server("--runtime", "docker", data_dir=data_dir)
    ecs, logs = client("ecs", server.endpoint), client("logs", server.endpoint)
    script = (
        "for i in 1 2 3; do echo a-$i; done; while [ ! -e /tmp/go ]; do sleep 0.1; done; "
        "wget -qO- $ECS_CONTAINER_METADATA_URI_V4 >/dev/null && echo metadata-ok; for i in 1 2 3; do echo b-$i; done"
    )
    try:
        ecs.create_cluster(clusterName="default")
        ecs.register_task_definition(
            family="survivor",
            containerDefinitions=[{"name": "main", "image": IMAGE, "memory": 64, "command": ["sh", "-c", script],
                                   "logConfiguration": awslogs("/ecs/survivor", **{"awslogs-create-group": "true"})}],
        )  # fmt: skip
        task_arn = ecs.run_task(cluster="default", taskDefinition="survivor")["tasks"][0]["taskArn"]
        stream = f"app/main/{task_arn.rsplit('/', 1)[1]}"

        def first_lines() -> bool:
            try:
                return messages(logs, "/ecs/survivor", stream) == ["a-1", "a-2", "a-3"]
            except logs.exceptions.ResourceNotFoundException:
                return False

        wait_until(first_lines, timeout=60, what="the first lines in Logs")
        server.kill(signal.SIGKILL)

        server = start_server("--runtime", "docker", data_dir=data_dir)
        ecs, logs = client("ecs", server.endpoint), client("logs", server.endpoint)
        assert messages(logs, "/ecs/survivor", stream) == ["a-1", "a-2", "a-3"]
        container = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn={task_arn}", "--filter", "label=ecsemu.role=container"],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        assert len(container) == 1
        # Let the task go on only once the restarted ecsemu serves its endpoint again.
        wait_until(lambda: "metadata" in _endpoint_answer(container[0]), timeout=30, what="the adopted task's endpoint")
        subprocess.run(["docker", "exec", container[0], "touch", "/tmp/go"], check=True, timeout=30)

        def stopped() -> bool:
            return bool(ecs.describe_tasks(cluster="default", tasks=[task_arn])["tasks"][0]["lastStatus"] == "STOPPED")

        wait_until(stopped, timeout=60, what="the task to stop")
        assert messages(logs, "/ecs/survivor", stream) == ["a-1", "a-2", "a-3", "metadata-ok", "b-1", "b-2", "b-3"]
    finally:
        requests.post(f"{server.endpoint}/_ecsemu/reset", json={}, timeout=10)


def _endpoint_answer(container_id: str) -> str:
    done = subprocess.run(
        ["docker", "exec", container_id, "sh", "-c", "wget -qO- $ECS_CONTAINER_METADATA_URI_V4 >/dev/null && echo metadata"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.stdout
