"""Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams.

DescribeLogStreams orders by name (``LogStreamName``, the default) or by the newest event's
timestamp (``LastEventTime``; a stream without events counts as 0, ties by name), ascending unless
``descending``; ``logStreamNamePrefix`` cannot be combined with ``LastEventTime`` (AWS's rule).
Its ``nextToken`` names the sort key of the last stream answered, so pages never repeat.
A stream's ``storedBytes`` is answered as 0: AWS deprecated it for streams in June 2019 and
always reports zero (the group's ``storedBytes`` counts the stream's bytes).
"""

from __future__ import annotations

import json
from typing import Any, Final

from ecsemu.model import logs as model
from ecsemu.model.logs import LogStream
from ecsemu.services.logs.base import (
    Call,
    Params,
    Result,
    after_token,
    operation,
    read_after_token,
    require_group,
)
from ecsemu.services.logs.errors import (
    INVALID_TOKEN,
    STREAM_NOT_FOUND,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)

DEFAULT_LIMIT: Final = 50


def describe(call: Call, stream: LogStream) -> dict[str, Any]:
    answer: dict[str, Any] = {"logStreamName": stream.name, "creationTime": stream.creation_time}
    for key, value in (
        ("firstEventTimestamp", stream.first_event_timestamp),
        ("lastEventTimestamp", stream.last_event_timestamp),
        ("lastIngestionTime", stream.last_ingestion_time),
    ):
        if value is not None:
            answer[key] = value
    answer["uploadSequenceToken"] = stream.upload_sequence_token
    answer["arn"] = model.stream_arn(call.scope, stream.group, stream.name)
    answer["storedBytes"] = 0
    return answer


@operation("CreateLogStream")
def create_log_stream(call: Call, params: Params) -> Result:
    name = str(params["logStreamName"])
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        if call.logs.stream(call.scope, group.name, name) is not None:
            raise ResourceAlreadyExistsException("The specified log stream already exists")
        call.logs.put_stream(call.scope, LogStream(group=group.name, name=name, creation_time=call.now_ms))
    return {}


@operation("DeleteLogStream")
def delete_log_stream(call: Call, params: Params) -> Result:
    name = str(params["logStreamName"])
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        if call.logs.stream(call.scope, group.name, name) is None:
            raise ResourceNotFoundException(STREAM_NOT_FOUND)
        call.logs.delete_stream(call.scope, group.name, name)
    return {}


def _sort_key(by_time: bool, stream: LogStream) -> tuple[int, str]:
    return (stream.last_event_timestamp or 0, stream.name) if by_time else (0, stream.name)


def _read_key(token: str | None) -> tuple[int, str] | None:
    text = read_after_token(token)
    if text is None:
        return None
    try:
        value = json.loads(text)
        key = (int(value[0]), str(value[1]))
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise InvalidParameterException(INVALID_TOKEN) from error
    return key


@operation("DescribeLogStreams")
def describe_log_streams(call: Call, params: Params) -> Result:
    by_time = params.get("orderBy") == "LastEventTime"
    prefix = params.get("logStreamNamePrefix")
    if by_time and prefix is not None:
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(params.get("descending"))
    limit = int(params.get("limit") or DEFAULT_LIMIT)
    after = _read_key(params.get("nextToken"))
    group = require_group(call, params)
    streams = [
        stream
        for stream in call.logs.streams(call.scope, group.name)
        if prefix is None or stream.name.startswith(prefix)
    ]
    keyed = sorted(((_sort_key(by_time, stream), stream) for stream in streams), key=lambda pair: pair[0])
    if descending:
        keyed.reverse()
    if after is not None:
        keyed = [pair for pair in keyed if (pair[0] < after if descending else pair[0] > after)]
    page = keyed[:limit]
    result: Result = {"logStreams": [describe(call, stream) for _key, stream in page]}
    if len(keyed) > limit:
        result["nextToken"] = after_token(json.dumps(list(page[-1][0])))
    return result
