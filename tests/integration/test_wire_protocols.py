"""Every wire protocol of the live server, through botocore's own clients: CloudWatch in
Smithy RPC v2 CBOR (boto3's default), JSON 1.0 and query; SQS in JSON 1.0 (boto3's default)
and its query era (forms posted to ``/`` or to the queue URL). The AWS CLI speaks CloudWatch's
default protocol too. Browser safety holds in each protocol.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import cbor2
import pytest
import requests
from protocol.wire_clients import PROTOCOLS, client_in_protocol

from ecsemu.app import Emulator


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def cloudwatch(endpoint: str, data_dir: Path) -> dict[str, Any]:
    return {protocol: client_in_protocol("cloudwatch", protocol, endpoint, data_dir) for protocol in PROTOCOLS}


@pytest.fixture
def sqs(endpoint: str, data_dir: Path) -> dict[str, Any]:
    return {protocol: client_in_protocol("sqs", protocol, endpoint, data_dir) for protocol in ("json", "query")}


def minute_ago() -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cloudwatch_metrics_round_trip(protocol: str, cloudwatch: dict[str, Any]) -> None:
    client = cloudwatch[protocol]
    namespace = f"Wire/{protocol}"
    when = minute_ago()
    dimensions = [{"Name": "Host", "Value": "a"}]
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Hits", "Dimensions": dimensions, "Timestamp": when, "Value": 2.0, "Unit": "Count"},
            {"MetricName": "Hits", "Dimensions": dimensions, "Timestamp": when, "Value": 3.0, "Unit": "Count"},
        ],
    )
    listed = client.list_metrics(Namespace=namespace)
    assert listed["Metrics"] == [{"Namespace": namespace, "MetricName": "Hits", "Dimensions": dimensions}]
    data = client.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "hits",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": "Hits", "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=when - timedelta(minutes=5),
        EndTime=when + timedelta(minutes=5),
    )
    (result,) = data["MetricDataResults"]
    assert result["Id"] == "hits"
    assert result["Timestamps"] == [when]
    assert result["Values"] == [5.0]
    assert result["StatusCode"] == "Complete"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cloudwatch_errors_in_every_protocol(protocol: str, cloudwatch: dict[str, Any]) -> None:
    client = cloudwatch[protocol]
    with pytest.raises(client.exceptions.InvalidParameterValueException) as raised:
        client.get_metric_data(
            MetricDataQueries=[{"Id": "Bad", "Expression": "1"}],
            StartTime=minute_ago(),
            EndTime=minute_ago(),
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as unsupported:
        client.describe_anomaly_detectors()
    assert unsupported.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert unsupported.value.response["Error"]["Message"]


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_sqs_messages_in_both_protocols(protocol: str, sqs: dict[str, Any]) -> None:
    client = sqs[protocol]
    name = f"wire-{protocol}-{uuid.uuid4().hex[:8]}"
    url = client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"}, tags={"team": "wire"})["QueueUrl"]
    assert url.endswith(f"/{name}")
    assert url in client.list_queues(QueueNamePrefix=name)["QueueUrls"]
    sent = client.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    assert sent["MessageId"]
    batch = client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}]
    )
    assert sorted(entry["Id"] for entry in batch["Successful"]) == ["a", "b"]
    received = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )
    bodies = sorted(message["Body"] for message in received["Messages"])
    assert bodies == ["1", "2", "hello"]
    hello = next(message for message in received["Messages"] if message["Body"] == "hello")
    assert hello["MessageAttributes"]["kind"] == {"DataType": "String", "StringValue": "greeting"}
    assert hello["MessageAttributes"]["raw"] == {"DataType": "Binary", "BinaryValue": b"\x00\x01"}
    assert "SentTimestamp" in hello["Attributes"]
    deleted = client.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received["Messages"])],
    )
    assert len(deleted["Successful"]) == 3
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes == {"VisibilityTimeout": "30"}
    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "wire"}
    client.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_sqs_errors_show_the_query_codes(protocol: str, sqs: dict[str, Any]) -> None:
    client = sqs[protocol]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_queue_url(QueueName=f"missing-{uuid.uuid4().hex[:8]}")
    assert raised.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    if protocol == "json":
        assert isinstance(raised.value, client.exceptions.QueueDoesNotExist)


def test_sqs_query_form_posted_to_the_queue_url(endpoint: str, sqs: dict[str, Any]) -> None:
    url = sqs["json"].create_queue(QueueName=f"wire-url-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    path = "/" + url.split("/", 3)[3]
    answer = requests.post(
        f"{endpoint}{path}",
        data={"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "via url"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert "<SendMessageResponse" in answer.text
    assert "<MessageId>" in answer.text
    received = sqs["json"].receive_message(QueueUrl=url)
    assert [message["Body"] for message in received["Messages"]] == ["via url"]


def test_cbor_answers_carry_the_protocol_headers(endpoint: str) -> None:
    answer = requests.post(
        f"{endpoint}/service/GraniteServiceVersion20100801/operation/ListMetrics",
        data=cbor2.dumps({}),
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert answer.headers["Content-Type"] == "application/cbor"
    assert "Metrics" in cbor2.loads(answer.content)


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "code"),
    [
        (
            "/service/GraniteServiceVersion20100801/operation/NoSuchOperation",
            {"smithy-protocol": "rpc-v2-cbor"},
            b"",
            404,
            "UnknownOperationException",
        ),
        (
            "/service/NoSuchService/operation/ListMetrics",
            {"smithy-protocol": "rpc-v2-cbor"},
            b"",
            404,
            "UnknownOperationException",
        ),
        ("/service/GraniteServiceVersion20100801/operation/ListMetrics", {}, b"\xa0", 400, "SerializationException"),
        (
            "/service/GraniteServiceVersion20100801/operation/ListMetrics",
            {"smithy-protocol": "rpc-v2-cbor"},
            b"\xa1",
            400,
            "SerializationException",
        ),
        (
            "/service/GraniteServiceVersion20100801/operation/ListMetrics",
            {"smithy-protocol": "rpc-v2-cbor"},
            b"\x81" * 200 + b"\x01",
            400,
            "SerializationException",
        ),
    ],
)
def test_bad_cbor_requests_get_aws_errors(
    endpoint: str, path: str, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    answer = requests.post(
        f"{endpoint}{path}", data=body, headers={"Content-Type": "application/cbor", **headers}, timeout=10
    )
    assert answer.status_code == status
    assert cbor2.loads(answer.content)["__type"] == code


def test_browser_safety_in_every_protocol(emulator: Emulator) -> None:
    base = emulator.endpoint
    cbor = requests.post(
        f"{base}/service/GraniteServiceVersion20100801/operation/ListMetrics",
        data=cbor2.dumps({}),
        headers={
            "smithy-protocol": "rpc-v2-cbor",
            "Content-Type": "application/cbor",
            "Origin": "https://evil.example",
        },
        timeout=10,
    )
    assert cbor.status_code == 403
    assert cbor2.loads(cbor.content)["__type"] == "AccessDeniedException"
    assert not any(name.lower().startswith("access-control-allow") for name in cbor.headers)
    query = requests.post(
        f"{base}/",
        data={"Action": "ListMetrics", "Version": "2010-08-01"},
        headers={"Host": "rebound.example"},
        timeout=10,
    )
    assert query.status_code == 403
    assert "<Code>AccessDenied</Code>" in query.text
    queue_url = requests.post(
        f"{base}/123456789012/q",
        data={"Action": "SendMessage", "MessageBody": "x"},
        headers={"Origin": "null"},
        timeout=10,
    )
    assert queue_url.status_code == 403
    assert "<Code>AccessDenied</Code>" in queue_url.text


def test_the_aws_cli_speaks_cloudwatchs_default_protocol(endpoint: str) -> None:
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if found is None:
        pytest.fail("the AWS CLI is not installed; scripts/test.sh installs it with the test extra")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [found, "cloudwatch", *args, "--endpoint-url", endpoint, "--output", "json"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip

    put = aws("put-metric-data", "--namespace", "Wire/CLI", "--metric-name", "Hits", "--value", "4")
    assert put.returncode == 0, put.stderr
    listed = aws("list-metrics", "--namespace", "Wire/CLI")
    assert listed.returncode == 0, listed.stderr
    assert '"MetricName": "Hits"' in listed.stdout
    bad = aws(
        "get-metric-data",
        "--metric-data-queries",
        '[{"Id": "Bad", "Expression": "1"}]',
        "--start-time",
        "2024-01-01T00:00:00Z",
        "--end-time",
        "2024-01-01T01:00:00Z",
    )
    assert bad.returncode != 0
    assert "InvalidParameterValue" in bad.stderr
