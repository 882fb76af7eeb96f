"""Unit tests of ecsemu.protocol.validation: the edge validator and the errors it answers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource

from ecsemu.errors import ClientError, ServerError
from ecsemu.protocol.validation import (
    DEFAULT_SHAPES_DIR,
    MAX_LISTED_VIOLATIONS,
    InputValidator,
    InvalidInputError,
    StructureNode,
    validate_input,
)


def refusal(service: str, operation: str, params: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        validate_input(service, operation, params)
    return caught.value


def container(index: int) -> dict[str, Any]:
    return {
        "name": f"app{index}",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.2.3",
        "cpu": 256,
        "memory": 512,
        "memoryReservation": 256,
        "essential": index == 0,
        "portMappings": [
            {
                "containerPort": 8080 + index,
                "hostPort": 0,
                "protocol": "tcp",
                "name": f"http{index}",
                "appProtocol": "http",
            }
        ],
        "environment": [{"name": f"VAR{j}", "value": f"value{j}"} for j in range(8)],
        "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}
        ],
        "command": ["python", "-m", "app", "--port", str(8080 + index)],
        "entryPoint": ["/bin/sh", "-c"],
        "healthCheck": {
            "command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/ecs/app", "awslogs-stream-prefix": "app"},
        },
        "dockerLabels": {"team": "core"},
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
        "dependsOn": [{"containerName": "app0", "condition": "START"}] if index else [],
        "linuxParameters": {
            "initProcessEnabled": True,
            "tmpfs": [{"containerPath": "/t", "size": 64}],
        },
        "readonlyRootFilesystem": False,
        "stopTimeout": 30,
    }


REGISTER_TASK_DEFINITION: dict[str, Any] = {
    "family": "web",
    "taskRoleArn": "arn:aws:iam::123456789012:role/task",
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE", "EC2"],
    "cpu": "1024",
    "memory": "2048",
    "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
    "ephemeralStorage": {"sizeInGiB": 30},
    "containerDefinitions": [container(i) for i in range(3)],
    "volumes": [
        {
            "name": "data",
            "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"},
        },
        {"name": "scratch", "host": {"sourcePath": "/tmp"}},
    ],
    "placementConstraints": [{"type": "memberOf", "expression": "attribute:x == y"}],
    "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "core"}],
}


# --------------------------------------------------------------------------------------------
# Valid inputs


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("DescribeClusters", {}),
        ("DescribeClusters", {"clusters": ["default"], "include": ["TAGS", "SETTINGS"]}),
        ("ListTasks", {"cluster": "c", "desiredStatus": "STOPPED", "maxResults": 100}),
        ("RegisterTaskDefinition", REGISTER_TASK_DEFINITION),
        (
            "CreateService",
            {
                "serviceName": "web",
                "desiredCount": 2,
                "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1000}],
                "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 50},
                "networkConfiguration": {
                    "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}
                },
            },
        ),
    ],
)
def test_valid_inputs_pass(operation: str, params: dict[str, Any]) -> None:
    validate_input("ecs", operation, params)


def test_unknown_members_are_ignored_at_every_depth() -> None:
    params = copy.deepcopy(REGISTER_TASK_DEFINITION)
    params["registeredAt"] = "2024-01-01"  # what DescribeTaskDefinition returns; AWS ignores it
    params["containerDefinitions"][0]["noSuchMember"] = {"any": ["thing"]}
    validate_input("ecs", "RegisterTaskDefinition", params)


def test_null_is_the_same_as_absent() -> None:
    validate_input("ecs", "ListTasks", {"cluster": None, "maxResults": None})
    assert refusal("ecs", "DescribeTasks", {"tasks": None}).message == "Tasks cannot be empty."


def test_integral_floats_are_integers_and_booleans_are_not() -> None:
    validate_input("ecs", "ListClusters", {"maxResults": 10.0})
    assert refusal("ecs", "ListClusters", {"maxResults": 1.5}).code == "SerializationException"
    error = refusal("ecs", "ListClusters", {"maxResults": True})
    assert error.message == "BOOLEAN_VALUE cannot be converted to Integer"


# --------------------------------------------------------------------------------------------
# Missing required members


@pytest.mark.parametrize("tasks", [None, [], "absent"])
def test_missing_or_empty_required_list_in_ecs(tasks: object) -> None:
    params = {"cluster": "c"} if tasks == "absent" else {"cluster": "c", "tasks": tasks}
    error = refusal("ecs", "DescribeTasks", params)
    assert isinstance(error, ClientError)
    assert (error.code, error.message, error.status_code) == (
        "InvalidParameterException",
        "Tasks cannot be empty.",
        400,
    )
    assert error.path == "tasks"


def test_required_lists_that_aws_accepts_empty() -> None:
    # Documented ("specify an empty array ([])"), and a list whose model says min 0.
    empty = {"cluster": "c", "capacityProviders": [], "defaultCapacityProviderStrategy": []}
    validate_input("ecs", "PutClusterCapacityProviders", empty)
    validate_input("ecs", "TagResource", {"resourceArn": "arn", "tags": []})
    # Empty is an answer; absent is still absent.
    error = refusal("ecs", "PutClusterCapacityProviders", {"cluster": "c", "capacityProviders": []})
    assert (error.code, error.path) == ("InvalidParameterException", "defaultCapacityProviderStrategy")
    assert refusal("ecs", "TagResource", {"resourceArn": "arn", "tags": None}).path == "tags"


def test_missing_required_string_in_ecs() -> None:
    error = refusal("ecs", "UpdateService", {"cluster": "c", "desiredCount": 1})
    assert (error.code, error.message) == ("InvalidParameterException", "Service can not be blank.")


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("family", "Family can not be blank."),
        ("containerDefinitions", "Container list cannot be empty."),
    ],
)
def test_register_task_definition_answers_client_exception(missing: str, message: str) -> None:
    params = {k: v for k, v in REGISTER_TASK_DEFINITION.items() if k != missing}
    error = refusal("ecs", "RegisterTaskDefinition", params)
    assert (error.code, error.message, error.path) == ("ClientException", message, missing)


def test_blank_required_string_counts_as_missing_in_ecs() -> None:
    params = {**REGISTER_TASK_DEFINITION, "family": ""}
    assert refusal("ecs", "RegisterTaskDefinition", params).message == "Family can not be blank."


def test_missing_nested_required_member_names_its_path() -> None:
    params = copy.deepcopy(REGISTER_TASK_DEFINITION)
    del params["containerDefinitions"][1]["logConfiguration"]["logDriver"]
    error = refusal("ecs", "RegisterTaskDefinition", params)
    where = "containerDefinitions.2.member.logConfiguration.logDriver"
    assert error.code == "ClientException"
    assert error.message == (
        f"1 validation error detected: Value null at '{where}' "
        "failed to satisfy constraint: Member must not be null"
    )
    assert error.path == where


# --------------------------------------------------------------------------------------------
# Wrong types


@pytest.mark.parametrize(
    ("params", "message", "path"),
    [
        (
            {"containerDefinitions": [{"name": "a", "cpu": "256"}]},
            "STRING_VALUE cannot be converted to Integer",
            "containerDefinitions.1.member.cpu",
        ),
        (
            {"containerDefinitions": [{"name": "a", "essential": 1}]},
            "NUMBER_VALUE cannot be converted to Boolean",
            "containerDefinitions.1.member.essential",
        ),
        (
            {"containerDefinitions": [{"name": {"a": 1}}]},
            "Start of structure or map found where not expected.",
            "containerDefinitions.1.member.name",
        ),
        (
            {"containerDefinitions": [{"name": "a", "image": ["x"]}]},
            "Start of list found where not expected",
            "containerDefinitions.1.member.image",
        ),
        ({"containerDefinitions": {"name": "a"}}, None, "containerDefinitions"),
    ],
)
def test_wrong_type_is_a_serialization_exception(
    params: dict[str, Any], message: str | None, path: str
) -> None:
    error = refusal("ecs", "RegisterTaskDefinition", {"family": "f", **params})
    assert error.code == "SerializationException"
    if message is not None:
        assert error.message == message
    assert error.path == path


def test_wrong_type_wins_over_missing_members() -> None:
    # Deserialization fails before validation runs: the type problem is what AWS reports.
    error = refusal("ecs", "RegisterTaskDefinition", {"containerDefinitions": [{"cpu": "1"}]})
    assert error.code == "SerializationException"


def test_a_body_that_is_not_an_object() -> None:
    error = refusal("ecs", "ListClusters", [1, 2])
    assert (error.code, error.message) == (
        "SerializationException",
        "Start of list found where not expected",
    )


# --------------------------------------------------------------------------------------------
# Enums, lengths, ranges


def test_enum_violation() -> None:
    error = refusal("ecs", "RunTask", {"taskDefinition": "web:1", "launchType": "LAMBDA"})
    assert (error.code, error.path) == ("InvalidParameterException", "launchType")
    assert error.message.startswith(
        "1 validation error detected: Value 'LAMBDA' at 'launchType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [EC2, FARGATE, "
    )


def test_bad_enum_inside_a_list_of_scalars_is_reported_on_the_list() -> None:
    error = refusal("ecs", "DescribeClusters", {"include": ["TAGS", "NOPE"]})
    assert error.path == "include"
    assert error.message.startswith(
        "1 validation error detected: Value '[TAGS, NOPE]' at 'include' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: ["
    )


def test_range_violation_in_a_nested_list_names_the_element() -> None:
    params = {
        "serviceName": "s",
        "capacityProviderStrategy": [
            {"capacityProvider": "FARGATE", "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 5000},
        ],
    }
    error = refusal("ecs", "CreateService", params)
    assert error.path == "capacityProviderStrategy.2.member.weight"
    assert error.message == (
        "1 validation error detected: Value '5000' at 'capacityProviderStrategy.2.member.weight' "
        "failed to satisfy constraint: Member must have value less than or equal to 1000"
    )


def test_length_violations_are_all_counted() -> None:
    params = {
        "resourceArn": "arn",
        "tags": [{"key": "k" * 129, "value": "v"}, {"key": "", "value": "v"}],
    }
    error = refusal("ecs", "TagResource", params)
    assert error.message.startswith("2 validation errors detected: ")
    assert (
        "at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 128; "
    ) in error.message
    assert error.message.endswith(
        "Value '' at 'tags.2.member.key' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    assert [v.where for v in error.violations] == ["tags.1.member.key", "tags.2.member.key"]


def test_too_many_list_items_and_a_bounded_message() -> None:
    tags = [{"key": "k" * 200, "value": "v"}] * 51
    error = refusal("ecs", "TagResource", {"resourceArn": "arn", "tags": tags})
    assert error.message.startswith("52 validation errors detected: Value '[{key=kkk")
    assert (
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
        in error.message
    )
    assert error.message.count("failed to satisfy constraint") == MAX_LISTED_VIOLATIONS
    assert len(error.violations) == 52


def test_query_protocol_service_answers_validation_error() -> None:
    error = refusal("elbv2", "DescribeLoadBalancers", {"PageSize": 0})
    assert (error.code, error.message) == (
        "ValidationError",
        (
            "1 validation error detected: Value '0' at 'pageSize' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1"
        ),
    )
    error = refusal("elbv2", "AddTags", {"ResourceArns": ["arn"], "Tags": [{"Value": "v"}]})
    assert error.path == "tags.1.member.key"
    assert error.message.endswith("Member must not be null")


# --------------------------------------------------------------------------------------------
# Loading, unknown names, custom documents


def test_unknown_service_or_operation_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        validate_input("ecs", "NoSuchOperation", {})
    with pytest.raises(LookupError):
        validate_input("no-such-service", "DescribeClusters", {})


def test_every_operation_compiles_and_answers_an_empty_input() -> None:
    for path in sorted(DEFAULT_SHAPES_DIR.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for operation in document["operations"]:
            try:
                validate_input(document["service"], operation, {})
            except InvalidInputError as error:
                assert error.violations
                assert error.status_code == 400


TINY_DOCUMENT: dict[str, Any] = {
    "service": "tiny",
    "protocol": "json",
    "operations": {
        "Put": {
            "type": "object",
            "properties": {
                "tree": {"$ref": "#/$defs/Tree"},
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 3},
                    "propertyNames": {"type": "string", "minLength": 2},
                    "maxProperties": 2,
                },
                "blob": {"type": "string", "contentEncoding": "base64"},
                "at": {"type": ["number", "string"], "format": "timestamp"},
                "doc": {},
                "ratio": {"type": "number", "format": "double", "minimum": 0.5},
            },
        }
    },
    "$defs": {
        "Tree": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
            },
            "required": ["name"],
        }
    },
}


@pytest.fixture
def tiny(tmp_path: Path) -> InputValidator:
    (tmp_path / "tiny.json").write_text(json.dumps(TINY_DOCUMENT), encoding="utf-8")
    return InputValidator(tmp_path)


def test_custom_directory_recursive_shapes_and_scalars(tiny: InputValidator) -> None:
    tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}
    tiny.validate(
        "tiny",
        "Put",
        {"tree": tree, "blob": b"\x00", "at": 1700000000.5, "doc": [1, {"x": None}], "ratio": 1},
    )
    with pytest.raises(InvalidInputError) as caught:
        tiny.validate("tiny", "Put", {"tree": {"children": [{"name": "b", "children": [{}]}]}})
    error = caught.value
    assert error.code == "ValidationException"  # the default for a JSON service
    assert [v.where for v in error.violations] == [
        "tree.name",
        "tree.children.1.member.children.1.member.name",
    ]
    with pytest.raises(InvalidInputError) as caught:
        tiny.validate("tiny", "Put", {"at": True})
    assert caught.value.message == "BOOLEAN_VALUE cannot be converted to Date"


def test_map_keys_and_values_are_reported_on_the_map(tiny: InputValidator) -> None:
    with pytest.raises(InvalidInputError) as caught:
        tiny.validate("tiny", "Put", {"labels": {"a": "long value"}})
    assert caught.value.message == (
        "2 validation errors detected: "
        "Value '{a=long value}' at 'labels' failed to satisfy constraint: "
        "Map key must satisfy constraint: [Member must have length greater than or equal to 2]; "
        "Value '{a=long value}' at 'labels' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 3]"
    )
    with pytest.raises(InvalidInputError) as caught:
        tiny.validate("tiny", "Put", {"labels": {"aa": "x", "bb": "y", "cc": "z"}})
    assert caught.value.violations[0].detail == "Member must have length less than or equal to 2"


def test_explain_must_account_for_every_refusal(
    tiny: InputValidator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explain_nothing(self: StructureNode, value: object, path: object, out: object) -> None:
        return

    monkeypatch.setattr(StructureNode, "explain", explain_nothing)
    with pytest.raises(ServerError):
        tiny.validate("tiny", "Put", [])


# --------------------------------------------------------------------------------------------
# The committed schemas and the compiled validator agree


def jsonschema_for(service: str, operation: str) -> Draft202012Validator:
    document = json.loads((DEFAULT_SHAPES_DIR / f"{service}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    registry: Registry[Any] = Registry().with_resource(
        document["$id"], Resource.from_contents(document)
    )
    return Draft202012Validator(
        {"$ref": f"{document['$id']}#/operations/{operation}"}, registry=registry
    )


AGREEMENT_CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("ecs", "RegisterTaskDefinition", REGISTER_TASK_DEFINITION, True),
    (
        "ecs",
        "RegisterTaskDefinition",
        {"family": "f", "containerDefinitions": [{"cpu": "1"}]},
        False,
    ),
    ("ecs", "RegisterTaskDefinition", {"family": "f"}, False),
    ("ecs", "DescribeClusters", {"include": ["NOPE"]}, False),
    ("ecs", "DescribeClusters", {"clusters": ["a"], "unknown": 1}, True),
    ("ecs", "TagResource", {"resourceArn": "a", "tags": [{"key": ""}]}, False),
    ("ecs", "ListClusters", {"maxResults": 3}, True),
    ("elbv2", "DescribeLoadBalancers", {"PageSize": 401}, False),
    ("elbv2", "DescribeLoadBalancers", {"PageSize": 400, "Names": ["a"]}, True),
    ("elbv2", "AddTags", {"ResourceArns": ["a"], "Tags": [{"Key": "k", "Value": "v"}]}, True),
]


@pytest.mark.parametrize(("service", "operation", "params", "valid"), AGREEMENT_CASES)
def test_committed_schema_and_validator_agree(
    service: str, operation: str, params: dict[str, Any], valid: bool
) -> None:
    assert jsonschema_for(service, operation).is_valid(params) is valid
    if valid:
        validate_input(service, operation, params)
    else:
        refusal(service, operation, params)
