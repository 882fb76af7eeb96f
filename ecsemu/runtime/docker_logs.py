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
  runtime keeps reporting an exited container as running until its follower has drained — for
  as long as the follower makes progress, and ``DRAIN_TIMEOUT_S`` more when it makes none (an
  engine that stopped answering) — so a task never reports STOPPED with lines still unread.
- The engine's stream is read raw (its chunked transfer decoded by urllib3) and its frames split
  here (``frames``: an 8-byte header, a bounded length): docker-py's own reader makes two reads
  a line and cost three times the CPU. An entry Docker split (lines over 16 KiB) is joined again.
- A follower resumes where the sink says it stopped (``LogSink.resume_after``), so after a
  restart no line is stored twice. The awslogs sink keeps milliseconds (CloudWatch's unit) and
  resumes after the last stored millisecond: a line printed in that same millisecond but not
  yet stored when ecsemu was killed is not read again (a known limit; a nanosecond cursor
  per stream would close it).
- Lines are ``(timestamp ns, text)`` without the trailing newline; batches are at most
  ``BATCH_LINES`` lines or ``BATCH_SECONDS`` old.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Protocol

log = logging.getLogger(__name__)

AWSLOGS_LABEL: Final = "ecsemu.awslogs"
AWSLOGS: Final = "awslogs"
LOCAL_DRIVERS: Final = frozenset({"json-file", "local", "none", "journald"})
BATCH_LINES: Final = 1000
BATCH_SECONDS: Final = 0.2
DRAIN_TIMEOUT_S: Final = 10.0
MAX_FRAME: Final = 1024 * 1024
MAX_LINE_CHARS: Final = 256 * 1024  # a longer line is handed on in pieces (an event's limit)
CHUNK: Final = 64 * 1024
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


def _since(after: int | None) -> str | None:
    """Docker's ``since`` for "after this nanosecond" (decimal seconds), None for all."""
    return None if after is None else f"{after // 1_000_000_000}.{after % 1_000_000_000:09d}"


class _Reading:
    """Entries to lines, across the reads of one container: a read takes only lines stamped
    after its ``floor`` (the resume point; for a second read, the last line of the first, so
    it repeats nothing), and entries Docker split are joined."""

    def __init__(self, after: int | None) -> None:
        self.floor = after
        self.last = after
        self.partial: Line | None = None  # an entry without its newline: the rest follows

    def again(self) -> str | None:
        """Start another read after everything taken so far; its ``since``."""
        self.floor = self.last
        return _since(self.floor)

    def take(self, entries: list[bytes], batch: _Batch) -> None:
        for raw in entries:
            line = parse_line(raw)
            if line is None or (self.floor is not None and line[0] <= self.floor):
                continue
            self.last = line[0] if self.last is None else max(self.last, line[0])
            if self.partial is not None:
                line = (self.partial[0], self.partial[1] + line[1])
                self.partial = None
            if not raw.endswith(b"\n") and len(line[1]) < MAX_LINE_CHARS:
                self.partial = line  # the rest follows (a line grows no longer than MAX_LINE_CHARS)
                continue
            batch.add(line)

    def finish(self, batch: _Batch) -> None:
        if self.partial is not None:
            batch.add(self.partial)
            self.partial = None


class LogFollowers:
    """One follower thread per awslogs container, keyed by container id, and one flusher
    thread that hands on lines that waited ``BATCH_SECONDS`` (a quiet container's last lines
    are not held until it speaks again)."""

    def __init__(self, api: Any, sink: LogSink, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._sink = sink
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._batches: dict[str, _Batch] = {}
        self._done: set[str] = set()
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None
        self._progress: dict[str, float] = {}  # container id → when its follower last read

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
            self._progress.setdefault(container_id, self._clock())
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

    def idle_for(self, container_id: str) -> float:
        """Seconds since the container's follower last read something (or started; 0 when it
        never did)."""
        with self._lock:
            last = self._progress.get(container_id)
        return 0.0 if last is None else self._clock() - last

    def following(self, container_id: str) -> bool:
        with self._lock:
            return container_id in self._running

    def forget_all_but(self, container_ids: set[str]) -> None:
        with self._lock:
            self._done &= container_ids
            for gone in set(self._progress) - container_ids:
                del self._progress[gone]

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
        batch = _Batch(task_arn, container_name)
        with self._lock:
            self._batches[container_id] = batch
        read = _Reading(after)
        try:
            for entries in self._entries(container_id, _since(after), follow=True):
                with batch.lock:
                    read.take(entries, batch)
                    self._progress[container_id] = self._clock()
                if len(batch.lines) >= BATCH_LINES:
                    batch.hand_on(self._sink)
                if self._closed.is_set():
                    return
            # The engine may end a follow before the container's last output is in its log (a
            # last line without a newline is written as the container exits): read once more.
            for entries in self._entries(container_id, read.again(), follow=False):
                with batch.lock:
                    read.take(entries, batch)
        finally:
            # A last line without a newline is whole once the stream ends (or fails).
            with batch.lock:
                read.finish(batch)
            with contextlib.suppress(Exception):  # what was read before a failure is kept
                batch.hand_on(self._sink)
            with self._lock:
                self._batches.pop(container_id, None)

    def _entries(self, container_id: str, since: str | None, *, follow: bool) -> Iterator[list[bytes]]:
        """The container's log entries as they arrive (each ``<stamp> <text>``, a newline
        ending a whole line), read from the engine's stream (``frames``)."""
        params: Record = {"stdout": 1, "stderr": 1, "follow": 1 if follow else 0, "timestamps": 1}
        if since is not None:
            params["since"] = since
        tty = bool((self._api.inspect_container(container_id).get("Config") or {}).get("Tty"))
        response = self._api._get(self._api._url("/containers/{0}/logs", container_id), params=params, stream=True)
        self._api._raise_for_status(response)
        try:
            raw = response.raw
            chunks: Iterator[bytes] = (
                raw.read_chunked(decode_content=False) if raw.chunked else raw.stream(CHUNK, decode_content=False)
            )
            yield from (lines(chunks) if tty else frames(chunks))
        finally:
            response.close()


def frames(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The payloads of Docker's multiplexed stream (an 8-byte header — stream, three zero bytes,
    a big-endian length — before each), grouped as they arrive. A frame longer than
    ``MAX_FRAME`` is not Docker's: the stream is refused."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        out: list[bytes] = []
        start, size = 0, len(buffer)
        while size - start >= 8:
            length = int.from_bytes(buffer[start + 4 : start + 8], "big")
            if length > MAX_FRAME or buffer[start] > 2:
                raise ValueError("not a Docker log stream")
            end = start + 8 + length
            if end > size:
                break
            out.append(bytes(buffer[start + 8 : end]))
            start = end
        del buffer[:start]
        if out:
            yield out


def lines(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """A TTY container's raw stream as whole lines (a line is at most ``MAX_FRAME`` bytes)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *whole, pending = pending.split(b"\n")
        if len(pending) > MAX_FRAME:
            whole.append(pending)
            pending = b""
        if whole:
            yield [line + b"\n" for line in whole]
    if pending:
        yield [pending]
