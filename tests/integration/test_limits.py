"""Limits (issue 11, finding 3): a desired count beyond ECS's "Tasks per service" quota (5,000)
is refused and changes nothing; request bodies beyond ecsemu's bound are refused as AWS refuses
what it cannot read (400 SerializationException for JSON, ValidationError for the query
protocol), before anything is parsed into memory-hungry structures."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from api_state import refused

from ecsemu.app import Emulator
from ecsemu.protocol import json_protocol, query_protocol

APP = {"name": "app", "image": "nginx:latest", "memory": 128}


def _service(ecs: Any, desired: int) -> None:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="web", containerDefinitions=[dict(APP)])
    ecs.create_service(cluster="c", serviceName="svc", taskDefinition="web", desiredCount=desired)


@pytest.mark.parametrize("desired", [5001, 2**31 - 1])
def test_update_service_beyond_the_quota_is_refused(ecs: Any, emulator: Emulator, desired: int) -> None:
    _service(ecs, 0)
    with refused(emulator, "InvalidParameterException"):
        ecs.update_service(cluster="c", service="svc", desiredCount=desired)
    assert ecs.describe_services(cluster="c", services=["svc"])["services"][0]["desiredCount"] == 0


def test_create_service_beyond_the_quota_is_refused(ecs: Any, emulator: Emulator) -> None:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="web", containerDefinitions=[dict(APP)])
    with refused(emulator, "InvalidParameterException", "desiredCount must be 5000 or less: the Tasks per service quota is 5000."):
        ecs.create_service(cluster="c", serviceName="svc", taskDefinition="web", desiredCount=5001)


def test_an_oversized_json_body_is_a_serialization_exception(endpoint: str, emulator: Emulator) -> None:
    body = b'{"clusterName":"c","tags":[' + b'{"key":"k","value":"v"},' * (json_protocol.MAX_BODY_BYTES // 20) + b'{}]}'
    headers = {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.CreateCluster", "Content-Type": "application/x-amz-json-1.1"}
    response = requests.post(endpoint + "/", data=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["__type"] == "SerializationException"
    assert emulator.store.scopes() == []


def test_an_oversized_query_form_is_a_validation_error(endpoint: str, emulator: Emulator) -> None:
    body = "Action=DescribeLoadBalancers&Version=2015-12-01&" + "&".join(
        f"Names.member.{i}=n{i}" for i in range(1, query_protocol.MAX_FORM_BYTES // 20)
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = requests.post(endpoint + "/", data=body.encode(), headers=headers, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert "<Code>ValidationError</Code>" in response.text


def test_a_body_beyond_what_the_server_buffers_is_refused_without_a_500(endpoint: str, emulator: Emulator) -> None:
    headers = {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.CreateCluster", "Content-Type": "application/x-amz-json-1.1"}
    too_big = b'{"clusterName":"' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = requests.post(endpoint + "/", data=too_big, headers=headers, timeout=30)
    assert response.status_code == 413
    assert emulator.store.scopes() == []
    # The server keeps answering.
    listed = requests.post(
        endpoint + "/", data=b"{}", timeout=10,
        headers={**headers, "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters"},
    )  # fmt: skip
    assert listed.status_code == 200


def test_run_task_beyond_the_task_limit_answers_failures(ecs: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ecsemu.config.MAX_TASKS", 3)
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="web", containerDefinitions=[dict(APP)])
    first = ecs.run_task(cluster="c", taskDefinition="web", count=2)
    assert (len(first["tasks"]), first["failures"]) == (2, [])
    second = ecs.run_task(cluster="c", taskDefinition="web", count=3)
    assert len(second["tasks"]) == 1
    assert second["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/c",
         "reason": "You've reached the limit on the number of tasks you can run concurrently"},
    ] * 2  # fmt: skip
    assert len(ecs.list_tasks(cluster="c")["taskArns"]) == 3
