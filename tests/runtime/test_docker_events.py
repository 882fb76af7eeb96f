"""The docker runtime's engine events (``ecsemu.runtime.docker_events``) against a real engine:
subscribers woken quickly, a dropped stream followed again, and the engine's availability
check (``ecsemu.runtime.docker_engine``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import free_port, wait_until
from docker_runtime_fixtures import (
    NAMESPACE,
    Tasks,
    get_ok,
    host_port,
    job,
    wait_state,
    web,
)

from ecsemu.runtime.docker import DockerRuntime
from ecsemu.runtime.docker_engine import docker_available

pytestmark = pytest.mark.docker


def test_events_reach_subscribers_quickly(runtime: DockerRuntime, tasks: Tasks) -> None:
    calls: list[float] = []
    runtime.subscribe(lambda: calls.append(time.time()))
    task = tasks.new(web())
    runtime.launch(task)
    port = host_port(wait_state(runtime, task.task_arn, "web", "running"))
    get_ok(port, "/exit?code=5")
    exited = wait_state(runtime, task.task_arn, "web", "exited")
    assert exited.exit_code == 5 and exited.finished_at is not None
    finished_at = exited.finished_at
    woken = wait_until(lambda: [t for t in calls if t >= finished_at], what="a callback after the exit")
    print(f"\nevent → callback: {(woken[0] - finished_at) * 1000:.0f} ms")
    assert woken[0] - finished_at < 1.0


class DroppingEvents:
    """The real engine, except that the first event stream ends at once (a dropped connection)."""

    def __init__(self, engine: Any) -> None:
        self.api, self._real, self.streams = self, engine.api, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def events(self, *args: Any, **kwargs: Any) -> Any:
        self.streams += 1
        if self.streams == 1:
            return Dropped()
        return self._real.events(*args, **kwargs)


class Dropped:
    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def close(self) -> None:
        pass


def test_the_event_stream_reconnects_and_close_ends_it(tasks: Tasks, engine: Any) -> None:
    dropping = DroppingEvents(engine)
    others = {t for t in threading.enumerate() if t.name == "ecsemu-docker-events"}  # a live emulator's
    runtime = DockerRuntime(dropping, namespace=NAMESPACE)
    calls: list[float] = []
    try:
        runtime.subscribe(lambda: calls.append(time.time()))
        wait_until(lambda: dropping.streams >= 2 and calls, what="a reconnect and a catch-up callback")
        task = tasks.new(job("main", "sleep 0.5", essential=True))
        runtime.launch(task)
        exited = wait_state(runtime, task.task_arn, "main", "exited")
        assert exited.finished_at is not None
        finished_at = exited.finished_at
        wait_until(lambda: [t for t in calls if t >= finished_at], what="the die event after the reconnect")
    finally:
        runtime.close()
    wait_until(
        lambda: (
            not [
                t
                for t in threading.enumerate()
                if t.name == "ecsemu-docker-events" and t.is_alive() and t not in others
            ]
        ),
        what="the event thread to end",
    )


def test_docker_available_answers_false_quickly_without_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    began = time.monotonic()
    assert docker_available() is False
    assert time.monotonic() - began < 2.5
