"""Unit tests of ecsemu.taskenv.secrets: ``secrets[].valueFrom`` resolved through SSM Parameter
Store and Secrets Manager (records made through their providers), and ECS's reasons when a
reference does not resolve."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecsemu.context import RequestContext, Scope
from ecsemu.runtime.base import LaunchRefused
from ecsemu.services.secretsmanager.provider import SecretsManagerProvider
from ecsemu.services.ssm.provider import SsmProvider
from ecsemu.state.store import Store
from ecsemu.taskenv.secrets import resolve, secret_environment

SCOPE = Scope("123456789012", "us-east-1")
CONTEXT = RequestContext(SCOPE.account_id, SCOPE.region)
PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "


@pytest.fixture
def store() -> Store:
    store = Store()
    ssm = SsmProvider(store)
    ssm.handle(CONTEXT, "PutParameter", {"Name": "/app/db-password", "Value": "s3cr3t", "Type": "SecureString"})
    ssm.handle(CONTEXT, "PutParameter", {"Name": "plain", "Value": "hello", "Type": "String"})
    ssm.handle(CONTEXT, "PutParameter", {"Name": "plain", "Value": "hello-2", "Type": "String", "Overwrite": True})
    return store


def create_secret(store: Store, name: str, value: str) -> str:
    result = SecretsManagerProvider(store).handle(CONTEXT, "CreateSecret", {"Name": name, "SecretString": value})
    return str(result["ARN"])


def test_ssm_parameters_by_name_arn_and_version(store: Store) -> None:
    assert resolve(store, SCOPE, "/app/db-password") == "s3cr3t"  # SecureString, decrypted
    assert resolve(store, SCOPE, "arn:aws:ssm:us-east-1:123456789012:parameter/app/db-password") == "s3cr3t"
    assert resolve(store, SCOPE, "plain") == "hello-2"
    assert resolve(store, SCOPE, "plain:1") == "hello"


def test_secrets_manager_whole_value_and_json_key(store: Store) -> None:
    arn = create_secret(store, "app/db", json.dumps({"user": "admin", "port": 5432}))
    assert json.loads(resolve(store, SCOPE, arn)) == {"user": "admin", "port": 5432}
    assert resolve(store, SCOPE, f"{arn}:user::") == "admin"
    assert resolve(store, SCOPE, f"{arn}:port:AWSCURRENT:") == "5432"


def test_secret_environment_gives_the_named_variables(store: Store) -> None:
    arn = create_secret(store, "app/db", json.dumps({"user": "admin"}))
    container: dict[str, Any] = {
        "name": "main",
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": "/app/db-password"},
            {"name": "DB_USER", "valueFrom": f"{arn}:user::"},
        ],
        "logConfiguration": {"logDriver": "awslogs", "secretOptions": [{"name": "token", "valueFrom": "plain"}]},
    }
    # secretOptions are checked, not made into variables
    assert secret_environment(store, SCOPE, container) == {"DB_PASSWORD": "s3cr3t", "DB_USER": "admin"}
    assert secret_environment(store, SCOPE, {"name": "bare"}) == {}


def test_a_missing_ssm_parameter_is_refused_with_ecs_reason(store: Store) -> None:
    container = {"name": "main", "secrets": [{"name": "X", "valueFrom": "/no/such"}]}
    with pytest.raises(LaunchRefused) as refused:
        secret_environment(store, SCOPE, container)
    assert refused.value.container == "main"
    assert refused.value.reason.startswith(
        PREFIX + "unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
    )
    assert "ParameterNotFound" in refused.value.reason


def test_a_missing_secret_is_refused_with_ecs_reason(store: Store) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    with pytest.raises(LaunchRefused) as refused:
        secret_environment(store, SCOPE, {"name": "main", "secrets": [{"name": "X", "valueFrom": missing}]})
    assert refused.value.reason.startswith(
        PREFIX + "unable to retrieve secret from asm: service call has been retried 1 time(s): "
        f"failed to fetch secret {missing} from secrets manager: ResourceNotFoundException"
    )


def test_a_missing_json_key_is_refused(store: Store) -> None:
    arn = create_secret(store, "app/db", json.dumps({"user": "admin"}))
    with pytest.raises(LaunchRefused, match="did not contain json key password"):
        secret_environment(store, SCOPE, {"name": "main", "secrets": [{"name": "X", "valueFrom": f"{arn}:password::"}]})


def test_a_missing_secret_option_is_refused_too(store: Store) -> None:
    container = {
        "name": "main",
        "logConfiguration": {"logDriver": "awslogs", "secretOptions": [{"name": "k", "valueFrom": "/gone"}]},
    }
    with pytest.raises(LaunchRefused, match="ParameterNotFound"):
        secret_environment(store, SCOPE, container)


def test_another_accounts_parameter_is_not_found(store: Store) -> None:
    with pytest.raises(LaunchRefused):
        secret_environment(
            store,
            SCOPE,
            {
                "name": "m",
                "secrets": [{"name": "X", "valueFrom": "arn:aws:ssm:us-east-1:999999999999:parameter/plain"}],
            },
        )
