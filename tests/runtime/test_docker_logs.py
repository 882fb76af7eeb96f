"""Unit tests of ecsemu.runtime.docker_logs: Docker's timestamped lines parsed, what Docker is given
for each log driver, and the followers on a fake engine whose ``logs()`` yields chunks."""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ecsemu.runtime.docker_logs import (
    AWSLOGS_LABEL,
    BATCH_LINES,
    BATCH_SECONDS,
    LogFollowers,
    log_config,
    log_labels,
    log_refusal,
    parse_line,
)

TASK = "arn:aws:ecs:us-east-1:123456789012:task/default/aaaa"
BASE_S = calendar.timegm((2026, 12, 3, 12, 0, 1, 0, 0, 0))
BASE_NS = BASE_S * 1_000_000_000


def stamped(offset_ns: int, text: str) -> bytes:
    """A line as ``docker logs --timestamps`` writes it."""
    ns = BASE_NS + offset_ns
    seconds, nanos = divmod(ns, 1_000_000_000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{nanos:09d}Z {text}\n".encode()


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


# --- parse_line ----------------------------------------------------------------------------------


def test_parse_line_nanoseconds() -> None:
    assert parse_line(b"2026-12-03T12:00:01.123456789Z hello world\n") == (BASE_NS + 123_456_789, "hello world")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"2026-12-03T12:00:01.5Z short fraction\n", (BASE_NS + 500_000_000, "short fraction")),
        (b"2026-12-03T12:00:01Z no fraction\n", (BASE_NS, "no fraction")),
        (b"2026-12-03T12:00:01.000000001Z crlf\r\n", (BASE_NS + 1, "crlf")),
        (b"2026-12-03T12:00:01.1Z \n", (BASE_NS + 100_000_000, "")),
        (b"2026-12-03T12:00:01.1Z  leading space kept\n", (BASE_NS + 100_000_000, " leading space kept")),
        (b"2026-12-03T12:00:01.1Z no newline at the end", (BASE_NS + 100_000_000, "no newline at the end")),
        (b"2026-12-03T12:00:01.1Z caf\xc3\xa9 \xff\n", (BASE_NS + 100_000_000, "café \ufffd")),
        (b"2026-12-03T12:00:01.1Z inner\rcarriage\n", (BASE_NS + 100_000_000, "inner\rcarriage")),
    ],
)
def test_parse_line_forms(raw: bytes, expected: tuple[int, str]) -> None:
    assert parse_line(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"no stamp at all\n",
        b"\n",
        b"2026-12-03 12:00:01.1Z space in the stamp\n",
        b"2026-13-03T12:00:01.1Z month 13\n",
        b"2026-12-03T12:00:01.1+01:00 not UTC\n",
        b"2026-12-03T12:00:01.1Z\n",  # no space: the newline ends the stamp
    ],
)
def test_parse_line_refuses_bad_stamps(raw: bytes) -> None:
    assert parse_line(raw) is None


def test_parse_line_agrees_across_seconds() -> None:
    # The seconds cache must not confuse neighbouring seconds.
    for offset in range(0, 5_000_000_000, 700_000_000):
        assert parse_line(stamped(offset, "x")) == (BASE_NS + offset, "x")


# --- what Docker is given -----------------------------------------------------------------------


def container(driver: str | None, **options: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "main"}
    if driver is not None:
        out["logConfiguration"] = {"logDriver": driver, "options": options}
    return out


def test_awslogs_runs_on_json_file_with_the_label() -> None:
    awslogs = container("awslogs", **{"awslogs-group": "g"})
    assert log_labels(awslogs) == {AWSLOGS_LABEL: "true"}
    assert log_config(awslogs) == {}
    assert log_refusal(awslogs) is None


def test_no_driver_gets_dockers_default() -> None:
    assert (
        log_labels(container(None)) == {} and log_config(container(None)) == {} and log_refusal(container(None)) is None
    )


@pytest.mark.parametrize("driver", ["json-file", "local", "none", "journald"])
def test_local_drivers_are_passed_to_docker_unchanged(driver: str) -> None:
    given = container(driver, **{"max-size": "10m"})
    assert log_config(given) == {"log_config": {"type": driver, "config": {"max-size": "10m"}}}
    assert log_labels(given) == {} and log_refusal(given) is None


@pytest.mark.parametrize("driver", ["syslog", "gelf", "fluentd", "splunk", "awsfirelens"])
def test_network_drivers_need_host_access(driver: str) -> None:
    reason = log_refusal(container(driver))
    assert (
        reason is not None
        and reason.startswith("CannotCreateContainerError: ")
        and driver in reason
        and "main" in reason
    )
    assert log_config(container(driver, tag="x")) == {"log_config": {"type": driver, "config": {"tag": "x"}}}


# --- followers ----------------------------------------------------------------------------------


class FakeSink:
    def __init__(self, resume: int | None = None) -> None:
        self.resume = resume
        self.lock = threading.Lock()
        self.batches: list[list[tuple[int, str]]] = []
        self.ended: list[tuple[str, str]] = []

    def log_lines(self, task_arn: str, container_name: str, lines: list[tuple[int, str]]) -> None:
        with self.lock:
            self.batches.append(list(lines))

    def resume_after(self, task_arn: str, container_name: str, container_id: str) -> int | None:
        return self.resume

    def log_ended(self, task_arn: str, container_name: str) -> None:
        self.ended.append((task_arn, container_name))

    def lines(self) -> list[str]:
        with self.lock:
            return [text for batch in self.batches for _, text in batch]


class FakeResponse:
    def __init__(self, stream: Iterator[bytes]) -> None:
        self.raw = self
        self.chunked = True
        self._stream = stream
        self.closed = False

    def read_chunked(self, decode_content: bool = False) -> Iterator[bytes]:
        return self._stream

    def close(self) -> None:
        self.closed = True


class FakeApi:
    """The engine's raw logs endpoint: yields the given chunks (a TTY container's stream, or
    frames when ``tty=False``); a ``threading.Event`` in them waits until set."""

    def __init__(self, chunks: list[Any], error: Exception | None = None, tty: bool = True) -> None:
        self.chunks = chunks
        self.error = error
        self.tty = tty
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return {"Config": {"Tty": self.tty}}

    def _url(self, path: str, container_id: str) -> str:
        return path.format(container_id)

    def _get(self, url: str, params: dict[str, Any], stream: bool) -> FakeResponse:
        self.calls.append((url.split("/")[2], params))
        return FakeResponse(self._stream())

    def _raise_for_status(self, response: FakeResponse) -> None:
        pass

    def _stream(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if isinstance(chunk, threading.Event):
                assert chunk.wait(10)
                continue
            yield chunk
        if self.error is not None:
            raise self.error


def follow(api: FakeApi, sink: FakeSink, container_id: str = "c1") -> LogFollowers:
    followers = LogFollowers(api, sink)
    followers.follow(container_id, TASK, "main")
    wait_until(lambda: followers.drained(container_id), what="the follower to drain")
    return followers


def test_lines_split_across_chunks_arrive_whole_and_in_order() -> None:
    data = b"".join(stamped(i * 1000, f"line-{i}") for i in range(50))
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    api, sink = FakeApi(chunks), FakeSink()
    followers = follow(api, sink)
    assert sink.lines() == [f"line-{i}" for i in range(50)]
    assert [stamp for batch in sink.batches for stamp, _ in batch] == [BASE_NS + i * 1000 for i in range(50)]
    assert sink.ended == [(TASK, "main")]
    assert not followers.following("c1")
    container_id, kwargs = api.calls[0]
    assert container_id == "c1"
    assert kwargs == {"stdout": 1, "stderr": 1, "follow": 1, "timestamps": 1}
    followers.close()


def test_a_last_line_without_newline_and_garbage_lines() -> None:
    api = FakeApi([stamped(0, "one") + b"not a docker line\n" + stamped(1, "last")[:-1]])
    sink = FakeSink()
    follow(api, sink).close()
    assert sink.lines() == ["one", "last"]


def test_many_lines_are_handed_on_in_batches() -> None:
    data = b"".join(stamped(i, f"l{i}") for i in range(2 * BATCH_LINES + 10))
    sink = FakeSink()
    follow(FakeApi([data[: len(data) // 2], data[len(data) // 2 :]]), sink).close()
    assert sink.lines() == [f"l{i}" for i in range(2 * BATCH_LINES + 10)]
    assert len(sink.batches) >= 2


def test_resume_after_skips_lines_already_stored() -> None:
    data = b"".join(stamped(i * 1_000_000, f"line-{i}") for i in range(10))
    sink = FakeSink(resume=BASE_NS + 4_000_000)  # line-4's stamp: it is taken as stored
    api = FakeApi([data])
    follow(api, sink).close()
    assert sink.lines() == [f"line-{i}" for i in range(5, 10)]
    since = api.calls[0][1]["since"]
    assert since == f"{BASE_S}.004000000"


@pytest.mark.parametrize("millisecond", [0, 123, 999])
def test_since_never_skips_a_line_after_the_writers_resume_points(millisecond: int) -> None:
    """``since`` is given to Docker as decimal text to the nanosecond: exactly the resume point."""
    resume = 1_800_000_000_000_000_000 + millisecond * 1_000_000 + 999_999
    api = FakeApi([])
    follow(api, FakeSink(resume=resume)).close()
    since = api.calls[0][1]["since"]
    seconds, _, fraction = since.partition(".")
    assert int(seconds) * 1_000_000_000 + int(fraction) == resume


def test_a_quiet_containers_lines_are_handed_on_by_the_flusher() -> None:
    release = threading.Event()
    sink = FakeSink()
    followers = LogFollowers(FakeApi([stamped(0, "hello") + stamped(1, "par")[:-1], b"tial", release]), sink)
    started = time.monotonic()
    followers.follow("c1", TASK, "main")
    try:
        wait_until(lambda: sink.lines() == ["hello"], timeout=2, what="the quiet container's line")
        assert time.monotonic() - started < BATCH_SECONDS + 1.0
        assert not followers.drained("c1") and followers.following("c1")
    finally:
        release.set()
    wait_until(lambda: followers.drained("c1"), what="the follower to drain")
    assert sink.lines() == ["hello", "partial"]
    followers.close()


def test_an_engine_error_ends_the_follower_with_what_was_read() -> None:
    sink = FakeSink()
    follow(FakeApi([stamped(0, "before")], error=ConnectionError("engine gone")), sink).close()
    assert sink.lines() == ["before"] and sink.ended == [(TASK, "main")]


def test_follow_is_idempotent_and_a_drained_container_is_not_followed_again() -> None:
    release = threading.Event()
    api, sink = FakeApi([stamped(0, "x"), release]), FakeSink()
    followers = LogFollowers(api, sink)
    followers.follow("c1", TASK, "main")
    followers.follow("c1", TASK, "main")
    release.set()
    wait_until(lambda: followers.drained("c1"), what="the follower to drain")
    followers.follow("c1", TASK, "main")
    follows = [params for _, params in api.calls if params["follow"] == 1]
    assert len(follows) == 1 and sink.lines() == ["x"]  # (and one read without follow, for a late last line)
    # Once forgotten (the container is gone from the listing), it could be followed again.
    followers.forget_all_but(set())
    assert not followers.drained("c1")
    followers.close()


def test_a_closed_followers_follows_nothing() -> None:
    api = FakeApi([stamped(0, "x")])
    followers = LogFollowers(api, FakeSink())
    followers.close()
    followers.follow("c1", TASK, "main")
    assert api.calls == [] and not followers.following("c1")


# --- the hold on an exited container until its output is read (runtime/docker_taskenv.py) --------


class FakeHooks(FakeSink):
    serves_endpoints = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def exited(container_id: str = "c1") -> dict[str, Any]:
    from ecsemu.runtime import docker_spec as spec  # noqa: PLC0415

    labels = {AWSLOGS_LABEL: "true", spec.ROLE: "container", spec.TASK_ARN: TASK, spec.CONTAINER_NAME: "main"}
    return {"Id": container_id, "State": "exited", "Status": "Exited (0)", "Labels": labels}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from ecsemu.runtime import docker_taskenv  # noqa: PLC0415

    fake = Clock()
    monkeypatch.setattr(docker_taskenv, "time", fake)
    return fake


def test_an_exited_container_is_held_until_its_output_is_read(clock: Clock) -> None:
    from ecsemu.runtime.docker_taskenv import TaskPlumbing  # noqa: PLC0415

    gate = threading.Event()
    hooks = FakeHooks()
    plumbing = TaskPlumbing(FakeApi([stamped(0, "a"), gate, stamped(1, "b")]), hooks)
    try:
        assert plumbing.watch([exited()])[0]["State"] == "running"
        wait_until(lambda: hooks.lines() == ["a"], what="the first line")
        assert plumbing.watch([exited()])[0]["State"] == "running"
        gate.set()
        wait_until(lambda: plumbing.followers.drained("c1"), what="the follower to drain")
        assert plumbing.watch([exited()])[0]["State"] == "exited"
        assert hooks.lines() == ["a", "b"]
    finally:
        gate.set()
        plumbing.close()


def test_a_stuck_follower_holds_the_exit_at_most_the_drain_timeout(clock: Clock) -> None:
    from ecsemu.runtime.docker_logs import DRAIN_TIMEOUT_S  # noqa: PLC0415
    from ecsemu.runtime.docker_taskenv import TaskPlumbing  # noqa: PLC0415

    gate = threading.Event()
    plumbing = TaskPlumbing(FakeApi([gate]), FakeHooks())
    try:
        assert plumbing.watch([exited()])[0]["State"] == "running"
        clock.now += DRAIN_TIMEOUT_S + 0.1
        assert plumbing.watch([exited()])[0]["State"] == "exited"
    finally:
        gate.set()
        plumbing.close()


def test_a_follower_still_reading_holds_the_exit_past_the_drain_timeout(clock: Clock) -> None:
    from ecsemu.runtime.docker_logs import DRAIN_TIMEOUT_S  # noqa: PLC0415
    from ecsemu.runtime.docker_taskenv import TaskPlumbing  # noqa: PLC0415

    gates = [threading.Event() for _ in range(3)]
    hooks = FakeHooks()
    chunks: list[Any] = []
    for index, gate in enumerate(gates):
        chunks += [stamped(index, f"line-{index}"), gate]
    plumbing = TaskPlumbing(FakeApi(chunks), hooks)
    try:
        assert plumbing.watch([exited()])[0]["State"] == "running"
        for index, gate in enumerate(gates[:-1]):
            wait_until(lambda i=index: len(hooks.lines()) == i + 1, what="the follower's progress")
            clock.now += DRAIN_TIMEOUT_S * 0.9  # lines keep coming, a little under the timeout apart
            gate.set()
        wait_until(lambda: len(hooks.lines()) == len(gates), what="the follower's progress")
        assert plumbing.watch([exited()])[0]["State"] == "running"  # still reading: not exited yet
    finally:
        for gate in gates:
            gate.set()
        plumbing.close()


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_multiplexed_frames_split_anywhere_arrive_whole() -> None:
    data = b"".join(frame(1 + i % 2, stamped(i, f"line-{i}")) for i in range(30))
    chunks = [data[i : i + 5] for i in range(0, len(data), 5)]
    sink = FakeSink()
    follow(FakeApi(chunks, tty=False), sink).close()
    assert sink.lines() == [f"line-{i}" for i in range(30)]


def test_an_entry_docker_split_is_joined_again() -> None:
    long = "x" * 20000
    first = stamped(0, long[:16384])[:-1]  # Docker's partial entry: no newline at its end
    rest = stamped(1, long[16384:])
    sink = FakeSink()
    follow(FakeApi([frame(1, first), frame(1, rest)], tty=False), sink).close()
    assert sink.lines() == [long]


def test_a_stream_that_is_not_dockers_is_refused() -> None:
    from ecsemu.runtime.docker_logs import MAX_FRAME, frames  # noqa: PLC0415

    with pytest.raises(ValueError):
        list(frames([bytes([1, 0, 0, 0]) + (MAX_FRAME + 1).to_bytes(4, "big")]))
    with pytest.raises(ValueError):
        list(frames([bytes([7, 0, 0, 0, 0, 0, 0, 1]) + b"x"]))


def test_a_last_line_without_newline_is_kept_when_the_stream_fails_at_its_end() -> None:
    sink = FakeSink()
    follow(FakeApi([frame(1, stamped(0, "whole")), frame(1, stamped(1, "{json}")[:-1])], error=ConnectionError("closed"), tty=False), sink).close()
    assert sink.lines() == ["whole", "{json}"]


def test_a_last_line_the_follow_missed_is_read_once_more_after_it() -> None:
    """Docker may end a follow before a last line without a newline is in its log: the
    follower reads once more, without follow, after what it has."""

    class LateApi(FakeApi):
        def _get(self, url: str, params: dict[str, Any], stream: bool) -> FakeResponse:
            self.calls.append((url.split("/")[2], params))
            if params["follow"]:
                return FakeResponse(iter([frame(1, stamped(0, "first"))]))
            return FakeResponse(iter([frame(1, stamped(0, "first")), frame(1, stamped(5, "{late json}")[:-1])]))

    api, sink = LateApi([], tty=False), FakeSink()
    follow(api, sink).close()
    assert sink.lines() == ["first", "{late json}"]
    assert api.calls[1][1]["since"] == f"{BASE_S}.000000000" and api.calls[1][1]["follow"] == 0
