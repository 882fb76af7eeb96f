"""Unit tests of ecsemu.taskenv.metadata: the v4 and v3 documents of a task record dict and what
Docker inspects of its containers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ecsemu.context import Scope
from ecsemu.model import task as task_model
from ecsemu.taskenv import metadata

SCOPE = Scope("123456789012", "us-east-1")
DEFINITION: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    "family": "web",
    "revision": 7,
    "cpu": "256",
    "memory": "512",
    "networkMode": "bridge",
    "containerDefinitions": [
        {
            "name": "main",
            "image": "busybox:latest",
            "memory": 128,
            "cpu": 64,
            "healthCheck": {"command": ["CMD", "true"]},
        },
        {"name": "side", "image": "nginx", "memoryReservation": 32},
    ],
}
LOGGING = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"}}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def task(*, launch_type: str | None = None, service: str | None = None) -> task_model.TaskRecord:
    record = task_model.new_task(
        SCOPE,
        task_id="0123456789abcdef0123456789abcdef",
        cluster_name="default",
        definition=DEFINITION,  # type: ignore[arg-type]
        now=1_800_000_000.0,
        launch_type=launch_type,
        service_name=service,
    )
    record["status"].update(
        {
            "lastStatus": "RUNNING",
            "pullStartedAt": 1_800_000_001.25,
            "pullStoppedAt": 1_800_000_002.5,
            "containers": {
                "main": {
                    "lastStatus": "RUNNING",
                    "runtimeId": "f00d" * 16,
                    "healthStatus": "HEALTHY",
                    "networkBindings": [
                        {"bindIP": "127.0.0.1", "containerPort": 8080, "hostPort": 49153, "protocol": "tcp"}
                    ],
                },
                "side": {"lastStatus": "PENDING"},
            },
        }
    )
    return record


INSPECTED: dict[str, Any] = {
    "Id": "f00d" * 16,
    "Name": "/ecs-web-7-main-0123",
    "Image": "sha256:" + "ab" * 32,
    "Created": "2026-12-03T12:00:00.123456789Z",
    "State": {"StartedAt": "2026-12-03T12:00:01.5Z", "FinishedAt": "0001-01-01T00:00:00Z"},
    "Config": {
        "Labels": {
            "com.amazonaws.ecs.task-arn": "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef",
            "team": "blue",
            "ecsemu.managed": "true",
            "ecsemu.namespace": "abc",
        }
    },
    "ecsemu_networks": {"ecsemu-default": {"IPAddress": "172.18.0.5"}, "other": "not a dict"},
}


def test_container_document_fields() -> None:
    document = metadata.container_document(task(), "main", INSPECTED, {"name": "main", "logConfiguration": LOGGING})
    assert document["DockerId"] == "f00d" * 16
    assert document["Name"] == "main"
    assert document["DockerName"] == "ecs-web-7-main-0123"
    assert document["Image"] == "busybox:latest" and document["ImageID"] == "sha256:" + "ab" * 32
    assert document["Labels"] == {
        "com.amazonaws.ecs.task-arn": "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef",
        "team": "blue",
    }
    assert document["DesiredStatus"] == "RUNNING" and document["KnownStatus"] == "RUNNING"
    assert document["Limits"] == {"CPU": 64, "Memory": 128}
    assert document["CreatedAt"] == "2026-12-03T12:00:00.123456789Z"
    assert document["StartedAt"] == "2026-12-03T12:00:01.5Z"
    assert "FinishedAt" not in document  # running
    assert document["Type"] == "NORMAL"
    assert document["ContainerARN"].startswith(
        "arn:aws:ecs:us-east-1:123456789012:container/default/0123456789abcdef0123456789abcdef/"
    )
    assert document["LogDriver"] == "awslogs" and document["LogOptions"]["awslogs-group"] == "/ecs/web"
    assert document["Networks"] == [{"NetworkMode": "bridge", "IPv4Addresses": ["172.18.0.5"]}]
    assert document["Health"] == {"status": "HEALTHY"}
    assert document["Ports"] == [{"ContainerPort": 8080, "Protocol": "tcp", "HostPort": 49153, "HostIp": "127.0.0.1"}]
    assert None not in document.values()


def test_a_container_not_inspected_yet() -> None:
    document = metadata.container_document(task(), "side", None, None)
    assert document["KnownStatus"] == "PENDING"
    assert document["Limits"] == {"CPU": 0, "Memory": 32}  # memoryReservation when no hard limit
    assert document["Labels"] == {} and document["Networks"] == [{"NetworkMode": "bridge", "IPv4Addresses": []}]
    for absent in ("DockerId", "DockerName", "ImageID", "CreatedAt", "StartedAt", "LogDriver", "Health", "Ports"):
        assert absent not in document


def test_a_stopped_container_has_its_finish_and_exit_code() -> None:
    record = task()
    record["status"]["containers"]["main"].update({"lastStatus": "STOPPED", "exitCode": 3})
    inspected = {**INSPECTED, "State": {"StartedAt": "2026-12-03T12:00:01Z", "FinishedAt": "2026-12-03T12:05:00Z"}}
    document = metadata.container_document(record, "main", inspected, None)
    assert document["FinishedAt"] == "2026-12-03T12:05:00Z" and document["ExitCode"] == 3


def test_task_document_fields() -> None:
    document = metadata.task_document(
        task(service="svc"), {"main": INSPECTED}, {"main": {"name": "main", "logConfiguration": LOGGING}}
    )
    assert document["Cluster"] == "default"  # EC2: the cluster's name
    assert document["TaskARN"] == "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef"
    assert document["Family"] == "web"
    assert document["Revision"] == "7"  # a string, as AWS gives it
    assert document["DesiredStatus"] == "RUNNING" and document["KnownStatus"] == "RUNNING"
    assert document["Limits"] == {"CPU": 0.25, "Memory": 512}  # vCPUs and MiB
    assert document["PullStartedAt"] == "2027-01-15T08:00:01.250000Z"
    assert document["PullStoppedAt"] == "2027-01-15T08:00:02.500000Z"
    assert RFC3339.match(document["PullStartedAt"]) and RFC3339.match(document["PullStoppedAt"])
    assert "ExecutionStoppedAt" not in document
    assert document["AvailabilityZone"] == "us-east-1a"
    assert document["LaunchType"] == "EC2" and document["ServiceName"] == "svc"
    assert [c["Name"] for c in document["Containers"]] == ["main", "side"]
    assert document["Containers"][0]["DockerId"] == "f00d" * 16


def test_a_fargate_tasks_cluster_is_its_arn() -> None:
    document = metadata.task_document(task(launch_type="FARGATE"), {}, {})
    assert document["Cluster"] == "arn:aws:ecs:us-east-1:123456789012:cluster/default"
    assert document["LaunchType"] == "FARGATE"
    assert "ServiceName" not in document


def test_a_task_without_task_size_has_no_limits() -> None:
    record = task()
    record["spec"]["cpu"] = ""
    record["spec"]["memory"] = ""
    assert "Limits" not in metadata.task_document(record, {}, {})


@pytest.mark.parametrize(
    ("epoch", "text"),
    [(None, None), (0.0, "1970-01-01T00:00:00.000000Z"), (1_800_000_000.123456, "2027-01-15T08:00:00.123456Z")],
)
def test_rfc3339(epoch: float | None, text: str | None) -> None:
    assert metadata.rfc3339(epoch) == text


def test_v3_is_a_subset_of_v4() -> None:
    v4 = metadata.task_document(task(), {"main": INSPECTED}, {"main": {"name": "main", "logConfiguration": LOGGING}})
    v3 = metadata.v3(v4, metadata.V3_TASK_FIELDS)
    assert set(v3) <= set(metadata.V3_TASK_FIELDS)
    assert "LaunchType" not in v3 and v3["TaskARN"] == v4["TaskARN"]
    for container in v3["Containers"]:
        assert set(container) <= set(metadata.V3_CONTAINER_FIELDS)
        assert "ContainerARN" not in container and "LogDriver" not in container
    assert v3["Containers"][0]["DockerId"] == "f00d" * 16
