"""Shared fixtures: a live ecsemu on a free loopback port, and boto3 clients for it.

- ``emulator``: one in-process server per test session (ephemeral state, simulated runtime).
  State is reset after every test that uses it, so tests never see each other's resources.
- ``ecs``: a boto3 ECS client pointed at it, as a user would make one.
- ``start_server``: starts ``python -m ecsemu`` as a real process (for the command line,
  durability and signal tests) and stops it, by PID, at the end of the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from ecsemu.app import Emulator
from ecsemu.config import Config
from ecsemu.reconcile.loop import VERIFY_SHARED_ENV
from ecsemu.state.mirror import Mirror

# Every reconciler started by the tests checks, each round, that nothing changed the records it
# shares with the planner (see ecsemu.state.mirror): in process through Mirror.mutations (the
# autouse fixture below), as a server process through its log (start_server's teardown).
os.environ[VERIFY_SHARED_ENV] = "1"

REPO = Path(__file__).resolve().parents[1]

# Fixtures that live in modules of their own.
pytest_plugins = ["alb_fixture", "docker_runtime_fixtures", "ecs_other_helpers", "elbv2_helpers"]
REGION = "us-east-1"


def client(service: str, endpoint: str, **kwargs: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=kwargs.pop("region_name", REGION),
        aws_access_key_id=kwargs.pop("aws_access_key_id", "testing"),
        aws_secret_access_key="testing",
        **kwargs,
    )


def wait_until(predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _shared_records_stay_unchanged() -> Iterator[None]:
    """Fail the test during which a reconciler found a shared record changed by its reader."""
    Mirror.mutations.clear()
    yield
    assert Mirror.mutations == [], f"the planner or executor changed shared records: {Mirror.mutations[:5]}"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="simulated", stopped_task_retention_s=3600))
    instance.start()
    yield instance
    instance.shutdown()


@pytest.fixture
def endpoint(emulator: Emulator) -> Iterator[str]:
    yield emulator.endpoint
    requests.post(f"{emulator.endpoint}/_ecsemu/reset", json={}, timeout=10)


@pytest.fixture
def ecs(endpoint: str) -> Any:
    return client("ecs", endpoint)


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    endpoint: str
    data_dir: Path
    log_path: Path

    def kill(self, sig: int = signal.SIGKILL) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=20)

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(*extra: str, data_dir: Path | None = None, port: int | None = None, env: dict[str, str] | None = None) -> ServerProcess:
        port = port or free_port()
        data_dir = data_dir or tmp_path / "data"
        log_path = tmp_path / f"server-{len(started)}.log"
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "ecsemu", "serve", "--port", str(port), "--data-dir", str(data_dir), *extra],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            )
        server = ServerProcess(process, f"http://127.0.0.1:{port}", data_dir, log_path)
        started.append(server)

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"ecsemu exited early:\n{log_path.read_text()}")
            try:
                return requests.get(f"{server.endpoint}/_ecsemu/health", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(healthy, timeout=30, what="ecsemu to answer")
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=15)
    for server in started:  # a server process checks its shared records too, and says so in its log
        assert "a reader changed the shared record" not in server.output(), server.output()[-2000:]


@pytest.fixture(scope="session")
def docker_emulator() -> Iterator[Emulator]:
    """An in-process ecsemu whose tasks are real Docker containers."""
    from ecsemu.runtime.docker_engine import docker_available  # noqa: PLC0415

    if not docker_available():
        pytest.fail("no Docker engine answers: run scripts/ensure-docker.sh (scripts/test.sh does)")
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="docker"))
    instance.start()
    yield instance
    instance.shutdown()


@pytest.fixture
def docker_ecs(docker_emulator: Emulator) -> Iterator[Any]:
    """A boto3 ECS client for the Docker-backed emulator; the test's containers are gone after it."""
    yield client("ecs", docker_emulator.endpoint)
    requests.post(f"{docker_emulator.endpoint}/_ecsemu/reset", json={}, timeout=10)
    docker_emulator.reconciler.nudge()
    wait_until(lambda: not docker_emulator.runtime.observe(), timeout=60, what="the test's containers to be removed")
