"""SSM Parameter Store through boto3 and the AWS CLI against a live ecsemu: every operation,
AWS's errors for bad input, and nothing stored when a request is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import client


@pytest.fixture
def ssm(endpoint: str) -> Any:
    return client("ssm", endpoint)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_put_get_overwrite_and_history(ssm: Any) -> None:
    first = ssm.put_parameter(Name="/app/db/password", Value="s3cret", Type="SecureString", Description="db")
    assert first["Version"] == 1 and first["Tier"] == "Standard"
    hidden = ssm.get_parameter(Name="/app/db/password")["Parameter"]
    assert hidden["Value"] != "s3cret" and hidden["Type"] == "SecureString" and hidden["DataType"] == "text"
    assert hidden["ARN"] == "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password"
    assert ssm.get_parameter(Name="/app/db/password", WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    with pytest.raises(ClientError) as exists:
        ssm.put_parameter(Name="/app/db/password", Value="x", Type="SecureString")
    assert _code(exists) == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name="/app/db/password", Value="n3w", Overwrite=True)["Version"] == 2
    old = ssm.get_parameter(Name="/app/db/password:1", WithDecryption=True)["Parameter"]
    assert old["Value"] == "s3cret" and old["Selector"] == ":1" and old["Version"] == 1
    history = ssm.get_parameter_history(Name="/app/db/password", WithDecryption=True)["Parameters"]
    assert [(entry["Version"], entry["Value"]) for entry in history] == [(1, "s3cret"), (2, "n3w")]
    assert history[0]["KeyId"] == "alias/aws/ssm" and history[0]["Description"] == "db"
    by_arn = ssm.get_parameter(Name=hidden["ARN"], WithDecryption=True)["Parameter"]
    assert by_arn["Value"] == "n3w"


def test_get_parameters_and_delete(ssm: Any) -> None:
    ssm.put_parameter(Name="/a", Value="1", Type="String")
    ssm.put_parameter(Name="list", Value="x,y", Type="StringList")
    got = ssm.get_parameters(Names=["/a", "list", "/missing"])
    assert [(p["Name"], p["Value"], p["Type"]) for p in got["Parameters"]] == [
        ("/a", "1", "String"),
        ("list", "x,y", "StringList"),
    ]
    assert got["InvalidParameters"] == ["/missing"]
    deleted = ssm.delete_parameters(Names=["/a", "/nope"])
    assert (deleted["DeletedParameters"], deleted["InvalidParameters"]) == (["/a"], ["/nope"])
    ssm.delete_parameter(Name="list")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="list")
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name="list")
    assert ssm.describe_parameters()["Parameters"] == []


def test_by_path_pages_with_a_paginator(ssm: Any) -> None:
    for n in range(25):
        ssm.put_parameter(Name=f"/svc/cfg/k{n:02d}", Value=str(n), Type="String")
    ssm.put_parameter(Name="/svc/cfg/deep/k", Value="d", Type="String")
    ssm.put_parameter(Name="/other", Value="o", Type="String")
    pages = list(
        ssm.get_paginator("get_parameters_by_path").paginate(Path="/svc/cfg", PaginationConfig={"PageSize": 10})
    )
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert len(pages) == 3 and names == [f"/svc/cfg/k{n:02d}" for n in range(25)]
    recursive = [
        p["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/svc", Recursive=True)
        for p in page["Parameters"]
    ]
    assert len(recursive) == 26 and "/svc/cfg/deep/k" in recursive
    described = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/svc"]}], PaginationConfig={"PageSize": 7}
    ) for p in page["Parameters"]]  # fmt: skip
    assert described == sorted(recursive)


def test_describe_filters_and_metadata(ssm: Any) -> None:
    ssm.put_parameter(Name="/m/plain", Value="v", Type="String", AllowedPattern="^v$")
    ssm.put_parameter(Name="/m/secret", Value="v", Type="SecureString", KeyId="alias/mine", Tier="Advanced")
    secure = ssm.describe_parameters(ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}])["Parameters"]
    assert [(p["Name"], p["KeyId"], p["Tier"]) for p in secure] == [("/m/secret", "alias/mine", "Advanced")]
    plain = ssm.describe_parameters(Filters=[{"Key": "Name", "Values": ["/m/p"]}])["Parameters"][0]
    assert plain["AllowedPattern"] == "^v$" and plain["Version"] == 1 and "LastModifiedUser" in plain


def test_labels(ssm: Any) -> None:
    ssm.put_parameter(Name="/lab", Value="one", Type="String")
    ssm.put_parameter(Name="/lab", Value="two", Type="String", Overwrite=True)
    assert ssm.label_parameter_version(Name="/lab", ParameterVersion=1, Labels=["stable"])["ParameterVersion"] == 1
    assert ssm.get_parameter(Name="/lab:stable")["Parameter"]["Value"] == "one"
    assert ssm.unlabel_parameter_version(Name="/lab", ParameterVersion=1, Labels=["stable"])["RemovedLabels"] == [
        "stable"
    ]


def test_tags(ssm: Any) -> None:
    ssm.put_parameter(Name="/tagged", Value="v", Type="String", Tags=[{"Key": "env", "Value": "dev"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/tagged", Tags=[{"Key": "team", "Value": "core"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/tagged")["TagList"]
    assert tags == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "core"}]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/tagged", TagKeys=["env"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/tagged")["TagList"] == [
        {"Key": "team", "Value": "core"}
    ]
    with pytest.raises(ClientError) as both:
        ssm.put_parameter(Name="/tagged", Value="v", Overwrite=True, Tags=[{"Key": "a", "Value": "b"}])
    assert _code(both) == "ValidationException"
    with pytest.raises(ssm.exceptions.InvalidResourceId):
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/none")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Name": "/bad name", "Value": "v", "Type": "String"}, "ValidationException"),
        ({"Name": "awsname", "Value": "v", "Type": "String"}, "ValidationException"),
        ({"Name": "/" + "/".join("x" * 16), "Value": "v", "Type": "String"}, "HierarchyLevelLimitExceededException"),
        ({"Name": "/n", "Value": "v"}, "ValidationException"),
        ({"Name": "/n", "Value": "v", "Type": "Number"}, "ValidationException"),
        ({"Name": "/n", "Value": "x" * 4097, "Type": "String"}, "ValidationException"),
        ({"Name": "/n", "Value": "v", "Type": "String", "AllowedPattern": "^a$"}, "ParameterPatternMismatchException"),
        ({"Value": "v", "Type": "String"}, "ValidationException"),
        ({"Name": "/n", "Value": "v", "Type": "String", "Overwrite": "yes"}, "SerializationException"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(endpoint: str, params: dict[str, Any], code: str) -> None:
    unchecked = client("ssm", endpoint, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        unchecked.put_parameter(**params)
    assert _code(refused) == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert unchecked.describe_parameters()["Parameters"] == []


def test_max_results_is_bounded(endpoint: str) -> None:
    unchecked = client("ssm", endpoint, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        unchecked.get_parameters_by_path(Path="/", MaxResults=11)
    assert _code(refused) == "ValidationException"


def test_other_operations_answer_not_supported(ssm: Any) -> None:
    with pytest.raises(ClientError) as refused:
        ssm.list_documents()
    assert _code(refused) == "UnsupportedOperationException"
    assert "ListDocuments" in refused.value.response["Error"]["Message"]


def _aws(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert found is not None, "the AWS CLI is not installed"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [found, "ssm", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_aws_cli(endpoint: str) -> None:
    put = _aws(endpoint, "put-parameter", "--name", "/cli/token", "--value", "t0ken", "--type", "SecureString")
    assert put.returncode == 0, put.stderr
    got = _aws(endpoint, "get-parameter", "--name", "/cli/token", "--with-decryption")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Parameter"]["Value"] == "t0ken"
    listed = _aws(endpoint, "get-parameters-by-path", "--path", "/cli")
    assert [p["Name"] for p in json.loads(listed.stdout)["Parameters"]] == ["/cli/token"]
    missing = _aws(endpoint, "get-parameter", "--name", "/cli/none")
    assert missing.returncode != 0 and "ParameterNotFound" in missing.stderr
