"""The gateway's routing by wire protocol, through botocore's own clients, with tiny fake
providers: one CloudWatch provider answered in RPC v2 CBOR, JSON 1.0 and query; one SQS
provider answered in JSON 1.0 and SQS's query era; an ELBv2-like query-only provider.

Every protocol must hand the provider the same params (the JSON protocol's values) and give
the client the same parsed answer; errors come back as botocore's modeled exceptions with the
query-era codes of these awsQueryCompatible services.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions
import cbor2
import pytest
import requests
from botocore.config import Config
from wire_clients import PROTOCOLS, client_in_protocol, served

from ecsemu.context import RequestContext
from ecsemu.errors import ClientError, ServerError
from ecsemu.gateway.app import GatewayConfig, create_app, is_aws_request
from ecsemu.gateway.endpoints import endpoint_of

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n\x00\xff"


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValueException"


class QueueDoesNotExist(ClientError):
    code = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"


class FakeCloudWatch:
    service = "cloudwatch"
    target_prefix = "GraniteServiceVersion20100801"
    json_version = "1.0"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def handle(self, context: RequestContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if operation == "PutMetricData":
            return {}
        if operation == "ListMetrics":
            return {
                "Metrics": [{"Namespace": "App", "MetricName": "Hits", "Dimensions": [{"Name": "Host", "Value": "a"}]}],
                "OwningAccounts": ["123456789012"],
                "Unknown": "left out",
            }
        if operation == "GetMetricData":
            return {
                "MetricDataResults": [
                    {
                        "Id": "m1",
                        "Label": "Hits",
                        "Timestamps": [WHEN.timestamp(), WHEN.timestamp() + 60.5],
                        "Values": [1, 2.5],
                        "StatusCode": "Complete",
                    }
                ],
                "Messages": [],
            }
        if operation == "GetMetricWidgetImage":
            return {"MetricWidgetImage": base64.b64encode(PNG).decode()}
        if operation == "DeleteAlarms":
            raise InvalidParameterValue("The alarm name is not valid.")
        raise ClientError(f"{operation} is not supported by ecsemu yet.", code="UnsupportedOperationException")


class FakeSqs:
    service = "sqs"
    target_prefix = "AmazonSQS"
    json_version = "1.0"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def handle(self, context: RequestContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if operation == "ReceiveMessage":
            return {
                "Messages": [
                    {
                        "MessageId": "m-1",
                        "ReceiptHandle": "r-1",
                        "MD5OfBody": "md5",
                        "Body": "hello",
                        "Attributes": {"SenderId": "123456789012", "ApproximateReceiveCount": "1"},
                        "MessageAttributes": {
                            "s": {"DataType": "String", "StringValue": "v"},
                            "b": {"DataType": "Binary", "BinaryValue": base64.b64encode(PNG).decode()},
                        },
                    }
                ]
            }
        if operation == "SendMessageBatch":
            entries = params["Entries"]
            return {
                "Successful": [
                    {"Id": e["Id"], "MessageId": f"id-{e['Id']}", "MD5OfMessageBody": "x"} for e in entries[:1]
                ],
                "Failed": [{"Id": e["Id"], "SenderFault": True, "Code": "InvalidParameterValue"} for e in entries[1:]],
            }
        if operation == "GetQueueAttributes":
            return {"Attributes": {"VisibilityTimeout": "30", "DelaySeconds": "0"}}
        if operation == "ListQueues":
            return {"QueueUrls": ["http://127.0.0.1/123456789012/a", "http://127.0.0.1/123456789012/b"]}
        if operation == "ListQueueTags":
            return {"Tags": {"team": "x", "env": "dev"}}
        if operation == "GetQueueUrl":
            raise QueueDoesNotExist("The specified queue does not exist.")
        return {}


@pytest.fixture(scope="module")
def fakes() -> tuple[FakeCloudWatch, FakeSqs]:
    return FakeCloudWatch(), FakeSqs()


@pytest.fixture(scope="module")
def endpoint(fakes: tuple[FakeCloudWatch, FakeSqs]) -> Iterator[str]:
    app = create_app(list(fakes), GatewayConfig(), reset=lambda: None)
    with served(app) as url:
        yield url


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def cloudwatch_clients(endpoint: str, data_dir: Path) -> dict[str, Any]:
    return {protocol: client_in_protocol("cloudwatch", protocol, endpoint, data_dir) for protocol in PROTOCOLS}


@pytest.fixture(scope="module")
def sqs_clients(endpoint: str, data_dir: Path) -> dict[str, Any]:
    return {protocol: client_in_protocol("sqs", protocol, endpoint, data_dir) for protocol in ("json", "query")}


def last_call(provider: FakeCloudWatch | FakeSqs) -> tuple[str, dict[str, Any]]:
    return provider.calls[-1]


# --------------------------------------------------------------------------------------------
# CloudWatch: one provider, three protocols


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_metric_data_gives_the_provider_the_json_values_in_every_protocol(
    protocol: str, cloudwatch_clients: dict[str, Any], fakes: tuple[FakeCloudWatch, FakeSqs]
) -> None:
    cloudwatch_clients[protocol].put_metric_data(
        Namespace="App",
        MetricData=[
            {
                "MetricName": "Hits",
                "Dimensions": [{"Name": "Host", "Value": "a"}],
                "Timestamp": WHEN,
                "Value": 1.5,
                "Unit": "Count",
            },
            {
                "MetricName": "Latency",
                "StatisticValues": {"SampleCount": 2, "Sum": 3.0, "Minimum": 1.0, "Maximum": 2.0},
                "Values": [1.0, 2.0],
                "Counts": [1.0, 1.0],
                "StorageResolution": 1,
            },
        ],
    )
    operation, params = last_call(fakes[0])
    assert operation == "PutMetricData"
    assert params["Namespace"] == "App"
    first, second = params["MetricData"]
    assert first["Timestamp"] == int(WHEN.timestamp())
    assert first["Dimensions"] == [{"Name": "Host", "Value": "a"}]
    assert first["Value"] == 1.5
    assert second["StatisticValues"] == {"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2}
    assert second["Values"] == [1, 2]
    assert second["StorageResolution"] == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_results_parse_the_same_in_every_protocol(protocol: str, cloudwatch_clients: dict[str, Any]) -> None:
    client = cloudwatch_clients[protocol]
    listed = client.list_metrics(Namespace="App")
    assert listed["Metrics"] == [
        {"Namespace": "App", "MetricName": "Hits", "Dimensions": [{"Name": "Host", "Value": "a"}]}
    ]
    assert listed["OwningAccounts"] == ["123456789012"]
    data = client.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m1",
                "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Hits"}, "Period": 60, "Stat": "Sum"},
            }
        ],
        StartTime=WHEN,
        EndTime=WHEN,
    )
    (result,) = data["MetricDataResults"]
    assert result["Timestamps"][0] == WHEN
    assert result["Timestamps"][1].timestamp() == pytest.approx(WHEN.timestamp() + 60.5, abs=0.001)
    assert result["Values"] == [1.0, 2.5]
    assert result["StatusCode"] == "Complete"
    image = client.get_metric_widget_image(MetricWidget="{}")
    assert image["MetricWidgetImage"] == PNG


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_errors_come_back_as_the_modeled_exception_with_the_query_code(
    protocol: str, cloudwatch_clients: dict[str, Any]
) -> None:
    client = cloudwatch_clients[protocol]
    with pytest.raises(client.exceptions.InvalidParameterValueException) as raised:
        client.delete_alarms(AlarmNames=["a"])
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidParameterValue"
    assert error["Message"] == "The alarm name is not valid."
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as unsupported:
        client.describe_anomaly_detectors()
    assert unsupported.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "not supported by ecsemu" in unsupported.value.response["Error"]["Message"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_invalid_input_is_refused_before_the_provider(
    protocol: str, endpoint: str, data_dir: Path, fakes: tuple[FakeCloudWatch, FakeSqs]
) -> None:
    unchecked = Config(parameter_validation=False, retries={"max_attempts": 1})
    client = client_in_protocol("cloudwatch", protocol, endpoint, data_dir, config=unchecked)
    calls = len(fakes[0].calls)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.put_metric_data(Namespace="", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (
        "Namespace" in raised.value.response["Error"]["Message"]
        or "namespace" in raised.value.response["Error"]["Message"]
    )
    assert len(fakes[0].calls) == calls


def test_a_large_put_metric_data_is_gzipped_by_botocore_and_read(
    endpoint: str, data_dir: Path, fakes: tuple[FakeCloudWatch, FakeSqs]
) -> None:
    for protocol in PROTOCOLS:
        client = client_in_protocol("cloudwatch", protocol, endpoint, data_dir)
        data = [
            {"MetricName": f"m{index}", "Value": float(index), "Dimensions": [{"Name": "d", "Value": "v" * 100}]}
            for index in range(200)
        ]
        client.put_metric_data(Namespace="Big", MetricData=data)
        operation, params = last_call(fakes[0])
        assert (operation, params["Namespace"], len(params["MetricData"])) == ("PutMetricData", "Big", 200)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Encoding": "gzip"}, b"not gzip"),
        ({"Content-Encoding": "br"}, b"\x00"),
        ({"Content-Encoding": "gzip"}, gzip.compress(cbor2.dumps({"Namespace": "x"}))[:-9]),
    ],
)
def test_an_undecodable_body_is_an_aws_error(endpoint: str, headers: dict[str, str], body: bytes) -> None:
    answer = requests.post(
        f"{endpoint}/service/GraniteServiceVersion20100801/operation/PutMetricData",
        data=body,
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", **headers},
        timeout=10,
    )
    assert answer.status_code == 400
    assert cbor2.loads(answer.content)["__type"] == "SerializationException"


# --------------------------------------------------------------------------------------------
# SQS: JSON 1.0 and the query era


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_sqs_messages_round_trip(
    protocol: str, sqs_clients: dict[str, Any], fakes: tuple[FakeCloudWatch, FakeSqs]
) -> None:
    client = sqs_clients[protocol]
    url = "http://127.0.0.1/123456789012/q"
    client.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": PNG},
        },
    )
    operation, params = last_call(fakes[1])
    assert operation == "SendMessage"
    assert params["QueueUrl"] == url
    assert params["MessageAttributes"] == {
        "s": {"DataType": "String", "StringValue": "v"},
        "b": {"DataType": "Binary", "BinaryValue": base64.b64encode(PNG).decode()},
    }
    received = client.receive_message(
        QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )
    assert last_call(fakes[1])[1]["AttributeNames"] == ["All"]
    assert last_call(fakes[1])[1]["MessageAttributeNames"] == ["All"]
    (message,) = received["Messages"]
    assert message["Body"] == "hello"
    assert message["Attributes"] == {"SenderId": "123456789012", "ApproximateReceiveCount": "1"}
    assert message["MessageAttributes"]["b"] == {"DataType": "Binary", "BinaryValue": PNG}
    assert message["MessageAttributes"]["s"] == {"DataType": "String", "StringValue": "v"}


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_sqs_batches_maps_and_lists(
    protocol: str, sqs_clients: dict[str, Any], fakes: tuple[FakeCloudWatch, FakeSqs]
) -> None:
    client = sqs_clients[protocol]
    url = "http://127.0.0.1/123456789012/q"
    batch = client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2", "DelaySeconds": 5}]
    )
    assert last_call(fakes[1])[1]["Entries"] == [
        {"Id": "a", "MessageBody": "1"},
        {"Id": "b", "MessageBody": "2", "DelaySeconds": 5},
    ]
    assert batch["Successful"] == [{"Id": "a", "MessageId": "id-a", "MD5OfMessageBody": "x"}]
    assert batch["Failed"] == [{"Id": "b", "SenderFault": True, "Code": "InvalidParameterValue"}]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
    assert last_call(fakes[1])[1]["AttributeNames"] == ["VisibilityTimeout", "DelaySeconds"]
    assert attributes["Attributes"] == {"VisibilityTimeout": "30", "DelaySeconds": "0"}
    assert client.list_queues()["QueueUrls"] == ["http://127.0.0.1/123456789012/a", "http://127.0.0.1/123456789012/b"]
    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "x", "env": "dev"}
    client.tag_queue(QueueUrl=url, Tags={"k": "v"})
    assert last_call(fakes[1])[1]["Tags"] == {"k": "v"}
    client.create_queue(QueueName="q", Attributes={"DelaySeconds": "1"}, tags={"t": "1"})
    assert last_call(fakes[1])[1] == {"QueueName": "q", "Attributes": {"DelaySeconds": "1"}, "tags": {"t": "1"}}


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_sqs_errors_carry_the_query_code(protocol: str, sqs_clients: dict[str, Any]) -> None:
    client = sqs_clients[protocol]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_queue_url(QueueName="missing")
    assert raised.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert raised.value.response["Error"]["Message"] == "The specified queue does not exist."
    if protocol == "json":
        assert isinstance(raised.value, client.exceptions.QueueDoesNotExist)
        assert raised.value.response["Error"]["Type"] == "Sender"


def test_sqs_json_error_header(endpoint: str) -> None:
    answer = requests.post(
        endpoint,
        json={"QueueName": "missing"},
        headers={"X-Amz-Target": "AmazonSQS.GetQueueUrl", "Content-Type": "application/x-amz-json-1.0"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert answer.json()["__type"] == "QueueDoesNotExist"


def test_sqs_query_posted_to_the_queue_url_implies_the_queue_url(
    endpoint: str, fakes: tuple[FakeCloudWatch, FakeSqs]
) -> None:
    answer = requests.post(
        f"{endpoint}/123456789012/orders",
        data={"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "hi"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith(
        '<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageResult>'
    )
    operation, params = last_call(fakes[1])
    assert operation == "SendMessage"
    assert params["QueueUrl"] == f"{endpoint}/123456789012/orders"
    assert params["MessageBody"] == "hi"


def test_a_json_post_to_a_queue_url_is_not_an_aws_request(endpoint: str) -> None:
    answer = requests.post(f"{endpoint}/123456789012/orders", json={}, timeout=10)
    assert answer.status_code == 404


# --------------------------------------------------------------------------------------------
# Which requests take the AWS path


@pytest.mark.parametrize(
    ("method", "path", "content_type", "aws"),
    [
        ("POST", "/", "application/x-amz-json-1.1", True),
        ("POST", "/", "application/x-www-form-urlencoded", True),
        ("POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics", "application/cbor", True),
        ("POST", "/service/anything", "", True),
        ("POST", "/123456789012/orders", "application/x-www-form-urlencoded; charset=utf-8", True),
        ("POST", "/123456789012/orders.fifo", "application/x-www-form-urlencoded", True),
        ("POST", "/123456789012/orders", "application/json", False),
        ("POST", "/12345/orders", "application/x-www-form-urlencoded", False),
        ("POST", "/123456789012/orders/more", "application/x-www-form-urlencoded", False),
        ("GET", "/", "", False),
        ("GET", "/service/GraniteServiceVersion20100801/operation/ListMetrics", "", False),
        ("POST", "/_ecsemu/reset", "application/json", False),
    ],
)
def test_is_aws_request(method: str, path: str, content_type: str, aws: bool) -> None:
    assert is_aws_request({"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": content_type}) is aws


def test_each_provider_gets_the_protocols_of_its_model(fakes: tuple[FakeCloudWatch, FakeSqs]) -> None:
    cloudwatch, sqs = (endpoint_of(provider) for provider in fakes)
    assert (cloudwatch.target_prefix, cloudwatch.cbor_service_name, cloudwatch.signing_name) == (
        "GraniteServiceVersion20100801",
        "GraniteServiceVersion20100801",
        "monitoring",
    )
    assert cloudwatch.query_compatible
    assert cloudwatch.query_code(InvalidParameterValue("x")) == "InvalidParameterValue"
    assert (sqs.target_prefix, sqs.cbor_service_name, sqs.signing_name, sqs.query_compatible) == (
        "AmazonSQS",
        None,
        "sqs",
        True,
    )
    assert sqs.query_code(ClientError("x", code="QueueNameExists")) == "QueueAlreadyExists"
    assert sqs.query_error_header(QueueDoesNotExist("x")) == [
        ("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender")
    ]
    assert sqs.query_error_header(ServerError("x")) == [("x-amzn-query-error", "ServerException;Receiver")]
