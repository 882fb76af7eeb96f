"""The awslogs driver: a container's output as CloudWatch Logs events.

Options (``logConfiguration.options``, as ECS reads them): ``awslogs-group`` (required),
``awslogs-region`` (the group's region; the task's by default), ``awslogs-stream-prefix``
(stream ``<prefix>/<container name>/<task id>``; without a prefix the stream is the Docker
container's id, as on EC2), ``awslogs-create-group`` ("true": the group is made if missing;
otherwise a missing group stops the task with ECS's reason), ``awslogs-datetime-format`` /
``awslogs-multiline-pattern`` (a line matching it starts a new event; other lines join the
event before them), ``mode`` (blocking | non-blocking: accepted; ecsemu never drops lines) and
``max-buffer-size``.

Invariants:
- Events keep the order the container wrote them; an event's timestamp is its first line's
  (milliseconds), its message the joined lines (``\\n`` between them).
- A multiline event waits for the line that starts the next one, for the end of the
  container's output, or at most ``MULTILINE_FLUSH_S`` (checked as lines arrive).
- An event is at most ``MAX_EVENT_BYTES`` (CloudWatch Logs' limit less its overhead); longer
  ones are split.
- Writes go through ``ecsemu.model.logs.LogStore`` in batches of at most ``BATCH_EVENTS``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.model.logs import LogStore

log = logging.getLogger(__name__)

MISSING_GROUP_REASON: Final = (
    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1"
)
MULTILINE_FLUSH_S: Final = 5.0
MAX_EVENT_BYTES: Final = 256 * 1024 - 26
BATCH_EVENTS: Final = 1000

# strftime directives → regular expressions, as the awslogs driver converts a datetime format.
_DIRECTIVES: Final = {
    "%a": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)",
    "%A": r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    "%b": r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "%B": r"(?:January|February|March|April|May|June|July|August|September|October|November|December)",
    "%d": r"(?:0[1-9]|[12][0-9]|3[01])",
    "%e": r"(?: [1-9]|[12][0-9]|3[01])",
    "%H": r"(?:[01][0-9]|2[0-3])",
    "%I": r"(?:0[1-9]|1[0-2])",
    "%j": r"(?:\d{3})",
    "%k": r"(?: ?[0-9]|1[0-9]|2[0-3])",
    "%l": r"(?: ?[1-9]|1[0-2])",
    "%L": r"\.\d{3}",
    "%m": r"(?:0[1-9]|1[0-2])",
    "%M": r"(?:[0-5][0-9])",
    "%N": r"\d{9}",
    "%p": r"(?:AM|PM)",
    "%S": r"(?:[0-5][0-9]|60)",
    "%T": r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)",
    "%y": r"\d{2}",
    "%Y": r"\d{4}",
    "%z": r"[+-]\d{4}",
    "%Z": r"[A-Z]{2,5}",
    "%f": r"\d{1,9}",
    "%%": "%",
}


class OptionError(ValueError):
    """A datetime format or multiline pattern that cannot be used."""


def datetime_regex(fmt: str) -> re.Pattern[str]:
    """The regular expression a line starting with a timestamp in ``fmt`` matches."""
    parts: list[str] = []
    index = 0
    while index < len(fmt):
        directive = fmt[index : index + 2]
        if fmt[index] == "%" and directive in _DIRECTIVES:
            parts.append(_DIRECTIVES[directive])
            index += 2
        else:
            parts.append(re.escape(fmt[index]))
            index += 1
    return re.compile("^" + "".join(parts))


@dataclass(frozen=True)
class AwsLogsOptions:
    group: str
    region: str | None
    stream_prefix: str | None
    create_group: bool
    starts_event: re.Pattern[str] | None

    @classmethod
    def of(cls, container: dict[str, Any]) -> AwsLogsOptions | None:
        configuration = container.get("logConfiguration") or {}
        if configuration.get("logDriver") != "awslogs":
            return None
        options = {str(k): str(v) for k, v in (configuration.get("options") or {}).items()}
        starts: re.Pattern[str] | None = None
        try:
            if options.get("awslogs-datetime-format"):
                starts = datetime_regex(options["awslogs-datetime-format"])
            elif options.get("awslogs-multiline-pattern"):
                starts = re.compile(options["awslogs-multiline-pattern"])
        except re.error as error:
            raise OptionError(f"awslogs-multiline-pattern: {error}") from None
        return cls(
            group=options.get("awslogs-group", ""),
            region=options.get("awslogs-region") or None,
            stream_prefix=options.get("awslogs-stream-prefix") or None,
            create_group=options.get("awslogs-create-group", "").lower() == "true",
            starts_event=starts,
        )

    def scope(self, task_scope: Scope) -> Scope:
        return Scope(task_scope.account_id, self.region or task_scope.region)

    def stream(self, container_name: str, task_id: str, container_id: str) -> str:
        if self.stream_prefix:
            return f"{self.stream_prefix}/{container_name}/{task_id}"
        return container_id


@dataclass
class EventJoiner:
    """Lines to events: each line an event, or, with ``starts_event``, multiline events."""

    starts_event: re.Pattern[str] | None
    pending: list[str] = field(default_factory=list)
    pending_ms: int = 0
    pending_since: float = 0.0
    pending_chars: int = 0  # an event reaching MAX_EVENT_BYTES is ended (the next line starts one)

    def feed(self, lines: list[tuple[int, str]], now: float) -> list[tuple[int, str]]:
        events: list[tuple[int, str]] = []
        if self.starts_event is None:
            for stamp_ns, text in lines:
                events.extend(_split(stamp_ns // 1_000_000, text))
            return events
        if self.pending and now - self.pending_since >= MULTILINE_FLUSH_S:
            events.extend(self.flush())
        for stamp_ns, text in lines:
            if self.pending and self.starts_event.search(text) is None and self.pending_chars < MAX_EVENT_BYTES:
                self.pending.append(text)
                self.pending_chars += len(text) + 1
                continue
            events.extend(self.flush())
            self.pending, self.pending_ms, self.pending_since = [text], stamp_ns // 1_000_000, now
            self.pending_chars = len(text)
        return events

    def flush(self) -> list[tuple[int, str]]:
        if not self.pending:
            return []
        events = _split(self.pending_ms, "\n".join(self.pending))
        self.pending = []
        return events


def _split(stamp_ms: int, message: str) -> list[tuple[int, str]]:
    """The event, or its pieces of at most ``MAX_EVENT_BYTES`` cut between characters."""
    if len(message) * 4 <= MAX_EVENT_BYTES:  # no UTF-8 text this long can be too big
        return [(stamp_ms, message)]
    encoded = message.encode("utf-8")
    if len(encoded) <= MAX_EVENT_BYTES:
        return [(stamp_ms, message)]
    pieces = []
    start = 0
    while start < len(encoded):
        end = min(start + MAX_EVENT_BYTES, len(encoded))
        while end < len(encoded) and encoded[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        pieces.append((stamp_ms, encoded[start:end].decode("utf-8")))
        start = end
    return pieces


@dataclass
class _Destination:
    scope: Scope
    group: str
    stream: str
    joiner: EventJoiner
    ready: bool = False
    broken: bool = False


class AwsLogsWriter:
    """Writes each followed container's lines to its group and stream."""

    def __init__(self, logs: LogStore) -> None:
        self.logs = logs
        self._lock = threading.Lock()
        self._destinations: dict[tuple[str, str], _Destination] = {}

    def check_group(self, options: AwsLogsOptions, task_scope: Scope) -> str | None:
        """ECS's reason when the group is missing and may not be made; makes it when it may."""
        scope = options.scope(task_scope)
        if self.logs.group_exists(scope, options.group):
            return None
        if options.create_group:
            self.logs.create_group_if_absent(scope, options.group, int(time.time() * 1000))
            return None
        return MISSING_GROUP_REASON

    def register(
        self, task_arn: str, container_name: str, destination: tuple[Scope, str, str, re.Pattern[str] | None]
    ) -> None:
        scope, group, stream, starts = destination
        with self._lock:
            self._destinations.setdefault(
                (task_arn, container_name), _Destination(scope, group, stream, EventJoiner(starts))
            )

    def known(self, task_arn: str, container_name: str) -> bool:
        with self._lock:
            return (task_arn, container_name) in self._destinations

    def write(self, task_arn: str, container_name: str, lines: list[tuple[int, str]]) -> None:
        destination = self._destination(task_arn, container_name)
        if destination is None:
            return
        self._store(destination, destination.joiner.feed(lines, time.monotonic()))

    def end(self, task_arn: str, container_name: str) -> None:
        with self._lock:
            destination = self._destinations.pop((task_arn, container_name), None)
        if destination is not None:
            self._store(destination, destination.joiner.flush())

    def resume_after_ns(self, task_arn: str, container_name: str) -> int | None:
        destination = self._destination(task_arn, container_name)
        if destination is None:
            return None
        try:
            last_ms = self.logs.last_timestamp(destination.scope, destination.group, destination.stream)
        except LookupError:
            return None
        # Lines of the millisecond already stored are taken as read (the store keeps ms).
        return None if last_ms is None else last_ms * 1_000_000 + 999_999

    def _destination(self, task_arn: str, container_name: str) -> _Destination | None:
        with self._lock:
            return self._destinations.get((task_arn, container_name))

    def _store(self, destination: _Destination, events: list[tuple[int, str]]) -> None:
        if not events or destination.broken:
            return
        now_ms = int(time.time() * 1000)
        try:
            if not destination.ready:
                self.logs.ensure_stream(destination.scope, destination.group, destination.stream, now_ms)
                destination.ready = True
            for start in range(0, len(events), BATCH_EVENTS):
                self.logs.append(
                    destination.scope,
                    destination.group,
                    destination.stream,
                    events[start : start + BATCH_EVENTS],
                    now_ms,
                )
        except LookupError:
            destination.broken = True
            log.warning("log group %s is gone: output for stream %s is dropped", destination.group, destination.stream)
