"""The query-era wire traits of services whose botocore model no longer speaks the query
protocol: today SQS, which moved to JSON 1.0 in 2023 while older SDKs still post forms.

botocore's SQS model kept its shapes but dropped what the query protocol needs: the XML
namespace, each output's ``<Op>Result`` wrapper, and the flattened, renamed lists and maps of
the query API (``AttributeName.1``, ``Attribute.1.Name``/``Attribute.1.Value``,
``SendMessageBatchRequestEntry.1.Id``; ``<Message>``, ``<Attribute><Name/><Value/></Attribute>``
in answers). ``legacy_query_data`` puts them back on a copy of the model, so the generic query
protocol reads and writes SQS's forms and XML as for any query service.

Source of the traits: SQS's Smithy model as AWS's SDKs carry it (``xmlFlattened``/``xmlName``
on members, ``xmlName`` on map keys and values, ``awsQueryError`` codes; see
``service_models.LEGACY_QUERY_CODES``), and the SQS API reference's query examples
(``AttributeName.1=All``, ``SendMessageBatchRequestEntry.N``, ``BatchResultErrorEntry.N``).

Invariant: every member named here is flattened (SQS's query API has no ``.member.`` lists).
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Final

import botocore.model
import botocore.session

SQS_NAMESPACE: Final = "http://queue.amazonaws.com/doc/2012-11-05/"

# structure shape → member → the flattened element name on the wire.
_SQS_MEMBERS: Final[dict[str, dict[str, str]]] = {
    "AddPermissionRequest": {"AWSAccountIds": "AWSAccountId", "Actions": "ActionName"},
    "ChangeMessageVisibilityBatchRequest": {"Entries": "ChangeMessageVisibilityBatchRequestEntry"},
    "ChangeMessageVisibilityBatchResult": {
        "Successful": "ChangeMessageVisibilityBatchResultEntry",
        "Failed": "BatchResultErrorEntry",
    },
    "CreateQueueRequest": {"Attributes": "Attribute", "tags": "Tag"},
    "DeleteMessageBatchRequest": {"Entries": "DeleteMessageBatchRequestEntry"},
    "DeleteMessageBatchResult": {"Successful": "DeleteMessageBatchResultEntry", "Failed": "BatchResultErrorEntry"},
    "GetQueueAttributesRequest": {"AttributeNames": "AttributeName"},
    "GetQueueAttributesResult": {"Attributes": "Attribute"},
    "ListDeadLetterSourceQueuesResult": {"queueUrls": "QueueUrl"},
    "ListMessageMoveTasksResult": {"Results": "ListMessageMoveTasksResultEntry"},
    "ListQueuesResult": {"QueueUrls": "QueueUrl"},
    "ListQueueTagsResult": {"Tags": "Tag"},
    "Message": {"Attributes": "Attribute", "MessageAttributes": "MessageAttribute"},
    "MessageAttributeValue": {"StringListValues": "StringListValue", "BinaryListValues": "BinaryListValue"},
    "MessageSystemAttributeValue": {"StringListValues": "StringListValue", "BinaryListValues": "BinaryListValue"},
    "ReceiveMessageRequest": {
        "AttributeNames": "AttributeName",
        "MessageSystemAttributeNames": "AttributeName",
        "MessageAttributeNames": "MessageAttributeName",
    },
    "ReceiveMessageResult": {"Messages": "Message"},
    "SendMessageBatchRequest": {"Entries": "SendMessageBatchRequestEntry"},
    "SendMessageBatchRequestEntry": {
        "MessageAttributes": "MessageAttribute",
        "MessageSystemAttributes": "MessageSystemAttribute",
    },
    "SendMessageBatchResult": {"Successful": "SendMessageBatchResultEntry", "Failed": "BatchResultErrorEntry"},
    "SendMessageRequest": {
        "MessageAttributes": "MessageAttribute",
        "MessageSystemAttributes": "MessageSystemAttribute",
    },
    "SetQueueAttributesRequest": {"Attributes": "Attribute"},
    "TagQueueRequest": {"Tags": "Tag"},
    "UntagQueueRequest": {"TagKeys": "TagKey"},
}
# map shape → the element names of its key and value.
_SQS_MAPS: Final[dict[str, tuple[str, str]]] = {
    "MessageBodyAttributeMap": ("Name", "Value"),
    "MessageBodySystemAttributeMap": ("Name", "Value"),
    "MessageSystemAttributeMap": ("Name", "Value"),
    "QueueAttributeMap": ("Name", "Value"),
    "TagMap": ("Key", "Value"),
}
# list shape → the element name of its members.
_SQS_LISTS: Final[dict[str, str]] = {"StringList": "StringListValue", "BinaryList": "BinaryListValue"}

_DATA: dict[str, dict[str, Any]] = {}
_MODELS: dict[str, Any] = {}
_LOCK: Final = threading.Lock()


def _sqs_query_data() -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    data: dict[str, Any] = copy.deepcopy(loader.load_service_model("sqs", "service-2"))
    metadata = data["metadata"]
    metadata.update(protocol="query", protocols=["query"], xmlNamespace=SQS_NAMESPACE)
    for key in ("awsQueryCompatible", "jsonVersion", "targetPrefix"):
        metadata.pop(key, None)
    shapes = data["shapes"]
    for name, operation in data["operations"].items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"
    for structure, members in _SQS_MEMBERS.items():
        for member, wire_name in members.items():
            shapes[structure]["members"][member].update(locationName=wire_name, flattened=True)
    for map_name, (key_name, value_name) in _SQS_MAPS.items():
        shapes[map_name]["key"]["locationName"] = key_name
        shapes[map_name]["value"]["locationName"] = value_name
    for list_name, member_name in _SQS_LISTS.items():
        shapes[list_name]["member"]["locationName"] = member_name
    return data


_BUILDERS: Final = {"sqs": _sqs_query_data}


def legacy_query_data(name: str) -> dict[str, Any] | None:
    """A copy of botocore's model data of ``name`` with its query-era traits, or None when
    ``name`` has no query era to restore. The copy is the caller's."""
    builder = _BUILDERS.get(name)
    if builder is None:
        return None
    with _LOCK:
        if name not in _DATA:
            _DATA[name] = builder()
    return copy.deepcopy(_DATA[name])


def legacy_query_model(name: str) -> Any | None:
    """botocore's ``ServiceModel`` of ``name`` with its query-era traits (cached), or None."""
    if name not in _BUILDERS:
        return None
    model = _MODELS.get(name)
    if model is None:
        data = legacy_query_data(name)
        model = botocore.model.ServiceModel(data, service_name=name)
        with _LOCK:
            model = _MODELS.setdefault(name, model)
    return model
