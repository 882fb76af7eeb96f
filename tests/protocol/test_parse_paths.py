"""The request readers' faster paths keep their answers: the JSON nesting bound (one level at a
time) and the RPC v2 CBOR walk (which names the offending member only when it refuses one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import cbor2
import pytest

from ecsemu.protocol import json_protocol, rpcv2_cbor
from ecsemu.protocol.json_protocol import MAX_NESTING_DEPTH, SerializationException, nesting_depth

CLOUDWATCH = botocore.session.get_session().get_service_model("cloudwatch")
PUT = CLOUDWATCH.operation_model("PutMetricData").input_shape


class Sub(dict[str, Any]):
    pass


def nested(depth: int) -> list[Any]:
    root: list[Any] = []
    current = root
    for _ in range(depth - 1):
        child: list[Any] = []
        current.append(child)
        current = child
    return root


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (5, 0),
        ("text", 0),
        ({}, 1),
        ([], 1),
        ({"a": [1, {"b": []}]}, 4),
        ([{"a": 1}, [[2]]], 3),
        ([Sub(x=[1])], 3),  # a subclass of dict is still an object
        (nested(MAX_NESTING_DEPTH), MAX_NESTING_DEPTH),
    ],
)
def test_nesting_depth(value: object, depth: int) -> None:
    assert nesting_depth(value) == depth


def test_nesting_depth_stops_one_past_the_bound() -> None:
    assert nesting_depth(nested(10 * MAX_NESTING_DEPTH)) == MAX_NESTING_DEPTH + 1


def test_a_json_body_one_level_too_deep_is_refused() -> None:
    body = b'{"a":' + b"[" * MAX_NESTING_DEPTH + b"]" * MAX_NESTING_DEPTH + b"}"
    with pytest.raises(SerializationException, match="nests objects and arrays more than"):
        json_protocol.parse_body("application/x-amz-json-1.0", body)
    ok = b'{"a":' + b"[" * (MAX_NESTING_DEPTH - 1) + b"]" * (MAX_NESTING_DEPTH - 1) + b"}"
    assert json_protocol.parse_body("application/x-amz-json-1.0", ok)["a"] == nested(MAX_NESTING_DEPTH - 1)


def encode(value: object) -> bytes:
    return cbor2.dumps(value, datetime_as_timestamp=True)  # tag 1, as botocore writes timestamps


def datum(**overrides: Any) -> dict[str, Any]:
    return {
        "MetricName": "M",
        "Dimensions": [{"Name": "A", "Value": "1"}],
        "Timestamp": datetime(2026, 12, 3, tzinfo=UTC),
        "Value": 1.5,
        "Unit": "Count",
        **overrides,
    }


def test_a_cbor_put_metric_data_reads_as_json_values() -> None:
    body = encode({"Namespace": "N", "MetricData": [datum(), datum(Value=2, StorageResolution=1)]})
    params = rpcv2_cbor.parse_body(body, PUT)
    assert params["MetricData"][0]["Timestamp"] == int(datetime(2026, 12, 3, tzinfo=UTC).timestamp())
    assert params["MetricData"][1]["Value"] == 2
    assert params["MetricData"][0]["Dimensions"] == [{"Name": "A", "Value": "1"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            [datum(), datum(Dimensions=[{"Name": 5, "Value": "1"}])],
            "Expected a text string at PutMetricDataInput.MetricData[1].Dimensions[0].Name, found a CBOR integer.",
        ),
        ([datum(Value="x")], "Expected a number at PutMetricDataInput.MetricData[0].Value, found a CBOR text string."),
        (
            [datum(Dimensions={"Name": "A"})],
            "Expected an array at PutMetricDataInput.MetricData[0].Dimensions, found a CBOR map.",
        ),
        (["x"], "Expected a map at PutMetricDataInput.MetricData[0], found a CBOR text string."),
        (
            [datum(Timestamp="2026-12-03")],
            "Expected a timestamp (tag 1) at PutMetricDataInput.MetricData[0].Timestamp, found a CBOR text string.",
        ),
    ],
)
def test_a_cbor_value_of_another_kind_is_named_by_its_path(data: list[Any], message: str) -> None:
    with pytest.raises(SerializationException) as raised:
        rpcv2_cbor.parse_body(encode({"Namespace": "N", "MetricData": data}), PUT)
    assert raised.value.message == message
