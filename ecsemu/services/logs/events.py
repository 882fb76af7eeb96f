"""Log events: PutLogEvents, GetLogEvents, FilterLogEvents.

PutLogEvents keeps AWS's batch rules: at most 10,000 events and 1,048,576 bytes (each event's
UTF-8 message plus 26 bytes), timestamps in chronological order (else nothing is stored);
events more than 2 hours in the future, more than 14 days old, or older than the group's
retention are rejected (``rejectedLogEventsInfo``) while the rest are stored. The sequence
token is ignored, as AWS now does; ``nextSequenceToken`` is still answered.

GetLogEvents tokens are ``f/<56 digits>`` (forward: events after a position) and
``b/<56 digits>`` (backward: events before it); the digits are a stream position
(timestamp * 10**36 + seq, see ``ecsemu.model.logs``). A page moves the token past what it
answered; an empty page answers the token it was sent, which is how clients know they reached
the end. Both tokens are always answered.

FilterLogEvents reads the group's events in (timestamp, stream, seq) order — streams
interleaved by time — tests each against the filter pattern (``ecsemu.model.log_filter``), and
stops at ``limit`` events, 1 MB, or ``SCAN_BUDGET`` events read; its ``nextToken`` names the
last position read, so a page may be partial or even empty while ``nextToken`` says more follow.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import zlib
from collections.abc import Sequence
from typing import Any, Final

from ecsemu.errors import NotSupportedError
from ecsemu.model.log_filter import FilterPatternError, UnsupportedFilterPattern, compile_pattern
from ecsemu.model.logs import DAY_MS, LogEvent, LogGroup, message_bytes
from ecsemu.services.logs.base import Call, Params, Result, operation, require_group
from ecsemu.services.logs.errors import (
    INVALID_TOKEN,
    STREAM_NOT_FOUND,
    InvalidParameterException,
    ResourceNotFoundException,
)

MAX_BATCH_BYTES: Final = 1_048_576
EVENT_OVERHEAD_BYTES: Final = 26
MAX_PAGE_EVENTS: Final = 10_000
MAX_PAGE_BYTES: Final = 1_048_576
TOO_NEW_MS: Final = 2 * 3_600_000
TOO_OLD_MS: Final = 14 * DAY_MS
SCAN_BUDGET: Final = 100_000
SCAN_CHUNK: Final = 1_000
POSITION_SHIFT: Final = 10**36
_TOKEN: Final = re.compile(r"^([fb])/(\d{1,56})$")


def _cutoff_start(group: LogGroup, start: int | None, now_ms: int) -> int | None:
    cutoff = group.retention_cutoff(now_ms)
    if cutoff is None:
        return start
    return cutoff if start is None else max(start, cutoff)


# -- PutLogEvents ----------------------------------------------------------------------------


@operation("PutLogEvents")
def put_log_events(call: Call, params: Params) -> Result:
    events: list[dict[str, Any]] = params["logEvents"]
    size = sum(message_bytes(str(event["message"])) + EVENT_OVERHEAD_BYTES for event in events)
    if size > MAX_BATCH_BYTES:
        raise InvalidParameterException(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    stamps = [int(event["timestamp"]) for event in events]
    if any(later < earlier for earlier, later in itertools.pairwise(stamps)):
        raise InvalidParameterException("Log events in a single PutLogEvents request must be in chronological order.")
    with call.logs.store.transaction():
        group = call.group(str(params["logGroupName"]))
        stream_name = str(params["logStreamName"])
        if call.logs.stream(call.scope, group.name, stream_name) is None:
            raise ResourceNotFoundException(STREAM_NOT_FOUND)
        rejected: dict[str, int] = {}
        too_old = [index for index, stamp in enumerate(stamps) if stamp < call.now_ms - TOO_OLD_MS]
        too_new = [index for index, stamp in enumerate(stamps) if stamp > call.now_ms + TOO_NEW_MS]
        cutoff = group.retention_cutoff(call.now_ms)
        expired = [] if cutoff is None else [index for index, stamp in enumerate(stamps) if stamp < cutoff]
        if too_new:
            rejected["tooNewLogEventStartIndex"] = too_new[0]
        if too_old:
            rejected["tooOldLogEventEndIndex"] = too_old[-1]
        if expired:
            rejected["expiredLogEventEndIndex"] = expired[-1]
        dropped = set(too_old) | set(too_new) | set(expired)
        accepted = [(stamps[i], str(event["message"])) for i, event in enumerate(events) if i not in dropped]
        call.logs.append(call.scope, group.name, stream_name, accepted, call.now_ms)
        stream = call.logs.stream(call.scope, group.name, stream_name)
        assert stream is not None
    result: Result = {"nextSequenceToken": stream.upload_sequence_token}
    if rejected:
        result["rejectedLogEventsInfo"] = rejected
    return result


# -- GetLogEvents ----------------------------------------------------------------------------


def _position(number: int) -> tuple[int, int]:
    return divmod(number, POSITION_SHIFT)


def _number(key: tuple[int, int]) -> int:
    return key[0] * POSITION_SHIFT + key[1]


def _token(direction: str, number: int) -> str:
    return f"{direction}/{max(number, 0):056d}"


def _read_token(token: str) -> tuple[str, int]:
    match = _TOKEN.match(token)
    if match is None:
        raise InvalidParameterException(INVALID_TOKEN)
    return match.group(1), int(match.group(2))


def _within_bytes(events: list[LogEvent], from_newest: bool) -> list[LogEvent]:
    budget, kept = MAX_PAGE_BYTES, 0
    ordered = reversed(events) if from_newest else iter(events)
    for event in ordered:
        budget -= message_bytes(event.message) + EVENT_OVERHEAD_BYTES
        if budget < 0:
            break
        kept += 1
    if kept == len(events):
        return events
    return events[len(events) - kept :] if from_newest else events[:kept]


@operation("GetLogEvents")
def get_log_events(call: Call, params: Params) -> Result:
    group = require_group(call, params)
    stream_name = str(params["logStreamName"])
    if call.logs.stream(call.scope, group.name, stream_name) is None:
        raise ResourceNotFoundException(STREAM_NOT_FOUND)
    start = _cutoff_start(group, params.get("startTime"), call.now_ms)
    end = params.get("endTime")
    limit = min(int(params.get("limit") or MAX_PAGE_EVENTS), MAX_PAGE_EVENTS)
    token = params.get("nextToken")
    direction, number = _read_token(str(token)) if token is not None else ("", 0)
    ascending = direction == "f" or (not direction and bool(params.get("startFromHead")))
    read: dict[str, Any] = {"start": start, "end": end, "limit": limit, "ascending": ascending}
    if direction == "f":
        read["after"] = _position(number)
    elif direction == "b":
        read["before"] = _position(number)
    events = _within_bytes(call.logs.read(call.scope, group.name, stream_name, **read), from_newest=not ascending)
    if events:
        forward, backward = _number(events[-1].key), _number(events[0].key)
    elif direction == "f":
        forward, backward = number, number + 1
    elif direction == "b":
        forward, backward = number - 1, number
    else:
        forward = backward = _number((start or 0, 0))
    return {
        "events": [
            {"timestamp": event.timestamp, "message": event.message, "ingestionTime": event.ingestion_time}
            for event in events
        ],
        "nextForwardToken": _token("f", forward),
        "nextBackwardToken": _token("b", backward),
    }


# -- FilterLogEvents -------------------------------------------------------------------------


def event_id(event: LogEvent) -> str:
    """A 56-digit id, unique in its group: timestamp, stream, position in the stream."""
    return f"{event.timestamp:020d}{zlib.crc32(event.stream.encode()):010d}{event.seq:026d}"


def _filter_token(after: tuple[int, str, int]) -> str:
    return base64.b64encode(json.dumps({"t": after[0], "s": after[1], "q": after[2]}).encode()).decode()


def _read_filter_token(token: str | None) -> tuple[int, str, int] | None:
    if token is None:
        return None
    try:
        value = json.loads(base64.b64decode(token, validate=True))
        return int(value["t"]), str(value["s"]), int(value["q"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidParameterException(INVALID_TOKEN) from error


def _streams_searched(call: Call, group: LogGroup, params: Params) -> list[str] | None:
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise InvalidParameterException("Cannot specify both logStreamNames and logStreamNamePrefix.")
    if names is not None:
        return [str(name) for name in names]
    if prefix is not None:
        return [stream.name for stream in call.logs.streams(call.scope, group.name) if stream.name.startswith(prefix)]
    return None


@operation("FilterLogEvents")
def filter_log_events(call: Call, params: Params) -> Result:
    group = require_group(call, params)
    try:
        pattern = compile_pattern(params.get("filterPattern"))
    except FilterPatternError as error:
        raise InvalidParameterException(str(error)) from error
    except UnsupportedFilterPattern as error:
        raise NotSupportedError(str(error), code="InvalidParameterException") from error
    streams = _streams_searched(call, group, params)
    start = _cutoff_start(group, params.get("startTime"), call.now_ms)
    end = params.get("endTime")
    limit = min(int(params.get("limit") or MAX_PAGE_EVENTS), MAX_PAGE_EVENTS)
    after = _read_filter_token(params.get("nextToken"))
    found: list[LogEvent] = []
    budget, scanned, more = MAX_PAGE_BYTES, 0, False
    while True:
        chunk = call.logs.scan(
            call.scope, group.name, streams=streams, start=start, end=end, after=after, limit=SCAN_CHUNK
        )
        stop = False
        for event in chunk:
            scanned += 1
            after = (event.timestamp, event.stream, event.seq)
            if pattern.matches_everything or pattern.matches(event.message):
                budget -= message_bytes(event.message) + EVENT_OVERHEAD_BYTES
                if budget < 0:
                    after, stop = _before(found), True
                    break
                found.append(event)
                if len(found) == limit:
                    stop = True
                    break
        if stop or (len(chunk) == SCAN_CHUNK and scanned >= SCAN_BUDGET):
            more = True
            break
        if len(chunk) < SCAN_CHUNK:
            break
    searched = streams if streams is not None else [stream.name for stream in call.logs.streams(call.scope, group.name)]
    result: Result = {
        "events": [
            {
                "logStreamName": event.stream,
                "timestamp": event.timestamp,
                "message": event.message,
                "ingestionTime": event.ingestion_time,
                "eventId": event_id(event),
            }
            for event in found
        ],
        "searchedLogStreams": [{"logStreamName": name, "searchedCompletely": not more} for name in searched],
    }
    if more and after is not None:
        result["nextToken"] = _filter_token(after)
    return result


def _before(found: Sequence[LogEvent]) -> tuple[int, str, int] | None:
    """The position of the last event kept (the next page starts after it)."""
    if not found:
        return None
    last = found[-1]
    return (last.timestamp, last.stream, last.seq)
