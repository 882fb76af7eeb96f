"""Secrets Manager through boto3 and the AWS CLI against a live ecsemu: every operation,
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

MARKED = "You can't perform this operation on the secret because it was marked for deletion."


@pytest.fixture
def sm(endpoint: str) -> Any:
    return client("secretsmanager", endpoint)


def _error(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return str(error.value.response["Error"]["Code"]), str(error.value.response["Error"]["Message"])


def test_create_get_put_and_stages(sm: Any) -> None:
    created = sm.create_secret(
        Name="prod/db",
        SecretString=json.dumps({"user": "u", "password": "p1"}),
        Description="db",
        Tags=[{"Key": "env", "Value": "prod"}],
    )
    arn = created["ARN"]
    assert (
        arn.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-")
        and len(arn) == len("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-") + 6
    )
    got = sm.get_secret_value(SecretId="prod/db")
    assert json.loads(got["SecretString"])["password"] == "p1" and got["VersionStages"] == ["AWSCURRENT"]
    assert got["VersionId"] == created["VersionId"] and got["ARN"] == arn
    put = sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"user": "u", "password": "p2"}))
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert json.loads(sm.get_secret_value(SecretId=arn[:-7])["SecretString"])["password"] == "p2"
    previous = sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == created["VersionId"]
    assert sm.get_secret_value(SecretId="prod/db", VersionId=put["VersionId"])["VersionStages"] == ["AWSCURRENT"]
    described = sm.describe_secret(SecretId=arn)
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSPREVIOUS"], put["VersionId"]: ["AWSCURRENT"]}
    assert described["Description"] == "db" and described["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert "CreatedDate" in described and "LastChangedDate" in described and "LastAccessedDate" in described
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.create_secret(Name="prod/db", SecretString="again")


def test_binary_secrets_and_update(sm: Any) -> None:
    sm.create_secret(Name="bin", SecretBinary=b"\x00\xffdata", KmsKeyId="alias/mine")
    assert sm.get_secret_value(SecretId="bin")["SecretBinary"] == b"\x00\xffdata"
    updated = sm.update_secret(SecretId="bin", SecretString="now text", Description="changed")
    assert "VersionId" in updated
    got = sm.get_secret_value(SecretId="bin")
    assert got["SecretString"] == "now text" and "SecretBinary" not in got
    described = sm.describe_secret(SecretId="bin")
    assert described["Description"] == "changed" and described["KmsKeyId"] == "alias/mine"


def test_idempotent_create_with_a_client_token(sm: Any) -> None:
    token = "a" * 40
    first = sm.create_secret(Name="idem", SecretString="v", ClientRequestToken=token)
    again = sm.create_secret(Name="idem", SecretString="v", ClientRequestToken=token)
    assert (again["ARN"], again["VersionId"]) == (first["ARN"], token)


def test_delete_restore_and_force(sm: Any) -> None:
    arn = sm.create_secret(Name="gone", SecretString="v")["ARN"]
    deleted = sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    assert deleted["Name"] == "gone" and "DeletionDate" in deleted
    with pytest.raises(ClientError) as refused:
        sm.get_secret_value(SecretId="gone")
    assert _error(refused) == ("InvalidRequestException", MARKED)
    assert "DeletedDate" in sm.describe_secret(SecretId="gone")
    assert sm.list_secrets()["SecretList"] == []
    assert [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]] == ["gone"]
    sm.restore_secret(SecretId="gone")
    assert sm.get_secret_value(SecretId="gone")["SecretString"] == "v"
    with pytest.raises(ClientError) as both:
        sm.delete_secret(SecretId="gone", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert _error(both)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as short:
        sm.delete_secret(SecretId="gone", RecoveryWindowInDays=3)
    assert _error(short)[0] == "InvalidParameterException"
    sm.delete_secret(SecretId="gone", ForceDeleteWithoutRecovery=True)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId="gone")
    sm.create_secret(Name="gone", SecretString="reborn")


def test_list_with_filters_and_a_paginator(sm: Any) -> None:
    for n in range(12):
        sm.create_secret(Name=f"app/s{n:02d}", SecretString="v", Tags=[{"Key": "n", "Value": str(n % 2)}])
    sm.create_secret(Name="other", SecretString="v")
    pages = list(
        sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": ["app/"]}], PaginationConfig={"PageSize": 5}
        )
    )
    assert [len(page["SecretList"]) for page in pages] == [5, 5, 2]
    odd = sm.list_secrets(Filters=[{"Key": "tag-value", "Values": ["1"]}])["SecretList"]
    assert len(odd) == 6 and all("SecretVersionsToStages" in entry for entry in odd)
    assert [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": ["!app/"]}])["SecretList"]] == [
        "other"
    ]


def test_tags(sm: Any) -> None:
    arn = sm.create_secret(Name="tagged", SecretString="v")["ARN"]
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sm.untag_resource(SecretId="tagged", TagKeys=["a"])
    assert sm.describe_secret(SecretId="tagged")["Tags"] == [{"Key": "b", "Value": "2"}]


def test_random_password(sm: Any) -> None:
    password = sm.get_random_password(PasswordLength=24, ExcludePunctuation=True)["RandomPassword"]
    assert len(password) == 24 and password.isalnum()


@pytest.mark.parametrize(
    ("operation", "params", "code"),
    [
        ("create_secret", {"Name": "bad name", "SecretString": "v"}, "InvalidParameterException"),
        ("create_secret", {"Name": "both", "SecretString": "v", "SecretBinary": b"v"}, "InvalidParameterException"),
        (
            "create_secret",
            {"Name": "short-token", "SecretString": "v", "ClientRequestToken": "x"},
            "ValidationException",
        ),
        ("create_secret", {"Name": "x" * 513, "SecretString": "v"}, "ValidationException"),
        ("create_secret", {"SecretString": "v"}, "ValidationException"),
        ("get_secret_value", {"SecretId": "missing"}, "ResourceNotFoundException"),
        ("put_secret_value", {"SecretId": "missing", "SecretString": "v"}, "ResourceNotFoundException"),
        ("list_secrets", {"MaxResults": 101}, "ValidationException"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(
    endpoint: str, operation: str, params: dict[str, Any], code: str
) -> None:
    unchecked = client("secretsmanager", endpoint, config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        getattr(unchecked, operation)(**params)
    assert _error(refused)[0] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert unchecked.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []


def test_resource_policy(sm: Any) -> None:
    """Terraform's aws_secretsmanager_secret reads the policy on every refresh."""
    arn = sm.create_secret(Name="with/policy", SecretString="v")["ARN"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=arn)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*"}]})
    sm.put_resource_policy(SecretId="with/policy", ResourcePolicy=policy)
    assert sm.get_resource_policy(SecretId="with/policy")["ResourcePolicy"] == policy
    with pytest.raises(ClientError) as refused:
        sm.put_resource_policy(SecretId="with/policy", ResourcePolicy="{")
    assert _error(refused)[0] == "MalformedPolicyDocumentException"
    sm.delete_resource_policy(SecretId=arn)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=arn)


def test_other_operations_answer_not_supported(sm: Any) -> None:
    sm.create_secret(Name="r", SecretString="v")
    with pytest.raises(ClientError) as refused:
        sm.rotate_secret(SecretId="r")
    code, message = _error(refused)
    assert code == "UnsupportedOperationException" and "RotateSecret" in message


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
        [found, "secretsmanager", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_aws_cli(endpoint: str) -> None:
    created = _aws(endpoint, "create-secret", "--name", "cli/secret", "--secret-string", '{"k":"v"}')
    assert created.returncode == 0, created.stderr
    got = _aws(endpoint, "get-secret-value", "--secret-id", json.loads(created.stdout)["ARN"])
    assert got.returncode == 0, got.stderr
    assert json.loads(json.loads(got.stdout)["SecretString"]) == {"k": "v"}
    deleted = _aws(endpoint, "delete-secret", "--secret-id", "cli/secret", "--force-delete-without-recovery")
    assert deleted.returncode == 0, deleted.stderr
    missing = _aws(endpoint, "get-secret-value", "--secret-id", "cli/secret")
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
