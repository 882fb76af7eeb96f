"""A Docker engine outage is logged once (issue 11, finding 7): one warning when the engine
stops answering, one info when it answers again; never a traceback per call or per reconcile
round. A fake engine refuses connections, then answers."""

from __future__ import annotations

import logging
from typing import Any

import docker.errors
import pytest
import requests.exceptions
from conftest import wait_until

from ecsemu.reconcile.loop import Reconciler
from ecsemu.runtime.base import RuntimeUnavailable
from ecsemu.runtime.docker import DockerRuntime
from ecsemu.runtime.docker_engine import engine_down
from ecsemu.state.store import Store


class FlakyApi:
    """The engine's API: refuses every connection while ``down``."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    def _answer(self) -> None:
        self.calls += 1
        if self.down:
            raise requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))")

    def containers(self, **_: Any) -> list[Any]:
        self._answer()
        return []

    def events(self, **_: Any) -> Any:
        self._answer()
        return iter(())


class FlakyClient:
    def __init__(self) -> None:
        self.api = FlakyApi()

    def close(self) -> None:
        pass


def _outage_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("ecsemu")]


def test_observe_logs_an_outage_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    client = FlakyClient()
    runtime = DockerRuntime(client)
    caplog.set_level(logging.DEBUG, logger="ecsemu")
    try:
        for _ in range(50):
            with pytest.raises(RuntimeUnavailable):
                runtime.observe()
        client.api.down = False
        for _ in range(5):
            assert runtime.observe() == {}
        client.api.down = True
        with pytest.raises(RuntimeUnavailable):
            runtime.observe()
    finally:
        runtime.close()
    lines = [(r.levelname, r.getMessage().split(" (")[0]) for r in _outage_lines(caplog)]
    assert lines == [
        ("WARNING", "the Docker engine stopped answering"),
        ("INFO", "the Docker engine answers again"),
        ("WARNING", "the Docker engine stopped answering"),
    ]
    assert all(r.exc_info is None for r in _outage_lines(caplog))


def test_the_reconciler_skips_rounds_quietly_while_the_engine_is_down(caplog: pytest.LogCaptureFixture) -> None:
    client = FlakyClient()
    runtime = DockerRuntime(client)
    store = Store()
    reconciler = Reconciler(store, runtime, resync_interval_s=0.005)
    caplog.set_level(logging.DEBUG, logger="ecsemu")
    reconciler.start()
    try:
        wait_until(lambda: client.api.calls >= 100, what="100 rounds against a dead engine")
        client.api.down = False
        answered = client.api.calls
        wait_until(lambda: client.api.calls >= answered + 20, what="rounds against a live engine")
    finally:
        reconciler.stop()
        runtime.close()
        store.close()
    lines = [(r.levelname, r.getMessage().split(" (")[0]) for r in _outage_lines(caplog)]
    assert lines == [("WARNING", "the Docker engine stopped answering"), ("INFO", "the Docker engine answers again")]
    assert not any("reconcile round failed" in r.getMessage() for r in caplog.records)


def test_an_engine_that_answers_with_an_error_is_not_an_outage() -> None:
    assert engine_down(requests.exceptions.ConnectionError("refused"))
    assert engine_down(requests.exceptions.ReadTimeout("slow"))
    assert not engine_down(docker.errors.APIError("500 Server Error"))
    assert not engine_down(docker.errors.NotFound("no such container"))
    assert not engine_down(ValueError("ours"))
