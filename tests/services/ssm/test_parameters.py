"""SSM Parameter Store operations, called on the provider (no server): AWS's rules, versions,
tiers, labels, filters, and a refused request leaving the store as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError
from ecsemu.model import ssm_parameters as model
from ecsemu.services.ssm.provider import SsmProvider
from ecsemu.state.store import Store

CONTEXT = RequestContext("123456789012", "us-east-1")


class Ssm:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.provider = SsmProvider(store)

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.provider.handle(CONTEXT, operation, params)

    def refused(self, code: str, operation: str, **params: Any) -> str:
        """Call, expect ``code``, and check that nothing stored changed; the message."""
        before = self.store.revision
        with pytest.raises(AwsError) as raised:
            self(operation, **params)
        assert raised.value.code == code, raised.value
        assert self.store.revision == before
        return raised.value.message


@pytest.fixture
def ssm() -> Ssm:
    return Ssm(Store())


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("awsThing", "ValidationException"),
        ("/SSM/thing", "ValidationException"),
        ("a/b", "ValidationException"),
        ("/a//b", "ValidationException"),
        ("/a/", "ValidationException"),
        ("bad name", "ValidationException"),
        ("x" * 1012, "ValidationException"),
        ("/" + "/".join(["l"] * 16), "HierarchyLevelLimitExceededException"),
    ],
)
def test_names_follow_aws_rules(ssm: Ssm, name: str, code: str) -> None:
    ssm.refused(code, "PutParameter", Name=name, Value="v", Type="String")


def test_fifteen_levels_and_plain_names_are_fine(ssm: Ssm) -> None:
    assert ssm("PutParameter", Name="/" + "/".join(["l"] * 15), Value="v", Type="String")["Version"] == 1
    assert ssm("PutParameter", Name="plain.name-1_x", Value="v", Type="String")["Version"] == 1


def test_versions_overwrite_and_creation_rules(ssm: Ssm) -> None:
    ssm.refused("ValidationException", "PutParameter", Name="/p", Value="v")  # no Type on creation
    assert ssm("PutParameter", Name="/p", Value="1", Type="String", Description="d")["Version"] == 1
    message = ssm.refused("ParameterAlreadyExists", "PutParameter", Name="/p", Value="2", Type="String")
    assert "set the overwrite option" in message
    assert "tags and overwrite can't be used together" in ssm.refused(
        "ValidationException", "PutParameter", Name="/p", Value="2", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}]
    )
    assert ssm("PutParameter", Name="/p", Value="2", Overwrite=True) == {"Version": 2, "Tier": "Standard"}
    described = ssm("DescribeParameters")["Parameters"][0]
    assert described["Type"] == "String" and described["Description"] == "d" and described["Version"] == 2
    ssm.refused("ValidationException", "PutParameter", Name="/q", Value="v", Type="String", KeyId="alias/x")
    ssm.refused("ValidationException", "PutParameter", Name="/q", Value="", Type="String")
    ssm.refused("ValidationException", "PutParameter", Name="/q", Value="v", Type="String", DataType="aws:nope")


def test_tiers_and_value_limits(ssm: Ssm) -> None:
    assert "Standard tier parameters support a maximum" in ssm.refused(
        "ValidationException", "PutParameter", Name="/big", Value="x" * 4097, Type="String"
    )
    assert (
        ssm("PutParameter", Name="/big", Value="x" * 4097, Type="String", Tier="Intelligent-Tiering")["Tier"]
        == "Advanced"
    )
    ssm.refused("ValidationException", "PutParameter", Name="/big", Value="x", Overwrite=True, Tier="Standard")
    assert ssm("PutParameter", Name="/big", Value="x", Overwrite=True)["Tier"] == "Advanced"  # stays advanced
    ssm.refused("ValidationException", "PutParameter", Name="/big", Value="x" * 8193, Overwrite=True)
    assert ssm("PutParameter", Name="/adv", Value="x" * 8192, Type="String", Tier="Advanced")["Tier"] == "Advanced"


def test_allowed_pattern(ssm: Ssm) -> None:
    ssm.refused(
        "ParameterPatternMismatchException",
        "PutParameter",
        Name="/n",
        Value="abc",
        Type="String",
        AllowedPattern=r"^\d+$",
    )
    ssm.refused(
        "InvalidAllowedPatternException", "PutParameter", Name="/n", Value="1", Type="String", AllowedPattern="("
    )
    assert ssm("PutParameter", Name="/n", Value="12", Type="String", AllowedPattern=r"^\d+$")["Version"] == 1
    ssm.refused("ParameterPatternMismatchException", "PutParameter", Name="/n", Value="x", Overwrite=True)  # kept
    # a pattern that backtracks catastrophically is cut off, not left to hang the server
    ssm.refused(
        "ParameterPatternMismatchException",
        "PutParameter",
        Name="/r",
        Value="a" * 40 + "!",
        Type="String",
        AllowedPattern=r"^(a|aa)+$",
    )


def test_secure_strings_read_encrypted_unless_decrypted(ssm: Ssm) -> None:
    ssm("PutParameter", Name="/s", Value="hunter2", Type="SecureString")
    plain = ssm("GetParameter", Name="/s")["Parameter"]
    assert plain["Value"] != "hunter2" and plain["Value"].startswith("AQICAH")
    assert ssm("GetParameter", Name="/s", WithDecryption=True)["Parameter"]["Value"] == "hunter2"
    assert ssm("DescribeParameters")["Parameters"][0]["KeyId"] == "alias/aws/ssm"
    history = ssm("GetParameterHistory", Name="/s")["Parameters"]
    assert history[0]["Value"] == plain["Value"]


def test_at_most_one_hundred_versions(ssm: Ssm) -> None:
    for number in range(1, 101):
        ssm("PutParameter", Name="/v", Value=str(number), Type="String", Overwrite=number > 1)
    ssm("LabelParameterVersion", Name="/v", ParameterVersion=1, Labels=["first"])
    assert "can't be deleted because it has a label" in ssm.refused(
        "ParameterMaxVersionLimitExceeded", "PutParameter", Name="/v", Value="101", Overwrite=True
    )
    ssm("LabelParameterVersion", Name="/v", ParameterVersion=50, Labels=["first"])  # moves the label
    assert ssm("PutParameter", Name="/v", Value="101", Overwrite=True)["Version"] == 101
    parameter = model.find_parameter(ssm.store, CONTEXT.scope, "/v")
    assert parameter is not None and len(parameter.versions) == 100 and parameter.versions[0].version == 2
    assert ssm("GetParameter", Name="/v:first")["Parameter"]["Value"] == "50"
    ssm.refused("ParameterVersionNotFound", "GetParameter", Name="/v:1")


def test_labels(ssm: Ssm) -> None:
    ssm("PutParameter", Name="/l", Value="a", Type="String")
    ssm("PutParameter", Name="/l", Value="b", Overwrite=True)
    labelled = ssm("LabelParameterVersion", Name="/l", ParameterVersion=1, Labels=["good", "1bad", "awsbad"])
    assert labelled == {"InvalidLabels": ["1bad", "awsbad"], "ParameterVersion": 1}
    assert ssm("GetParameter", Name="/l:good")["Parameter"]["Selector"] == ":good"
    assert ssm("UnlabelParameterVersion", Name="/l", ParameterVersion=1, Labels=["good", "x"]) == {
        "RemovedLabels": ["good"], "InvalidLabels": ["x"],
    }  # fmt: skip
    ssm.refused("ParameterNotFound", "GetParameter", Name="/l:good")


def _names(result: dict[str, Any]) -> list[str]:
    return [parameter["Name"] for parameter in result["Parameters"]]


def test_by_path_filters_and_pages(ssm: Ssm) -> None:
    for name, kind in (
        ("/a/1", "String"),
        ("/a/2", "SecureString"),
        ("/a/b/3", "String"),
        ("/ab", "String"),
        ("/z", "String"),
    ):
        ssm("PutParameter", Name=name, Value="v", Type=kind, Tags=[{"Key": "team", "Value": name[1]}])
    assert _names(ssm("GetParametersByPath", Path="/a")) == ["/a/1", "/a/2"]
    assert _names(ssm("GetParametersByPath", Path="/a/", Recursive=True)) == ["/a/1", "/a/2", "/a/b/3"]
    assert _names(ssm("GetParametersByPath", Path="/")) == ["/ab", "/z"]
    typed = ssm(
        "GetParametersByPath", Path="/a", Recursive=True, ParameterFilters=[{"Key": "Type", "Values": ["String"]}]
    )
    assert _names(typed) == ["/a/1", "/a/b/3"]
    tagged = ssm(
        "GetParametersByPath", Path="/", Recursive=True, ParameterFilters=[{"Key": "tag:team", "Values": ["z"]}]
    )
    assert _names(tagged) == ["/z"]
    ssm.refused(
        "InvalidFilterKey", "GetParametersByPath", Path="/", ParameterFilters=[{"Key": "Name", "Values": ["x"]}]
    )
    ssm.refused("ValidationException", "GetParametersByPath", Path="nope")
    seen, token = [], None
    while True:
        page = ssm(
            "GetParametersByPath", Path="/", Recursive=True, MaxResults=2, **({"NextToken": token} if token else {})
        )
        seen += _names(page)
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ["/a/1", "/a/2", "/a/b/3", "/ab", "/z"]
    ssm.refused("InvalidNextToken", "GetParametersByPath", Path="/", NextToken="garbage")


def test_describe_filters(ssm: Ssm) -> None:
    for name in ("/a/1", "/a/b/2", "/b/1", "plain"):
        ssm("PutParameter", Name=name, Value="v", Type="String")
    describe = lambda **params: _names(ssm("DescribeParameters", **params))  # noqa: E731
    assert describe(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": ["/a"]}]) == ["/a/1", "/a/b/2"]
    assert describe(ParameterFilters=[{"Key": "Path", "Values": ["/a"]}]) == ["/a/1"]
    assert describe(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/a"]}]) == ["/a/1", "/a/b/2"]
    assert describe(ParameterFilters=[{"Key": "Name", "Values": ["plain"]}]) == ["plain"]
    assert describe(Filters=[{"Key": "Name", "Values": ["/b"]}]) == ["/b/1"]
    ssm.refused(
        "InvalidFilterOption",
        "DescribeParameters",
        ParameterFilters=[{"Key": "Type", "Option": "Contains", "Values": ["String"]}],
    )
    ssm.refused(
        "ValidationException",
        "DescribeParameters",
        Filters=[{"Key": "Name", "Values": ["x"]}],
        ParameterFilters=[{"Key": "Name", "Values": ["x"]}],
    )


def test_get_and_delete_many(ssm: Ssm) -> None:
    ssm("PutParameter", Name="/x", Value="1", Type="String")
    ssm("PutParameter", Name="y", Value="2", Type="StringList")
    got = ssm("GetParameters", Names=["/x", "y", "/missing", "/x:9", "arn:aws:ssm:us-east-1:123456789012:parameter/x"])
    assert _names(got) == ["/x", "y", "/x"] and got["InvalidParameters"] == ["/missing", "/x:9"]
    assert ssm("DeleteParameters", Names=["/x", "/missing"]) == {
        "DeletedParameters": ["/x"],
        "InvalidParameters": ["/missing"],
    }
    ssm("DeleteParameter", Name="arn:aws:ssm:us-east-1:123456789012:parameter/y")
    ssm.refused("ParameterNotFound", "DeleteParameter", Name="y")
    assert ssm("DescribeParameters")["Parameters"] == []


def test_tags(ssm: Ssm) -> None:
    ssm("PutParameter", Name="/t", Value="v", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    ssm(
        "AddTagsToResource",
        ResourceType="Parameter",
        ResourceId="/t",
        Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}],
    )
    assert ssm("ListTagsForResource", ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"},
    ]  # fmt: skip
    ssm("RemoveTagsFromResource", ResourceType="Parameter", ResourceId="/t", TagKeys=["a"])
    assert ssm("ListTagsForResource", ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "b", "Value": "3"}
    ]
    ssm.refused("InvalidResourceId", "ListTagsForResource", ResourceType="Parameter", ResourceId="/none")
    many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    ssm.refused("TooManyTagsError", "AddTagsToResource", ResourceType="Parameter", ResourceId="/t", Tags=many)
    ssm.refused("UnsupportedOperationException", "ListTagsForResource", ResourceType="Document", ResourceId="d")


def test_other_operations_are_not_supported(ssm: Ssm) -> None:
    assert "ListDocuments is not supported" in ssm.refused("UnsupportedOperationException", "ListDocuments")


def test_parameters_survive_a_reopened_store(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = Ssm(Store(path))
    first("PutParameter", Name="/d", Value="secret", Type="SecureString", Tags=[{"Key": "k", "Value": "v"}])
    first("PutParameter", Name="/d", Value="secret2", Overwrite=True)
    first.store.close()
    again = Ssm(Store(path))
    assert again("GetParameter", Name="/d", WithDecryption=True)["Parameter"]["Value"] == "secret2"
    assert [entry["Version"] for entry in again("GetParameterHistory", Name="/d")["Parameters"]] == [1, 2]
    assert model.resolve_parameter(again.store, CONTEXT.scope, "/d") == "secret2"
    again.store.close()
