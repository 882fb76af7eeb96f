"""ecsemu.protocol.rpcv2_cbor against botocore's own RPC v2 CBOR serializer and parser.

Requests: for every CloudWatch operation, botocore's CBOR serializer writes an example input
that fills every member, and ecsemu reads back exactly what the JSON protocol gives a
provider for the same input (botocore's JSON serializer, decoded). Answers: a result in the
JSON protocol's values is written as CBOR, and botocore's CBOR parser reads back exactly what
its JSON parser reads from the same result as JSON. Then the limits: every malformed body is
an AWS-shaped ``SerializationException``, never an exception of another kind.
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime
from typing import Any

import botocore.session
import cbor2
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st
from test_query_protocol import example, same

from ecsemu.errors import AwsError, ClientError
from ecsemu.protocol import rpcv2_cbor
from ecsemu.protocol.json_protocol import MAX_BODY_BYTES, MAX_NESTING_DEPTH, SerializationException
from ecsemu.protocol.query_protocol import as_json_values

MODEL = botocore.session.get_session().get_service_model("cloudwatch")
OPERATIONS = sorted(MODEL.operation_names)


def cbor_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    serializer = create_serializer("smithy-rpc-v2-cbor", include_validation=False)
    return dict(serializer.serialize_to_request(params, MODEL.operation_model(operation)))


def json_params(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    request = create_serializer("json", include_validation=False).serialize_to_request(
        params, MODEL.operation_model(operation)
    )
    body = request["body"]
    return json.loads(body) if body else {}


def input_shape(operation: str) -> Any:
    return MODEL.operation_model(operation).input_shape


@pytest.mark.parametrize("operation", OPERATIONS)
def test_request_reads_as_the_json_protocol_gives_it(operation: str) -> None:
    shape = input_shape(operation)
    params = example(shape) if shape is not None else {}
    request = cbor_request(operation, params)
    assert request["url_path"] == f"/service/GraniteServiceVersion20100801/operation/{operation}"
    assert request["headers"]["smithy-protocol"] == "rpc-v2-cbor"
    assert rpcv2_cbor.operation_path(request["url_path"]) == ("GraniteServiceVersion20100801", operation)
    assert same(rpcv2_cbor.parse_body(request["body"], shape), json_params(operation, params))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_result_parses_as_its_json_does(operation: str) -> None:
    shape = MODEL.operation_model(operation).output_shape
    result = as_json_values(example(shape)) if shape is not None else {}
    body = rpcv2_cbor.serialize_result(result, shape)
    from_cbor = create_parser("smithy-rpc-v2-cbor").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    from_json = create_parser("json").parse(
        {"body": json.dumps(result).encode(), "headers": {}, "status_code": 200}, shape
    )
    from_cbor.pop("ResponseMetadata", None)
    from_json.pop("ResponseMetadata", None)
    assert same(from_cbor, from_json)


def test_timestamps_and_blobs_take_cbor_types_on_the_wire() -> None:
    shape = MODEL.operation_model("GetMetricData").output_shape
    body = rpcv2_cbor.serialize_result(
        {
            "MetricDataResults": [{"Id": "a", "Timestamps": [1700000000, "2024-01-02T03:04:05Z"], "Values": [1]}],
            "Junk": 1,
        },
        shape,
    )
    assert body.count(b"\xc1") == 2  # tag 1, twice
    (result,) = cbor2.loads(body)["MetricDataResults"]
    assert result["Timestamps"] == [datetime.fromtimestamp(1700000000, UTC), datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)]
    assert result["Values"] == [1.0]
    assert isinstance(result["Values"][0], float)
    assert "Junk" not in cbor2.loads(body)
    image = rpcv2_cbor.serialize_result(
        {"MetricWidgetImage": "AAE="}, MODEL.operation_model("GetMetricWidgetImage").output_shape
    )
    assert cbor2.loads(image) == {"MetricWidgetImage": b"\x00\x01"}


def test_timestamp_input_is_epoch_seconds() -> None:
    shape = input_shape("PutMetricData")
    body = cbor2.dumps(
        {"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": cbor2.CBORTag(1, 1700000000.25)}]}
    )
    assert rpcv2_cbor.parse_body(body, shape)["MetricData"][0]["Timestamp"] == 1700000000.25
    body = cbor2.dumps(
        {"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": cbor2.CBORTag(1, 1700000000)}]}
    )
    assert rpcv2_cbor.parse_body(body, shape)["MetricData"][0]["Timestamp"] == 1700000000


def test_an_empty_body_is_an_empty_input() -> None:
    assert rpcv2_cbor.parse_body(b"", input_shape("ListMetrics")) == {}


def test_unknown_members_are_left_out_and_nulls_kept() -> None:
    body = cbor2.dumps({"Namespace": "n", "Other": {"deep": [1]}, "NextToken": None})
    assert rpcv2_cbor.parse_body(body, input_shape("ListMetrics")) == {"Namespace": "n", "NextToken": None}


def test_errors_read_back_through_botocore() -> None:
    error = ClientError("Bad value.", code="InvalidParameterValueException")
    body = rpcv2_cbor.serialize_error(error)
    parsed = create_parser("smithy-rpc-v2-cbor").parse(
        {"body": body, "headers": {"x-amzn-query-error": "InvalidParameterValue;Sender"}, "status_code": 400}, None
    )
    assert parsed["Error"] == {
        "Code": "InvalidParameterValue",
        "Message": "Bad value.",
        "QueryErrorCode": "InvalidParameterValueException",
        "Type": "Sender",
    }
    assert cbor2.loads(rpcv2_cbor.serialize_error(AwsError(code="X"))) == {"__type": "X"}


# --------------------------------------------------------------------------------------------
# Limits and malformed bodies


def nested(depth: int) -> bytes:
    return b"\xa1\x69Namespace" + b"\x81" * (depth - 1) + b"\x01"


MALFORMED = {
    "truncated": cbor2.dumps({"Namespace": "n"})[:-1],
    "trailing bytes": cbor2.dumps({"Namespace": "n"}) + b"\x00",
    "not a map": cbor2.dumps(["Namespace"]),
    "a scalar": cbor2.dumps(1),
    "break alone": b"\xff",
    "reserved additional info": b"\x1c",
    "too deep": nested(MAX_NESTING_DEPTH + 5),
    "shared value": b"\xa1\x69Namespace\xd8\x1c\x61n",
    "shared reference": b"\xa1\x69Namespace\xd8\x1d\x00",
    "string reference namespace": b"\xd9\x01\x00\xa1\x69Namespace\x61n",
    "bignum": b"\xa1\x69MaxResults\xc2\x41\x01",
    "unknown tag": b"\xa1\x69Namespace\xd8\x63\x61n",
    "integer map key": b"\xa1\x01\x61n",
    "array map key": b"\xa1\x81\x01\x61n",
    "wrong type": cbor2.dumps({"Namespace": 5}),
    "bytes for text": cbor2.dumps({"Namespace": b"n"}),
    "text for list": cbor2.dumps({"Dimensions": "d"}),
    "bool for int": cbor2.dumps({"Namespace": "n", "Dimensions": [{"Name": True}]}),
    "map with int keys": cbor2.dumps({"Namespace": "n", "Dimensions": {1: 2}}),
    "invalid utf-8": b"\xa1\x69Namespace\x62\xff\xfe",
    "huge length": b"\xa1\x69Namespace\x7b\xff\xff\xff\xff\xff\xff\xff\xff",
    "bad tag-1 value": b"\xa1\x69Namespace\xc1\x61x",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_are_serialization_exceptions(body: bytes) -> None:
    with pytest.raises(SerializationException) as raised:
        rpcv2_cbor.parse_body(body, input_shape("ListMetrics"))
    assert raised.value.status_code == 400
    assert raised.value.message


def test_timestamp_of_the_wrong_kind() -> None:
    body = cbor2.dumps({"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": "2024-01-01"}]})
    with pytest.raises(SerializationException, match="timestamp"):
        rpcv2_cbor.parse_body(body, input_shape("PutMetricData"))


def test_bad_tag_1_values_are_refused() -> None:
    for value in (float("nan"), float("inf"), 10**30):
        body = cbor2.dumps(
            {"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": cbor2.CBORTag(1, value)}]}
        )
        with pytest.raises(SerializationException):
            rpcv2_cbor.parse_body(body, input_shape("PutMetricData"))


def test_the_deepest_allowed_body_is_read() -> None:
    shape = input_shape("ListMetrics")
    # A deep value under a member ecsemu ignores is still decoded (and bounded).
    body = b"\xa1\x65Other" + b"\x81" * (MAX_NESTING_DEPTH - 2) + b"\x01"
    assert rpcv2_cbor.parse_body(body, shape) == {}


def test_a_body_larger_than_the_bound_is_refused() -> None:
    body = cbor2.dumps({"Namespace": "n" * MAX_BODY_BYTES})
    with pytest.raises(SerializationException, match="larger than"):
        rpcv2_cbor.parse_body(body, input_shape("ListMetrics"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_escape_as_another_exception(body: bytes) -> None:
    with contextlib.suppress(SerializationException):
        rpcv2_cbor.parse_body(body, input_shape("PutMetricData"))


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["Namespace", "MetricData", "NextToken", "Dimensions", "x"]), VALUES, max_size=4)
)
def test_arbitrary_cbor_maps_are_read_or_refused_cleanly(value: dict[str, Any]) -> None:
    body = cbor2.dumps(value)
    for operation in ("PutMetricData", "ListMetrics"):
        try:
            params = rpcv2_cbor.parse_body(body, input_shape(operation))
        except SerializationException:
            continue
        json.dumps(params, allow_nan=True)  # only JSON values reach a provider


def test_operation_paths() -> None:
    assert rpcv2_cbor.operation_path("/service/S/operation/Op") == ("S", "Op")
    for path in (
        "/service/S/operation/",
        "/service//operation/Op",
        "/service/S/operation/Op/x",
        "/x/service/S/operation/Op",
    ):
        assert rpcv2_cbor.operation_path(path) is None


def test_nan_results_are_written() -> None:
    shape = MODEL.operation_model("GetMetricData").output_shape
    body = rpcv2_cbor.serialize_result({"MetricDataResults": [{"Id": "a", "Values": [float("nan")]}]}, shape)
    assert math.isnan(cbor2.loads(body)["MetricDataResults"][0]["Values"][0])
