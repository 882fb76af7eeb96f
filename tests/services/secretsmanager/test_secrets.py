"""Secrets Manager operations, called on the provider (no server): versions and staging labels,
idempotency, deletion windows, listing, and a refused request leaving the store as it was."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError
from ecsemu.model import secrets_manager as model
from ecsemu.services.secretsmanager.base import OPERATIONS, Call
from ecsemu.services.secretsmanager.provider import SecretsManagerProvider
from ecsemu.state.store import Store

CONTEXT = RequestContext("123456789012", "us-east-1")
TOKEN1, TOKEN2, TOKEN3 = "1" * 32, "2" * 32, "3" * 32


class Sm:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.provider = SecretsManagerProvider(store)

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.provider.handle(CONTEXT, operation, params)

    def at(self, now: float, operation: str, **params: Any) -> dict[str, Any]:
        """Call as if the clock read ``now``."""
        with self.store.transaction():
            return OPERATIONS[operation](Call(CONTEXT, self.store, now), params)

    def refused(self, code: str, operation: str, **params: Any) -> str:
        before = self.store.revision
        with pytest.raises(AwsError) as raised:
            self(operation, **params)
        assert raised.value.code == code, raised.value
        assert self.store.revision == before
        return raised.value.message


@pytest.fixture
def sm() -> Sm:
    return Sm(Store())


def test_create_rules_and_idempotency(sm: Sm) -> None:
    created = sm("CreateSecret", Name="db", SecretString="v1", ClientRequestToken=TOKEN1)
    assert created["VersionId"] == TOKEN1 and created["ARN"].startswith(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-"
    )
    assert len(created["ARN"].rsplit("-", 1)[1]) == 6
    assert sm("CreateSecret", Name="db", SecretString="v1", ClientRequestToken=TOKEN1) == created  # a retry
    assert "already exists" in sm.refused(
        "ResourceExistsException", "CreateSecret", Name="db", SecretString="other", ClientRequestToken=TOKEN1
    )
    sm.refused("ResourceExistsException", "CreateSecret", Name="db", SecretString="v1", ClientRequestToken=TOKEN2)
    sm.refused("InvalidParameterException", "CreateSecret", Name="bad name!", SecretString="v")
    sm.refused("InvalidParameterException", "CreateSecret", Name="both", SecretString="v", SecretBinary="AA==")
    empty = sm("CreateSecret", Name="empty")
    assert "VersionId" not in empty
    assert "staging label: AWSCURRENT" in sm.refused("ResourceNotFoundException", "GetSecretValue", SecretId="empty")


def test_put_moves_stages(sm: Sm) -> None:
    arn = sm("CreateSecret", Name="s", SecretString="v1", ClientRequestToken=TOKEN1)["ARN"]
    assert sm("PutSecretValue", SecretId=arn, SecretString="v2", ClientRequestToken=TOKEN2)["VersionStages"] == [
        "AWSCURRENT"
    ]
    stages = sm("DescribeSecret", SecretId="s")["VersionIdsToStages"]
    assert stages == {TOKEN1: ["AWSPREVIOUS"], TOKEN2: ["AWSCURRENT"]}
    sm("PutSecretValue", SecretId="s", SecretString="pending", ClientRequestToken=TOKEN3, VersionStages=["AWSPENDING"])
    assert sm("GetSecretValue", SecretId="s")["SecretString"] == "v2"
    assert sm("GetSecretValue", SecretId="s", VersionStage="AWSPENDING")["SecretString"] == "pending"
    assert sm("GetSecretValue", SecretId="s", VersionId=TOKEN1)["SecretString"] == "v1"
    # the same token again: the version already made; with another value: refused
    assert sm("PutSecretValue", SecretId="s", SecretString="v2", ClientRequestToken=TOKEN2)["VersionId"] == TOKEN2
    assert "can't modify an existing version" in sm.refused(
        "ResourceExistsException", "PutSecretValue", SecretId="s", SecretString="changed", ClientRequestToken=TOKEN2
    )
    sm.refused("InvalidRequestException", "PutSecretValue", SecretId="s")
    sm.refused("ResourceNotFoundException", "GetSecretValue", SecretId="s", VersionId="9" * 32)
    sm.refused("ResourceNotFoundException", "PutSecretValue", SecretId="nope", SecretString="x")


def test_deprecated_versions_beyond_one_hundred_go(sm: Sm) -> None:
    sm("CreateSecret", Name="many", SecretString="0")
    for number in range(1, 120):
        sm("PutSecretValue", SecretId="many", SecretString=str(number))
    secret = model.find_secret(sm.store, CONTEXT.scope, "many")
    assert secret is not None and len(secret.versions) == model.MAX_VERSIONS
    assert secret.version().secret_string == "119"  # type: ignore[union-attr]
    assert secret.version(stage="AWSPREVIOUS").secret_string == "118"  # type: ignore[union-attr]


def test_update_secret(sm: Sm) -> None:
    sm("CreateSecret", Name="u", SecretString="v1", Description="old")
    assert "VersionId" not in sm("UpdateSecret", SecretId="u", Description="new", KmsKeyId="alias/mine")
    updated = sm("UpdateSecret", SecretId="u", SecretBinary=base64.b64encode(b"\x00bin").decode())
    assert sm("GetSecretValue", SecretId="u")["SecretBinary"] == base64.b64encode(b"\x00bin").decode()
    described = sm("DescribeSecret", SecretId="u")
    assert described["Description"] == "new" and described["KmsKeyId"] == "alias/mine"
    assert described["VersionIdsToStages"][updated["VersionId"]] == ["AWSCURRENT"]


def test_deletion_windows(sm: Sm) -> None:
    arn = sm("CreateSecret", Name="d", SecretString="v")["ARN"]
    sm.refused(
        "InvalidParameterException",
        "DeleteSecret",
        SecretId="d",
        RecoveryWindowInDays=7,
        ForceDeleteWithoutRecovery=True,
    )
    assert "between 7 and 30" in sm.refused(
        "InvalidParameterException", "DeleteSecret", SecretId="d", RecoveryWindowInDays=6
    )
    sm.refused("InvalidParameterException", "DeleteSecret", SecretId="d", RecoveryWindowInDays=31)
    start = time.time()
    deleted = sm.at(start, "DeleteSecret", SecretId=arn)
    assert deleted["DeletionDate"] == start + 30 * 86400
    marked = "You can't perform this operation on the secret because it was marked for deletion."
    for operation, params in (
        ("GetSecretValue", {}),
        ("PutSecretValue", {"SecretString": "x"}),
        ("UpdateSecret", {"Description": "x"}),
        ("TagResource", {"Tags": [{"Key": "k", "Value": "v"}]}),
        ("DeleteSecret", {}),
    ):
        assert sm.refused("InvalidRequestException", operation, SecretId="d", **params) == marked
    assert "already scheduled for deletion" in sm.refused(
        "InvalidRequestException", "CreateSecret", Name="d", SecretString="v"
    )
    assert sm("DescribeSecret", SecretId="d")["DeletedDate"] == start
    assert sm("ListSecrets")["SecretList"] == []
    assert [entry["Name"] for entry in sm("ListSecrets", IncludePlannedDeletion=True)["SecretList"]] == ["d"]
    sm("RestoreSecret", SecretId="d")
    assert sm("GetSecretValue", SecretId="d")["SecretString"] == "v"
    # scheduled again; once the window has passed the secret is gone and its name free
    sm.at(start, "DeleteSecret", SecretId="d", RecoveryWindowInDays=7)
    later = start + 7 * 86400 + 1
    with pytest.raises(AwsError) as raised:
        sm.at(later, "DescribeSecret", SecretId="d")
    assert raised.value.code == "ResourceNotFoundException"
    assert sm.at(later, "CreateSecret", Name="d", SecretString="new")["ARN"] != arn


def test_force_delete_frees_the_name_at_once(sm: Sm) -> None:
    sm("CreateSecret", Name="f", SecretString="v")
    sm("DeleteSecret", SecretId="f", RecoveryWindowInDays=7)
    assert sm("DeleteSecret", SecretId="f", ForceDeleteWithoutRecovery=True)["Name"] == "f"
    sm.refused("ResourceNotFoundException", "DescribeSecret", SecretId="f")
    sm("CreateSecret", Name="f", SecretString="again")


def test_list_filters_sorting_and_pages(sm: Sm) -> None:
    for name, description, team in (
        ("prod/db", "database", "red"),
        ("prod/api", "api key", "blue"),
        ("dev/db", "database", "red"),
    ):
        sm("CreateSecret", Name=name, Description=description, SecretString="v", Tags=[{"Key": "team", "Value": team}])

    def names(**params: Any) -> list[str]:
        return [entry["Name"] for entry in sm("ListSecrets", **params)["SecretList"]]

    assert names() == ["prod/db", "prod/api", "dev/db"]
    assert names(SortOrder="desc") == ["dev/db", "prod/api", "prod/db"]
    assert names(SortBy="name") == ["dev/db", "prod/api", "prod/db"]
    assert names(Filters=[{"Key": "name", "Values": ["prod/"]}]) == ["prod/db", "prod/api"]
    assert names(
        Filters=[{"Key": "name", "Values": ["prod/", "dev/"]}, {"Key": "description", "Values": ["data"]}]
    ) == ["prod/db", "dev/db"]
    assert names(Filters=[{"Key": "tag-value", "Values": ["!red"]}]) == ["prod/api"]
    assert names(Filters=[{"Key": "all", "Values": ["blue"]}]) == ["prod/api"]
    first = sm("ListSecrets", MaxResults=2)
    assert len(first["SecretList"]) == 2 and "SecretVersionsToStages" in first["SecretList"][0]
    rest = sm("ListSecrets", MaxResults=2, NextToken=first["NextToken"])
    assert [entry["Name"] for entry in rest["SecretList"]] == ["dev/db"] and "NextToken" not in rest
    sm.refused("InvalidNextTokenException", "ListSecrets", NextToken="garbage")


def test_tags_and_lookup_by_arn(sm: Sm) -> None:
    arn = sm("CreateSecret", Name="t", SecretString="v", Tags=[{"Key": "a", "Value": "1"}])["ARN"]
    sm("TagResource", SecretId=arn[:-7], Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    sm("UntagResource", SecretId=arn, TagKeys=["b"])
    assert sm("DescribeSecret", SecretId="t")["Tags"] == [{"Key": "a", "Value": "2"}]
    too_many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    sm.refused("LimitExceededException", "TagResource", SecretId="t", Tags=too_many)
    sm.refused("ResourceNotFoundException", "GetSecretValue", SecretId=arn.replace("us-east-1", "eu-west-1"))


def test_random_password(sm: Sm) -> None:
    password = sm("GetRandomPassword", PasswordLength=40, ExcludePunctuation=True, ExcludeCharacters="abc")[
        "RandomPassword"
    ]
    assert len(password) == 40 and password.isalnum() and not set("abc") & set(password)
    assert any(c.isdigit() for c in password) and any(c.isupper() for c in password)
    sm.refused(
        "InvalidParameterException",
        "GetRandomPassword",
        ExcludeLowercase=True,
        ExcludeUppercase=True,
        ExcludeNumbers=True,
        ExcludePunctuation=True,
    )


def test_other_operations_are_not_supported(sm: Sm) -> None:
    assert "RotateSecret is not supported" in sm.refused("UnsupportedOperationException", "RotateSecret", SecretId="x")


def test_secrets_survive_a_reopened_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Sm(Store(path))
    arn = first("CreateSecret", Name="keep", SecretString=json.dumps({"password": "pw"}))["ARN"]
    first("DeleteSecret", SecretId="keep", RecoveryWindowInDays=7)
    first.store.close()
    again = Sm(Store(path))
    assert again("DescribeSecret", SecretId=arn)["DeletedDate"] > 0
    again("RestoreSecret", SecretId=arn)
    assert model.resolve_secret(again.store, CONTEXT.scope, arn + ":password::") == "pw"
    again.store.close()
