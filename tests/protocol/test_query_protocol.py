"""Round trips of ecsemu.protocol.query_protocol through botocore's own serializer and parser.

Requests: botocore's QuerySerializer writes a form, ecsemu reads it back into the very params
given. Answers: ecsemu writes XML, botocore's QueryParser reads back the very result given.
Every operation of several query services is tried with an example that fills every member
(lists and maps of two), so lists, maps, flattened lists, renamed members and every scalar
type are all crossed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import given
from hypothesis import strategies as st

from ecsemu.errors import ClientError, ServerError
from ecsemu.protocol.query_protocol import (
    MalformedQueryString,
    MissingAction,
    QueryValidationError,
    action_of,
    query_service,
    read_form,
    serialize_error,
)

# Query services with different wire features: elbv2 (ours), sns (maps), rds (renamed list
# members), sdb (flattened lists), iam and sts (plain); ours too: cloudwatch (query among its
# protocols) and sqs (its query era restored by legacy_query: flattened, renamed lists and maps).
SERVICES = ("elbv2", "sns", "rds", "sdb", "iam", "sts", "cloudwatch", "sqs")
TRICKY = "a&b<c>\"d'e é 漢 %+=.\t"
WHEN = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def example(shape: Any, variant: int = 0, depth: int = 0) -> Any:
    """A value of ``shape`` with every member filled; ``variant`` makes siblings differ."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 8:
            return {}
        return {
            name: example(member, variant + index, depth + 1)
            for index, member_name in enumerate(shape.members)
            for name, member in [(member_name, shape.members[member_name])]
            if not member.serialization.get("eventstream")
        }
    if kind == "list":
        return [example(shape.member, variant + offset, depth + 1) for offset in (0, 1)]
    if kind == "map":
        keys = [example(shape.key, variant + offset, depth + 1) for offset in (0, 1)]
        if keys[0] == keys[1]:
            keys[1] = f"{keys[1]}-2"
        return {key: example(shape.value, variant + index, depth + 1) for index, key in enumerate(keys)}
    if kind == "string":
        if shape.enum:
            return shape.enum[variant % len(shape.enum)]
        return f"{TRICKY}{variant}"
    if kind in ("integer", "long"):
        return 7 + variant
    if kind == "boolean":
        return variant % 2 == 0
    if kind in ("float", "double"):
        return 1.5 + variant
    if kind == "timestamp":
        return WHEN
    if kind == "blob":
        return b"\x00\x01blob" + bytes([variant % 256])
    raise AssertionError(f"unexpected shape type {kind}")


def operations(service: str) -> list[str]:
    return sorted(botocore.session.get_session().get_service_model(service).operation_names)


CASES = [(service, operation) for service in SERVICES for operation in operations(service)]


def form_of(service: str, operation: str, params: dict[str, Any]) -> bytes:
    model = query_service(service).model
    request = create_serializer("query", include_validation=False).serialize_to_request(
        params, model.operation_model(operation)
    )
    return urlencode(request["body"]).encode()


def same(left: Any, right: Any) -> bool:
    """Equal, with floats compared loosely (both sides print them their own way)."""
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


@pytest.mark.parametrize(("service", "operation"), CASES)
def test_request_round_trip(service: str, operation: str) -> None:
    query = query_service(service)
    shape = query.model.operation_model(operation).input_shape
    params = example(shape) if shape is not None else {}
    if (service, operation) == ("sqs", "ReceiveMessage"):
        # Both lists are ``AttributeName.N`` on SQS's query wire: one list, read into both.
        params["MessageSystemAttributeNames"] = params["AttributeNames"]
    form = read_form(form_of(service, operation, params))
    assert action_of(form) == operation
    assert form["Version"] == query.api_version
    assert same(query.parse(operation, form), params)


@pytest.mark.parametrize(("service", "operation"), CASES)
def test_result_round_trip(service: str, operation: str) -> None:
    query = query_service(service)
    shape = query.model.operation_model(operation).output_shape
    result = example(shape) if shape is not None else {}
    body = query.serialize_result(operation, result, "req-1")
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert same(parsed, result)


def test_result_document_is_what_aws_sends() -> None:
    body = (
        query_service("elbv2")
        .serialize_result(
            "DescribeLoadBalancers",
            {"LoadBalancers": [{"LoadBalancerName": "a", "CreatedTime": 1700000000.5, "SecurityGroups": ["sg-1"]}]},
            "rid",
        )
        .decode()
    )
    assert body == (
        '<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
        "<DescribeLoadBalancersResult><LoadBalancers><member><CreatedTime>2023-11-14T22:13:20.500Z</CreatedTime>"
        "<LoadBalancerName>a</LoadBalancerName><SecurityGroups><member>sg-1</member></SecurityGroups></member>"
        "</LoadBalancers></DescribeLoadBalancersResult>"
        "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>"
    )


def test_members_the_model_does_not_know_are_left_out() -> None:
    body = query_service("elbv2").serialize_result("DescribeTags", {"TagDescriptions": [], "Extra": "x"}, "r")
    assert b"Extra" not in body


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ClientError("One or more load balancers not found", code="LoadBalancerNotFound"), 400),
        (ClientError("slow down", code="PriorRequestNotComplete"), 429),  # the model says 429
        (ClientError("no health", code="HealthUnavailable"), 500),  # the model says 500
        (ClientError("bad input", code="ValidationError"), 400),  # not modeled: the error's own
        (ServerError("Internal failure."), 500),
    ],
)
def test_error_round_trip(error: ClientError | ServerError, status: int) -> None:
    body, answered = query_service("elbv2").serialize_error(error, "req-9")
    assert answered == status
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": status}, None)
    kind = "Sender" if error.sender_fault else "Receiver"
    assert parsed["Error"] == {"Type": kind, "Code": error.code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_error_document_is_what_aws_sends() -> None:
    body = serialize_error(ClientError("x < y", code="ValidationError"), "rid", "urn:ns").decode()
    assert body == (
        '<ErrorResponse xmlns="urn:ns"><Error><Type>Sender</Type><Code>ValidationError</Code>'
        "<Message>x &lt; y</Message></Error><RequestId>rid</RequestId></ErrorResponse>"
    )


def test_an_empty_list_is_written_as_a_bare_name_and_read_back() -> None:
    query = query_service("elbv2")
    form = read_form(form_of("elbv2", "DescribeLoadBalancers", {"Names": []}))
    assert form["Names"] == ""
    assert query.parse("DescribeLoadBalancers", form) == {"Names": []}


def test_scalars_are_read_by_their_shape() -> None:
    query = query_service("elbv2")
    form = {"Action": "CreateTargetGroup", "Name": "n", "Port": "80", "HealthCheckEnabled": "TRUE", "Unknown": "x"}
    assert query.parse("CreateTargetGroup", form) == {"Name": "n", "Port": 80, "HealthCheckEnabled": True}


@pytest.mark.parametrize(("member", "value"), [("Port", "eighty"), ("HealthCheckEnabled", "yes")])
def test_a_value_of_the_wrong_type_is_a_validation_error(member: str, value: str) -> None:
    with pytest.raises(QueryValidationError) as caught:
        query_service("elbv2").parse("CreateTargetGroup", {"Action": "CreateTargetGroup", member: value})
    assert caught.value.code == "ValidationError"
    assert f"Value '{value}' at '{member[0].lower() + member[1:]}'" in caught.value.message


def test_list_indices_are_read_in_numeric_order() -> None:
    form = {"Names.member.10": "j", "Names.member.2": "b", "Names.member.1": "a"}
    assert query_service("elbv2").parse("DescribeLoadBalancers", form) == {"Names": ["a", "b", "j"]}


def test_read_form_takes_the_query_string_and_the_body() -> None:
    form = read_form(b"Action=DescribeTags&ResourceArns.member.1=a%2Fb", b"Version=2015-12-01")
    assert form == {"Version": "2015-12-01", "Action": "DescribeTags", "ResourceArns.member.1": "a/b"}


def test_a_body_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedQueryString):
        read_form(b"Action=\xff\xfe")


def test_a_missing_action_is_missing_action() -> None:
    with pytest.raises(MissingAction) as caught:
        action_of(read_form(b"Version=2015-12-01"))
    assert (caught.value.code, caught.value.status_code) == ("MissingAction", 400)


def test_a_json_service_is_not_a_query_service() -> None:
    with pytest.raises(LookupError):
        query_service("ecs")


_XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x0b\x0c\ufffe\uffff").filter(
        lambda c: c >= " " or c in "\t\n\r"
    ),
    max_size=40,
)


@given(name=_XML_TEXT, value=_XML_TEXT)
def test_any_text_survives_both_directions(name: str, value: str) -> None:
    query = query_service("elbv2")
    params = {"ResourceArns": [name], "Tags": [{"Key": name, "Value": value}]}
    assert query.parse("AddTags", read_form(form_of("elbv2", "AddTags", params))) == params
    shape = query.model.operation_model("DescribeTags").output_shape
    result = {"TagDescriptions": [{"ResourceArn": name, "Tags": [{"Key": name, "Value": value}]}]}
    parsed = create_parser("query").parse(
        {"body": query.serialize_result("DescribeTags", result, "r"), "headers": {}, "status_code": 200}, shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed == result


def test_characters_xml_cannot_carry_are_replaced() -> None:
    query = query_service("elbv2")
    shape = query.model.operation_model("DescribeTags").output_shape
    result = {"TagDescriptions": [{"ResourceArn": "a", "Tags": [{"Key": "k", "Value": "x\x00y\x1fz"}]}]}
    body = query.serialize_result("DescribeTags", result, "r")
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed["TagDescriptions"][0]["Tags"][0]["Value"] == "x\ufffdy\ufffdz"
