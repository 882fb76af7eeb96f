"""Secrets Manager resource policies, called on the provider (no server): Terraform's
``aws_secretsmanager_secret`` reads GetResourcePolicy on every refresh, so a secret without a
policy must answer it (ARN and Name, no ``ResourcePolicy``), not refuse it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError
from ecsemu.services.secretsmanager.provider import SecretsManagerProvider
from ecsemu.state.store import Store

CONTEXT = RequestContext("123456789012", "us-east-1")

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
)


class Sm:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.provider = SecretsManagerProvider(store)

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.provider.handle(CONTEXT, operation, params)

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


def test_a_secret_without_a_policy_answers_arn_and_name(sm: Sm) -> None:
    created = sm("CreateSecret", Name="db", SecretString="v")
    assert sm("GetResourcePolicy", SecretId="db") == {"ARN": created["ARN"], "Name": "db"}


def test_put_get_delete(sm: Sm) -> None:
    arn = sm("CreateSecret", Name="db", SecretString="v")["ARN"]
    assert sm("PutResourcePolicy", SecretId=arn, ResourcePolicy=POLICY) == {"ARN": arn, "Name": "db"}
    assert sm("GetResourcePolicy", SecretId="db")["ResourcePolicy"] == POLICY
    assert sm("ValidateResourcePolicy", SecretId="db", ResourcePolicy=POLICY) == {
        "PolicyValidationPassed": True,
        "ValidationErrors": [],
    }
    assert sm("DeleteResourcePolicy", SecretId="db") == {"ARN": arn, "Name": "db"}
    assert "ResourcePolicy" not in sm("GetResourcePolicy", SecretId="db")


def test_bad_policies_and_missing_secrets_change_nothing(sm: Sm) -> None:
    sm("CreateSecret", Name="db", SecretString="v")
    assert "syntax error" in sm.refused(
        "MalformedPolicyDocumentException", "PutResourcePolicy", SecretId="db", ResourcePolicy="{not json"
    )
    sm.refused("MalformedPolicyDocumentException", "PutResourcePolicy", SecretId="db", ResourcePolicy='{"a": 1}')
    sm.refused("ResourceNotFoundException", "GetResourcePolicy", SecretId="missing")
    sm.refused("ResourceNotFoundException", "PutResourcePolicy", SecretId="missing", ResourcePolicy=POLICY)
    assert "ResourcePolicy" not in sm("GetResourcePolicy", SecretId="db")


def test_a_secret_scheduled_for_deletion_is_read_but_not_changed(sm: Sm) -> None:
    sm("CreateSecret", Name="db", SecretString="v")
    sm("PutResourcePolicy", SecretId="db", ResourcePolicy=POLICY)
    sm("DeleteSecret", SecretId="db", RecoveryWindowInDays=7)
    assert sm("GetResourcePolicy", SecretId="db")["ResourcePolicy"] == POLICY
    sm.refused("InvalidRequestException", "PutResourcePolicy", SecretId="db", ResourcePolicy=POLICY)
    sm.refused("InvalidRequestException", "DeleteResourcePolicy", SecretId="db")
