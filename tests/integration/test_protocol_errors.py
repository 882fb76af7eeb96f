"""The wire, with raw HTTP (requests): how the gateway answers what a careless client sends,
as AWS's JSON 1.1 protocol does; the request id on every answer; real ECS operations ecsemu
does not implement (400 UnsupportedFeatureException, never 500); and the SigV4 credential
scope choosing the region and a 12-digit access key choosing the account."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import client

from ecsemu.app import Emulator

TARGET = "AmazonEC2ContainerServiceV20141113"
JSON_11 = "application/x-amz-json-1.1"
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHAPES = json.loads((Path(__file__).resolve().parents[2] / "api_shapes" / "ecs.json").read_text())


def authorization(access_key: str = "testing", region: str = "us-east-1") -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/ecs/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64
    )


def post(
    endpoint: str,
    operation: str | None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str | None = JSON_11,
    target: str | None = None,
    **headers: str,
) -> requests.Response:
    sent = dict(headers)
    if target is not None or operation is not None:
        sent["X-Amz-Target"] = target if target is not None else f"{TARGET}.{operation}"
    if content_type is not None:
        sent["Content-Type"] = content_type
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    return requests.post(endpoint + "/", data=data, headers=sent, timeout=10)


def error_of(response: requests.Response, status: int = 400) -> tuple[str, str]:
    """(code, message) of an error answer, after the checks every answer must pass."""
    assert response.status_code == status, response.text
    assert REQUEST_ID.fullmatch(response.headers.get("x-amzn-RequestId", "")), response.headers
    assert response.headers["Content-Type"].startswith(JSON_11)
    body = response.json()
    return body["__type"], body.get("message", "")


def cluster_names(endpoint: str, **headers: str) -> list[str]:
    response = post(endpoint, "ListClusters", {}, **headers)
    assert response.status_code == 200, response.text
    return sorted(arn.rsplit("/", 1)[-1] for arn in response.json()["clusterArns"])


# -- routing and parsing ----------------------------------------------------------------------


def test_unknown_operation(endpoint: str, emulator: Emulator) -> None:
    assert error_of(post(endpoint, "FlyToTheMoon", {"clusterName": "prod"}))[0] == "UnknownOperationException"
    assert emulator.store.scopes() == []


@pytest.mark.parametrize(
    "target", ["", "NoDotAtAll", "DynamoDB_20120810.ListTables", f"{TARGET}.", f"{TARGET.lower()}.ListClusters"]
)
def test_unknown_or_malformed_targets(endpoint: str, target: str) -> None:
    assert error_of(post(endpoint, None, {}, target=target))[0] == "UnknownOperationException"


def test_missing_target(endpoint: str) -> None:
    assert error_of(post(endpoint, None, {}))[0] == "UnknownOperationException"


@pytest.mark.parametrize("raw", [b"{", b'{"clusterName": }', b"\xff\xfe", b"[1, 2]", b'"text"', b"42"])
def test_malformed_json_is_a_serialization_exception(endpoint: str, emulator: Emulator, raw: bytes) -> None:
    code, _ = error_of(post(endpoint, "CreateCluster", raw=raw))
    assert code == "SerializationException"
    assert emulator.store.scopes() == []


def test_an_empty_body_is_an_empty_input(endpoint: str) -> None:
    response = post(endpoint, "ListClusters", raw=b"")
    assert response.status_code == 200
    assert response.json() == {"clusterArns": []}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None])
def test_wrong_content_type(endpoint: str, emulator: Emulator, content_type: str | None) -> None:
    response = post(endpoint, "CreateCluster", {"clusterName": "prod"}, content_type=content_type)
    assert error_of(response)[0] == "UnknownOperationException"
    assert emulator.store.scopes() == []


def test_content_type_parameters_and_json_1_0_are_accepted(endpoint: str) -> None:
    assert post(endpoint, "ListClusters", {}, content_type=f"{JSON_11}; charset=utf-8").status_code == 200
    assert post(endpoint, "ListClusters", {}, content_type="application/x-amz-json-1.0").status_code == 200


def test_only_post_is_served(endpoint: str) -> None:
    assert requests.get(endpoint + "/", timeout=10).status_code in (404, 405)


# -- validation at the edge -------------------------------------------------------------------


def test_missing_required_top_level_member(endpoint: str, emulator: Emulator) -> None:
    assert error_of(post(endpoint, "DescribeServices", {"cluster": "prod"})) == (
        "InvalidParameterException",
        "Services cannot be empty.",
    )
    assert error_of(post(endpoint, "StopTask", {})) == ("InvalidParameterException", "Task can not be blank.")
    register = post(
        endpoint, "RegisterTaskDefinition", {"containerDefinitions": [{"name": "a", "image": "b", "memory": 4}]}
    )
    assert error_of(register) == ("ClientException", "Family can not be blank.")
    assert emulator.store.scopes() == []


def test_missing_required_nested_member(endpoint: str, emulator: Emulator) -> None:
    body = {"taskDefinition": "web", "networkConfiguration": {"awsvpcConfiguration": {"securityGroups": ["sg-1"]}}}
    code, message = error_of(post(endpoint, "RunTask", body))
    assert code == "InvalidParameterException"
    assert message == (
        "1 validation error detected: Value null at 'networkConfiguration.awsvpcConfiguration.subnets' "
        "failed to satisfy constraint: Member must not be null"
    )
    assert emulator.store.scopes() == []


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [
        ("CreateService", {"serviceName": "web", "desiredCount": "two"}, "STRING_VALUE cannot be converted to Integer"),
        ("CreateCluster", {"clusterName": ["prod"]}, "Start of list found where not expected"),
        ("CreateCluster", {"clusterName": {"name": "prod"}}, "Start of structure or map found where not expected."),
        (
            "CreateService",
            {"serviceName": "web", "enableECSManagedTags": "yes"},
            "STRING_VALUE cannot be converted to Boolean",
        ),
        ("ListClusters", {"maxResults": True}, "BOOLEAN_VALUE cannot be converted to Integer"),
    ],
)
def test_wrong_type_is_a_serialization_exception(
    endpoint: str, emulator: Emulator, operation: str, body: dict[str, Any], message: str
) -> None:
    assert error_of(post(endpoint, operation, body)) == ("SerializationException", message)
    assert emulator.store.scopes() == []


def test_enum_violation(endpoint: str) -> None:
    code, message = error_of(post(endpoint, "ListTasks", {"desiredStatus": "SLEEPING"}))
    assert code == "InvalidParameterException"
    assert message.startswith(
        "1 validation error detected: Value 'SLEEPING' at 'desiredStatus' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["
    )
    assert "RUNNING" in message and "STOPPED" in message


def test_range_and_length_violations(endpoint: str, emulator: Emulator) -> None:
    body = {"taskDefinition": "web", "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1001}]}
    assert error_of(post(endpoint, "RunTask", body)) == (
        "InvalidParameterException",
        "1 validation error detected: Value '1001' at 'capacityProviderStrategy.1.member.weight' "
        "failed to satisfy constraint: Member must have value less than or equal to 1000",
    )
    code, message = error_of(
        post(endpoint, "CreateCluster", {"clusterName": "c", "tags": [{"key": "k" * 129, "value": "v"}]})
    )
    assert code == "InvalidParameterException"
    assert (
        "at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"
        in message
    )
    assert emulator.store.scopes() == []


def test_register_task_definition_validation_speaks_client_exception(endpoint: str) -> None:
    body = {
        "family": "web",
        "containerDefinitions": [{"name": "a", "image": "b", "memory": 4}],
        "tags": [{"key": "", "value": "v"}],
    }
    code, message = error_of(post(endpoint, "RegisterTaskDefinition", body))
    assert code == "ClientException"
    assert (
        "at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in message
    )


# -- request ids ------------------------------------------------------------------------------


def test_every_answer_carries_a_fresh_request_id(endpoint: str) -> None:
    answers = [
        post(endpoint, "ListClusters", {}),  # 200
        post(endpoint, "CreateCluster", {"clusterName": "prod"}),  # 200
        post(endpoint, "DeleteCluster", {"cluster": "ghost"}),  # service error
        post(endpoint, "ListTasks", {"desiredStatus": "SLEEPING"}),  # validation error
        post(endpoint, "CreateService", {"serviceName": "x", "desiredCount": "x"}),  # type error
        post(endpoint, "CreateCluster", raw=b"{"),  # unparsable
        post(endpoint, "FlyToTheMoon", {}),  # unknown operation
        post(endpoint, "ExecuteCommand", {"command": "sh", "interactive": True, "task": "t"}),  # not implemented
    ]
    ids = [answer.headers.get("x-amzn-RequestId", "") for answer in answers]
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)
    assert [a.status_code for a in answers] == [200, 200, 400, 400, 400, 400, 400, 400]


def test_boto3_sees_the_request_id(ecs: Any) -> None:
    metadata = ecs.list_clusters()["ResponseMetadata"]
    assert REQUEST_ID.fullmatch(metadata["RequestId"])
    with pytest.raises(ClientError) as caught:
        ecs.delete_cluster(cluster="ghost")
    assert REQUEST_ID.fullmatch(caught.value.response["ResponseMetadata"]["RequestId"])


# -- operations ecsemu does not implement -----------------------------------------------------


def test_unimplemented_operations_are_refused_cleanly(endpoint: str) -> None:
    daemon = {
        "daemonName": "d",
        "daemonTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:daemon-task-definition/d:1",
        "capacityProviderArns": ["cp"],
    }
    for operation, body in (
        ("CreateDaemon", daemon),
        ("ExecuteCommand", {"cluster": "prod", "command": "/bin/sh", "interactive": True, "task": "0" * 32}),
        ("DiscoverPollEndpoint", {}),
    ):
        code, message = error_of(post(endpoint, operation, body))
        assert code == "UnsupportedFeatureException", operation
        assert operation in message


def test_boto3_can_catch_an_unimplemented_operation(ecs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        ecs.execute_command(cluster="prod", task="0" * 32, command="/bin/sh", interactive=True)
    assert caught.value.response["Error"]["Code"] == "UnsupportedFeatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ecs.exceptions.UnsupportedFeatureException):
        ecs.execute_command(cluster="prod", task="0" * 32, command="/bin/sh", interactive=True)


def example(schema: dict[str, Any]) -> Any:
    """The smallest input a JSON Schema of the shapes document accepts (required members only)."""
    if "$ref" in schema:
        return example(SHAPES["$defs"][schema["$ref"].rsplit("/", 1)[-1]])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        if "additionalProperties" in schema:
            return {}
        return {name: example(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema["items"])]
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return 0  # a timestamp


@pytest.mark.parametrize("operation", sorted(SHAPES["operations"]))
def test_no_operation_answers_500(endpoint: str, operation: str) -> None:
    """Every ECS operation, with an empty input and with the least valid one, gets a clean
    answer: 200 or a 400 naming an error, never the server's own failure."""
    schema = SHAPES["operations"][operation]
    every_member_null = dict.fromkeys(schema.get("properties", {}))
    for body in ({}, example(schema), every_member_null):
        response = post(endpoint, operation, body)
        assert response.status_code in (200, 400), f"{operation} {body}: {response.status_code} {response.text}"
        assert REQUEST_ID.fullmatch(response.headers.get("x-amzn-RequestId", ""))
        if response.status_code == 400:
            assert response.json()["__type"] not in ("InternalFailure", "ServerException")


@pytest.mark.parametrize("operation", sorted(SHAPES["operations"]))
def test_no_operation_answers_500_when_its_inputs_name_real_things(endpoint: str, operation: str) -> None:
    """As above, with a cluster, task definition family, service and task all named "x", so
    the least valid input reaches deep into each operation."""
    assert post(endpoint, "CreateCluster", {"clusterName": "x"}).status_code == 200
    for cluster in ("x", "default"):
        post(endpoint, "CreateCluster", {"clusterName": cluster})
    definition = {"family": "x", "containerDefinitions": [{"name": "x", "image": "x", "memory": 64}]}
    assert post(endpoint, "RegisterTaskDefinition", definition).status_code == 200
    service = {"cluster": "x", "serviceName": "x", "taskDefinition": "x", "desiredCount": 1}
    assert post(endpoint, "CreateService", service).status_code == 200
    assert post(endpoint, "RunTask", {"cluster": "x", "taskDefinition": "x"}).status_code == 200
    least = example(SHAPES["operations"][operation])
    optional_nulls = {**dict.fromkeys(SHAPES["operations"][operation].get("properties", {})), **least}
    for body in (least, optional_nulls):
        response = post(endpoint, operation, body)
        assert response.status_code in (200, 400), f"{operation} {body}: {response.status_code} {response.text}"
        if response.status_code == 400:
            assert response.json()["__type"] not in ("InternalFailure", "ServerException")


def test_null_members_are_absent_members(endpoint: str, ecs: Any) -> None:
    """AWS reads a JSON null as a member that was not sent: the defaults apply."""
    created = post(
        endpoint, "CreateCluster", {"clusterName": "prod", "tags": None, "settings": None, "capacityProviders": None}
    )
    assert created.status_code == 200, created.text
    assert created.json()["cluster"]["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    container = {
        "name": "app",
        "image": "nginx",
        "memory": 64,
        "portMappings": None,
        "environment": None,
        "links": None,
    }
    registered = post(
        endpoint, "RegisterTaskDefinition", {"family": "web", "containerDefinitions": [container], "volumes": None}
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["taskDefinition"]["containerDefinitions"][0]["portMappings"] == []
    ran = post(
        endpoint, "RunTask", {"cluster": "prod", "taskDefinition": "web", "count": None, "tags": None, "group": None}
    )
    assert ran.status_code == 200, ran.text
    assert [t["group"] for t in ran.json()["tasks"]] == ["family:web"]
    listed = post(endpoint, "ListTasks", {"cluster": "prod", "desiredStatus": None, "maxResults": None})
    assert len(listed.json()["taskArns"]) == 1
    described = ecs.describe_clusters(clusters=["prod"], include=["TAGS"])["clusters"][0]
    assert described["tags"] == []


# -- who and where: account and region isolate state ------------------------------------------


def test_region_and_account_isolate_state(endpoint: str) -> None:
    home = client("ecs", endpoint)  # default account, us-east-1
    europe = client("ecs", endpoint, region_name="eu-west-1")
    other_account = client("ecs", endpoint, aws_access_key_id="111122223333")
    home.create_cluster(clusterName="prod")
    europe.create_cluster(clusterName="eu")
    created = other_account.create_cluster(clusterName="theirs")["cluster"]
    assert created["clusterArn"] == "arn:aws:ecs:us-east-1:111122223333:cluster/theirs"
    assert (
        europe.describe_clusters(clusters=["eu"])["clusters"][0]["clusterArn"]
        == "arn:aws:ecs:eu-west-1:123456789012:cluster/eu"
    )

    assert [a.rsplit("/", 1)[-1] for a in home.list_clusters()["clusterArns"]] == ["prod"]
    assert [a.rsplit("/", 1)[-1] for a in europe.list_clusters()["clusterArns"]] == ["eu"]
    assert [a.rsplit("/", 1)[-1] for a in other_account.list_clusters()["clusterArns"]] == ["theirs"]
    # The same name in another scope is another cluster; an ARN of another scope names nothing here.
    assert europe.describe_clusters(clusters=["prod"])["failures"][0]["reason"] == "MISSING"
    foreign = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
    assert europe.describe_clusters(clusters=[foreign])["failures"] == [{"arn": foreign, "reason": "MISSING"}]
    with pytest.raises(ClientError) as caught:
        europe.delete_cluster(cluster=foreign)
    assert caught.value.response["Error"]["Code"] == "ClusterNotFoundException"
    assert home.describe_clusters(clusters=["prod"])["clusters"][0]["status"] == "ACTIVE"


def test_raw_requests_take_scope_from_the_credential(endpoint: str) -> None:
    post(endpoint, "CreateCluster", {"clusterName": "unsigned"})  # no Authorization: the defaults
    post(
        endpoint, "CreateCluster", {"clusterName": "signed"}, Authorization=authorization("210987654321", "ap-south-1")
    )
    assert cluster_names(endpoint) == ["unsigned"]
    assert cluster_names(endpoint, Authorization=authorization()) == ["unsigned"]  # a non-numeric key: default account
    assert cluster_names(endpoint, Authorization=authorization("210987654321", "ap-south-1")) == ["signed"]
    assert cluster_names(endpoint, Authorization=authorization("210987654321", "us-east-1")) == []
    assert cluster_names(endpoint, Authorization=authorization("AKIA0000000000000000", "ap-south-1")) == []
    # A malformed Authorization header is read as no credential at all.
    assert cluster_names(endpoint, Authorization="Bearer something") == ["unsigned"]
