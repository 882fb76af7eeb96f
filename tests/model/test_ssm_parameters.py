"""The SSM parameter model: ARNs, selectors, and how ECS's ``valueFrom`` resolves."""

from __future__ import annotations

from typing import Any

import pytest

from ecsemu.context import Scope
from ecsemu.model import ssm_parameters as model
from ecsemu.model.secret_refs import SecretNotFound
from ecsemu.state.store import Store

SCOPE = Scope("123456789012", "us-east-1")
OTHER = Scope("210987654321", "eu-west-1")


def _version(number: int, value: str, parameter_type: str = "String", labels: tuple[str, ...] = ()) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Version": number, "Type": parameter_type, "Value": value, "Tier": "Standard", "DataType": "text",
        "LastModifiedDate": 1.0 * number, "LastModifiedUser": "u", "Labels": list(labels),
    }  # fmt: skip
    if parameter_type == "SecureString":
        entry["Ciphertext"] = "AQICAH-opaque"
        entry["KeyId"] = model.DEFAULT_KEY_ID
    return entry


def _put(store: Store, scope: Scope, name: str, *versions: dict[str, Any]) -> None:
    store.put(scope, model.KIND, name, {"spec": {"Name": name, "Tags": [], "Versions": list(versions)}, "status": {}})


@pytest.fixture
def store() -> Store:
    store = Store()
    _put(
        store,
        SCOPE,
        "/app/db/password",
        _version(1, "old", "SecureString"),
        _version(2, "new", "SecureString", ("prod",)),
    )
    _put(store, SCOPE, "plain", _version(1, "p"))
    _put(store, OTHER, "/shared/key", _version(1, "elsewhere"))
    return store


def test_arn_drops_the_leading_slash() -> None:
    assert model.parameter_arn(SCOPE, "/a/b") == "arn:aws:ssm:us-east-1:123456789012:parameter/a/b"
    assert model.parameter_arn(SCOPE, "plain") == "arn:aws:ssm:us-east-1:123456789012:parameter/plain"
    assert model.parse_arn("arn:aws:ssm:eu-west-1:210987654321:parameter/shared/key") == (OTHER, "shared/key")
    assert model.parse_arn("arn:aws:ssm:eu-west-1:210987654321:document/x") is None
    assert model.parse_arn("not-an-arn") is None


def test_selectors() -> None:
    assert model.split_selector("/a/b:3") == ("/a/b", "3")
    assert model.split_selector("/a/b") == ("/a/b", None)
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/a/b"
    assert model.split_selector(arn) == (arn, None)
    assert model.split_selector(arn + ":prod") == (arn, "prod")


def test_a_parameter_selects_versions_by_number_and_label(store: Store) -> None:
    parameter = model.find_parameter(store, SCOPE, "/app/db/password")
    assert parameter is not None
    assert parameter.current.version == 2
    assert parameter.select("1") is not None and parameter.select("1").value == "old"  # type: ignore[union-attr]
    assert parameter.select("prod") == parameter.current
    assert parameter.select("9") is None and parameter.select("nolabel") is None
    assert parameter.current.shown_value(False) == "AQICAH-opaque"
    assert parameter.current.shown_value(True) == "new"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ("/app/db/password", "new"),
        ("app/db/password", "new"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password", "new"),
        ("plain", "p"),
        ("/plain", "p"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/plain", "p"),
        ("arn:aws:ssm:eu-west-1:210987654321:parameter/shared/key", "elsewhere"),
        ("/app/db/password:1", "old"),
    ],
)
def test_resolve_parameter(store: Store, value_from: str, expected: str) -> None:
    assert model.resolve_parameter(store, SCOPE, value_from) == expected


@pytest.mark.parametrize(
    ("value_from", "reason"),
    [
        ("/missing", "ParameterNotFound"),
        ("/shared/key", "ParameterNotFound"),  # lives in another scope: only its ARN finds it
        ("arn:aws:ssm:us-east-1:123456789012:parameter/missing", "ParameterNotFound"),
        ("/app/db/password:7", "ParameterVersionNotFound"),
        ("arn:aws:ssm:us-east-1:123456789012:bogus", "ValidationException"),
    ],
)
def test_unresolved_parameters_say_why(store: Store, value_from: str, reason: str) -> None:
    with pytest.raises(SecretNotFound) as raised:
        model.resolve_parameter(store, SCOPE, value_from)
    assert raised.value.reason.startswith(reason)
    assert isinstance(raised.value, LookupError)
