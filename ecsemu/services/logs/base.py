"""What every CloudWatch Logs operation shares: the call, the operation registry, naming a log
group (by ``logGroupName`` or ``logGroupIdentifier``), and opaque "after this name" tokens.

Vocabulary
----------
operation
    A function ``(call, params) -> result`` registered with ``@operation("CreateLogGroup")``;
    params and results keyed by the API's member names, as boto3 shows them.
call
    One API call: its request context, the :class:`~ecsemu.model.logs.LogStore`, and the time
    it is handled at in milliseconds (``now_ms``), the one clock every rule of the call reads.

The model (``ecsemu.model.logs``) owns the records and events; this package only checks what
AWS checks and shapes the answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ecsemu.context import RequestContext, Scope
from ecsemu.model import logs as model
from ecsemu.model.logs import LogGroup, LogStore
from ecsemu.services import common
from ecsemu.services.logs.errors import (
    GROUP_NOT_FOUND,
    INVALID_TOKEN,
    InvalidParameterException,
    ResourceNotFoundException,
)

Params = dict[str, Any]
Result = dict[str, Any]
Operation = Callable[["Call", Params], Result]

OPERATIONS: dict[str, Operation] = {}

# The ``pattern`` of each name member in botocore's model: the gateway checks lengths and types
# from the shapes, the patterns are checked here, with AWS's text.
_GROUP_NAME: Final = r"[\.\-_/#A-Za-z0-9]+"
_STREAM_NAME: Final = r"[^:*]*"
MEMBER_PATTERNS: Final = {
    "logGroupName": _GROUP_NAME,
    "logGroupNamePrefix": _GROUP_NAME,
    "logGroupNamePattern": r"[\.\-_/#A-Za-z0-9]*",
    "logStreamName": _STREAM_NAME,
    "logStreamNamePrefix": _STREAM_NAME,
    "logGroupIdentifier": r"[\w#+=/:,.@-]*",
    "resourceArn": r"[\w+=/:,.@-]*",
    "filterName": r"[^:*]*",
    "filterNamePrefix": r"[^:*]*",
    "metricName": r"[^:*$]*",
    "metricNamespace": r"[^:*$]*",
}
_COMPILED: Final = {member: re.compile(pattern) for member, pattern in MEMBER_PATTERNS.items()}


def check_patterns(params: Params) -> None:
    """AWS's validation error for a name member that does not match its pattern."""
    for member, compiled in _COMPILED.items():
        value = params.get(member)
        if isinstance(value, str) and compiled.fullmatch(value) is None:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {MEMBER_PATTERNS[member]}"
            )


operation = common.registrar(OPERATIONS)  # ``@operation("Name")`` registers an implementation


@dataclass
class Call:
    context: RequestContext
    logs: LogStore
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def scope(self) -> Scope:
        return self.context.scope

    def group(self, name: str) -> LogGroup:
        group = self.logs.group(self.scope, name)
        if group is None:
            raise ResourceNotFoundException(GROUP_NOT_FOUND)
        return group


def group_name_of(call: Call, params: Params) -> str:
    """The group ``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN) names; exactly
    one of them must be given."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name is not None and identifier is not None:
        raise InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if name is not None:
        return str(name)
    if identifier is None:
        raise InvalidParameterException("Either LogGroup name or LogGroup ARN must be provided.")
    text = str(identifier)
    if text.startswith("arn:"):
        found = model.group_of_arn(call.scope, text)
        if found is None:
            raise ResourceNotFoundException(GROUP_NOT_FOUND)
        return found
    return text


def require_group(call: Call, params: Params) -> LogGroup:
    return call.group(group_name_of(call, params))


def after_token(after: str) -> str:
    """An opaque token: "the page after this name"."""
    return base64.b64encode(json.dumps({"after": after}).encode()).decode()


def read_after_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        after = json.loads(base64.b64decode(token, validate=True))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidParameterException(INVALID_TOKEN) from error
    if not isinstance(after, str):
        raise InvalidParameterException(INVALID_TOKEN)
    return after
