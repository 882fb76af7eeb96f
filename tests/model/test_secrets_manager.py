"""The Secrets Manager model: finding a secret by name, full or partial ARN, and how ECS's
``valueFrom`` (with ``:json-key:version-stage:version-id``) resolves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecsemu.context import Scope
from ecsemu.model import secrets_manager as model
from ecsemu.model.secret_refs import SecretNotFound
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
OTHER = Scope("210987654321", "eu-west-1")
V1, V2 = "a" * 32, "b" * 32


def _put(store: Store, scope: Scope, name: str, suffix: str, versions: dict[str, Any], **extra: Any) -> str:
    arn = model.secret_arn(scope, name, suffix)
    spec = {
        "ARN": arn,
        "Name": name,
        "Tags": [],
        "CreatedDate": 1.0,
        "LastChangedDate": 1.0,
        "Versions": versions,
        **extra,
    }
    store.put(scope, model.KIND, name, {"spec": spec, "status": {}})
    return arn


@pytest.fixture
def store() -> Store:
    store = Store()
    _put(store, SCOPE, "db", "AbCdEf", {
        V1: {"SecretString": json.dumps({"password": "old"}), "CreatedDate": 1.0, "VersionStages": ["AWSPREVIOUS"]},
        V2: {"SecretString": json.dumps({"password": "new", "port": 5432}), "CreatedDate": 2.0, "VersionStages": ["AWSCURRENT"]},
    })  # fmt: skip
    _put(
        store,
        SCOPE,
        "plain-Secret",
        "XyZ123",
        {V1: {"SecretString": "text", "CreatedDate": 1.0, "VersionStages": ["AWSCURRENT"]}},
    )
    _put(
        store,
        SCOPE,
        "bin",
        "QQQQQQ",
        {V1: {"SecretBinary": "aGVsbG8=", "CreatedDate": 1.0, "VersionStages": ["AWSCURRENT"]}},
    )
    _put(store, SCOPE, "gone", "GGGGGG", {}, DeletedDate=1.0, DeletionDate=2.0)
    _put(store, SCOPE, "doomed", "DDDDDD", {}, DeletedDate=1.0, DeletionDate=9e12)
    _put(
        store,
        OTHER,
        "far",
        "FFFFFF",
        {V1: {"SecretString": "away", "CreatedDate": 1.0, "VersionStages": ["AWSCURRENT"]}},
    )
    return store


def test_found_by_name_full_arn_and_partial_arn(store: Store) -> None:
    arn = model.secret_arn(SCOPE, "db", "AbCdEf")
    for secret_id in ("db", arn, arn[: -len("-AbCdEf")]):
        found = model.find_secret(store, SCOPE, secret_id)
        assert found is not None and found.name == "db", secret_id
    assert model.find_secret(store, SCOPE, arn[:-1] + ("y" if arn.endswith("x") else "x")) is None  # a wrong suffix names nothing
    assert model.find_secret(store, OTHER, arn) is None  # an ARN of another scope names nothing here
    # a name that itself ends like a suffix is still found by its partial ARN
    plain = model.secret_arn(SCOPE, "plain-Secret", "XyZ123")
    assert model.find_secret(store, SCOPE, plain[: -len("-XyZ123")]) is not None


def test_a_secret_past_its_recovery_window_is_gone(store: Store) -> None:
    assert model.find_secret(store, SCOPE, "gone") is None
    doomed = model.find_secret(store, SCOPE, "doomed")
    assert doomed is not None and doomed.is_scheduled_for_deletion


def test_versions_by_stage_and_id(store: Store) -> None:
    secret = model.find_secret(store, SCOPE, "db")
    assert secret is not None
    assert secret.version().version_id == V2  # type: ignore[union-attr]
    assert secret.version(stage="AWSPREVIOUS").version_id == V1  # type: ignore[union-attr]
    assert secret.version(version_id=V1, stage="AWSCURRENT") is None
    assert secret.versions_to_stages() == {V1: ["AWSPREVIOUS"], V2: ["AWSCURRENT"]}


ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ("db", json.dumps({"password": "new", "port": 5432})),
        (ARN, json.dumps({"password": "new", "port": 5432})),
        (ARN + ":password::", "new"),
        (ARN + ":password:AWSPREVIOUS:", "old"),
        (ARN + f":password::{V1}", "old"),
        (ARN + ":port::", "5432"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:db:password::", "new"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:bin", "hello"),
        ("arn:aws:secretsmanager:eu-west-1:210987654321:secret:far-FFFFFF", "away"),
        ("plain-Secret", "text"),
    ],
)
def test_resolve_secret(store: Store, value_from: str, expected: str) -> None:
    assert model.resolve_secret(store, SCOPE, value_from) == expected


@pytest.mark.parametrize(
    ("value_from", "reason"),
    [
        ("missing", "ResourceNotFoundException: Secrets Manager can't find the specified secret."),
        ("far", "ResourceNotFoundException"),
        ("gone", "ResourceNotFoundException"),
        ("doomed", "InvalidRequestException: You can't perform this operation on the secret because it was marked for deletion."),
        (ARN + ":nokey::", "retrieved secret from Secrets Manager did not contain json key nokey"),
        (ARN + ":password:AWSPENDING:", "ResourceNotFoundException: Secrets Manager can't find the specified secret value for staging label: AWSPENDING"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:plain-Secret-XyZ123:key::", "unable to unmarshal"),
        ("arn:aws:secretsmanager:us-east-1", "ResourceNotFoundException"),
    ],
)  # fmt: skip
def test_unresolved_secrets_say_why(store: Store, value_from: str, reason: str) -> None:
    with pytest.raises(SecretNotFound) as raised:
        model.resolve_secret(store, SCOPE, value_from)
    assert raised.value.reason.startswith(reason), raised.value.reason
