"""Containers' output for the ``awslogs`` driver: what Docker is given, and the followers that
read every line back from the engine and hand it on.

A container whose ``logConfiguration.logDriver`` is ``awslogs`` runs with Docker's own
``json-file`` driver and the label ``ecsemu.awslogs=true``; a follower (one thread a container)
streams its output with timestamps (``docker logs --follow --timestamps``) and hands lines, in
batches, to a ``LogSink``. Other drivers are given to Docker as the task definition says them
(``json-file``, ``local``, ``none``, ``journald``); drivers that send output over the network
(``syslog``, ``gelf``, ``fluentd``, ``splunk``…) reach the host and need ``--allow-host-access``.

Invariants:
- Every line the container printed reaches the sink before ``drained`` says so: a follower ends
  when the engine closes the stream (the container has exited and its output is read). The
  runtime keeps reporting an exited container as running until its follower has drained
  (at most ``DRAIN_TIMEOUT_S``), so a task never reports STOPPED with lines still unread.
- A follower resumes where the sink says it stopped (``LogSink.resume_after``: the newest
  timestamp it holds), so after a restart lines are neither lost nor stored twice (a line
  stamped exactly that nanosecond is skipped).
- Lines are ``(timestamp ns, text)`` without the trailing newline; batches are at most
  ``BATCH_LINES`` lines or ``BATCH_SECONDS`` old.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Final, Protocol

log = logging.getLogger(__name__)

AWSLOGS_LABEL: Final = "ecsemu.awslogs"
AWSLOGS: Final = "awslogs"
LOCAL_DRIVERS: Final = frozenset({"json-file", "local", "none", "journald"})
BATCH_LINES: Final = 1000
BATCH_SECONDS: Final = 0.2
DRAIN_TIMEOUT_S: Final = 10.0
Record = dict[str, Any]
Line = tuple[int, str]


class LogSink(Protocol):
    """Where followed lines go (``ecsemu.taskenv.awslogs``)."""

    def log_lines(self, task_arn: str, container_name: str, lines: list[Line]) -> None: ...

    def resume_after(self, task_arn: str, container_name: str, container_id: str) -> int | None: ...

    def log_ended(self, task_arn: str, container_name: str) -> None: ...


# --- what Docker is given -----------------------------------------------------------------


def driver_of(container: Record) -> str | None:
    return ((container.get("logConfiguration") or {}).get("logDriver")) or None


def log_labels(container: Record) -> dict[str, str]:
    return {AWSLOGS_LABEL: "true"} if driver_of(container) == AWSLOGS else {}


def log_config(container: Record) -> Record:
    """The host-config part for the container's log driver (nothing for awslogs: json-file)."""
    driver = driver_of(container)
    if driver is None or driver == AWSLOGS:
        return {}
    options = (container.get("logConfiguration") or {}).get("options") or {}
    return {"log_config": {"type": driver, "config": {str(k): str(v) for k, v in options.items()}}}


def log_refusal(container: Record) -> str | None:
    """Why a log driver needs host access (it sends to the network or a plugin), else None."""
    driver = driver_of(container)
    if driver is None or driver == AWSLOGS or driver in LOCAL_DRIVERS:
        return None
    return f"CannotCreateContainerError: the {driver} log driver of container {container['name']} sends its output outside the task"


# --- reading it back ----------------------------------------------------------------------

_second_cache: dict[str, int] = {}


def parse_line(raw: bytes) -> Line | None:
    """``b"2026-12-03T12:00:01.123456789Z text\\n"`` → (ns since the epoch, "text")."""
    text = raw.decode("utf-8", "replace")
    stamp, _, message = text.partition(" ")
    if len(stamp) < 20 or stamp[-1] != "Z":
        return None
    whole = stamp[:19]
    seconds = _second_cache.get(whole)
    if seconds is None:
        try:
            seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            return None
        if len(_second_cache) > 4096:
            _second_cache.clear()
        _second_cache[whole] = seconds
    fraction = stamp[20:-1] if stamp[19] == "." else ""
    nanos = int((fraction + "000000000")[:9]) if fraction.isdigit() else 0
    if message.endswith("\n"):
        message = message[:-1]
    if message.endswith("\r"):
        message = message[:-1]
    return seconds * 1_000_000_000 + nanos, message


class _Batch:
    """Lines read and not yet handed on; the follower and the flusher hand them on under its
    lock, so one container's batches reach the sink in order."""

    def __init__(self, task_arn: str, container_name: str) -> None:
        self.task_arn = task_arn
        self.container_name = container_name
        self.lock = threading.Lock()
        self.lines: list[Line] = []
        self.since = 0.0

    def add(self, line: Line) -> None:
        if not self.lines:
            self.since = time.monotonic()
        self.lines.append(line)

    def hand_on(self, sink: LogSink, *, older_than: float | None = None) -> None:
        """Give the lines to the sink (all, or only if the oldest waited ``older_than``)."""
        with self.lock:
            if not self.lines or (older_than is not None and time.monotonic() - self.since < older_than):
                return
            lines, self.lines = self.lines, []
            sink.log_lines(self.task_arn, self.container_name, lines)


class LogFollowers:
    """One follower thread per awslogs container, keyed by container id, and one flusher
    thread that hands on lines that waited ``BATCH_SECONDS`` (a quiet container's last lines
    are not held until it speaks again)."""

    def __init__(self, api: Any, sink: LogSink) -> None:
        self._api = api
        self._sink = sink
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._batches: dict[str, _Batch] = {}
        self._done: set[str] = set()
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    def follow(self, container_id: str, task_arn: str, container_name: str) -> None:
        """Start following (idempotent; a drained container is not followed again)."""
        with self._lock:
            if self._closed.is_set() or container_id in self._running or container_id in self._done:
                return
            thread = threading.Thread(
                target=self._follow,
                args=(container_id, task_arn, container_name),
                name=f"ecsemu-logs-{container_id[:12]}",
                daemon=True,
            )
            self._running[container_id] = thread
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_loop, name="ecsemu-logs-flush", daemon=True)
                self._flusher.start()
        thread.start()

    def _flush_loop(self) -> None:
        while not self._closed.wait(BATCH_SECONDS / 2):
            with self._lock:
                batches = list(self._batches.values())
            for batch in batches:
                try:
                    batch.hand_on(self._sink, older_than=BATCH_SECONDS)
                except Exception:
                    log.exception("writing the output of %s failed", batch.container_name)

    def drained(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._done

    def following(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._running

    def forget_all_but(self, container_ids: set[str]) -> None:
        with self._lock:
            self._done &= container_ids

    def close(self) -> None:
        self._closed.set()

    def _follow(self, container_id: str, task_arn: str, container_name: str) -> None:
        try:
            self._pump(container_id, task_arn, container_name)
        except Exception as error:  # the engine went away, or the container did
            log.debug("following %s's output ended: %s", container_name, error)
        finally:
            with self._lock:
                self._running.pop(container_id, None)
                self._done.add(container_id)
            try:
                self._sink.log_ended(task_arn, container_name)
            except Exception:
                log.exception("closing the log of %s in %s failed", container_name, task_arn)

    def _pump(self, container_id: str, task_arn: str, container_name: str) -> None:
        after = self._sink.resume_after(task_arn, container_name, container_id)
        since: Any = f"{after // 1_000_000_000}.{after % 1_000_000_000:09d}" if after else None
        stream = self._chunks(container_id, since)
        batch = _Batch(task_arn, container_name)
        with self._lock:
            self._batches[container_id] = batch
        pending = b""
        try:
            for chunk in stream:
                pending += chunk
                with batch.lock:
                    while True:
                        end = pending.find(b"\n")
                        if end < 0:
                            break
                        raw, pending = pending[: end + 1], pending[end + 1 :]
                        line = parse_line(raw)
                        if line is not None and (after is None or line[0] > after):
                            batch.add(line)
                if len(batch.lines) >= BATCH_LINES:
                    batch.hand_on(self._sink)
                if self._closed.is_set():
                    return
            if pending:
                line = parse_line(pending)
                if line is not None and (after is None or line[0] > after):
                    with batch.lock:
                        batch.add(line)
            batch.hand_on(self._sink)
        finally:
            with contextlib.suppress(Exception):  # what was read before a failure is kept
                batch.hand_on(self._sink)
            with self._lock:
                self._batches.pop(container_id, None)

    def _chunks(self, container_id: str, since: Any) -> Iterator[bytes]:
        """The container's output, stdout and stderr as written, each entry stamped."""
        kwargs: Record = {"stdout": True, "stderr": True, "stream": True, "follow": True, "timestamps": True}
        if since is not None:
            kwargs["since"] = float(since)
        output: Iterator[bytes] = self._api.logs(container_id, **kwargs)
        yield from output
