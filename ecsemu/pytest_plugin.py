"""The pytest plugin (entry point ``pytest11``: installed with ecsemu, active in every pytest run,
costing nothing until a test asks for one of its fixtures).

Fixtures:
- ``ecsemu``: the emulator (``ecsemu.testing.EcsEmulator``), started once per session on a free
  port of 127.0.0.1, on the simulated runtime unless ``--ecsemu-runtime docker`` (or the ini
  option ``ecsemu_runtime = docker``) is given, or the test is marked
  ``@pytest.mark.ecsemu(runtime="docker")`` (a second, Docker-backed emulator, started when the
  first such test needs it). While it runs, ``AWS_ENDPOINT_URL``, dummy credentials and the
  region point every boto3 client and AWS CLI call at it. After each test that used it, its
  state is reset — unless the test is marked ``@pytest.mark.ecsemu(reset=False)`` or the ini
  option ``ecsemu_reset = false`` is set.
- ``ecsemu_client``: a factory of boto3 clients for it: ``ecsemu_client("ecs")``.

Only one emulator owns the process environment: with both runtimes in one session the
environment names whichever started first, and tests reach the other through its fixture
(``ecsemu.endpoint``, ``ecsemu.client(...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest

from ecsemu.testing import EcsEmulator, RuntimeName

RUNTIMES: Final = ("simulated", "docker")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ecsemu", "ecsemu, the offline Amazon ECS emulator")
    group.addoption(
        "--ecsemu-runtime",
        choices=RUNTIMES,
        default=None,
        help="the runtime of the ecsemu fixture's emulator: simulated (default, no containers) or docker",
    )
    parser.addini("ecsemu_runtime", "the ecsemu fixture's runtime: simulated or docker", default="simulated")
    parser.addini("ecsemu_reset", "reset the emulator's state after each test that used it", type="bool", default=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ecsemu(runtime='simulated'|'docker', reset=True): how the ecsemu fixture serves this test"
    )


class _Emulators:
    """The session's emulators, one per runtime, each started when first needed."""

    def __init__(self) -> None:
        self.running: dict[str, EcsEmulator] = {}

    def get(self, runtime: RuntimeName) -> EcsEmulator:
        emulator = self.running.get(runtime)
        if emulator is None:
            emulator = EcsEmulator(runtime=runtime, set_environment=not self.running).start()
            self.running[runtime] = emulator
        return emulator

    def stop(self) -> None:
        for emulator in reversed(list(self.running.values())):
            emulator.stop()
        self.running.clear()


@pytest.fixture(scope="session")
def _ecsemu_emulators() -> Iterator[_Emulators]:
    emulators = _Emulators()
    yield emulators
    emulators.stop()


def _wanted(request: pytest.FixtureRequest) -> tuple[RuntimeName, bool]:
    marker = request.node.get_closest_marker("ecsemu")
    options = marker.kwargs if marker is not None else {}
    runtime = options.get("runtime") or request.config.getoption("--ecsemu-runtime") or request.config.getini("ecsemu_runtime")
    if runtime not in RUNTIMES:
        raise pytest.UsageError(f"ecsemu: runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    reset = options.get("reset", request.config.getini("ecsemu_reset"))
    return runtime, bool(reset)


@pytest.fixture
def ecsemu(request: pytest.FixtureRequest, _ecsemu_emulators: _Emulators) -> Iterator[EcsEmulator]:
    runtime, reset = _wanted(request)
    emulator = _ecsemu_emulators.get(runtime)
    yield emulator
    if reset:
        emulator.reset()


@pytest.fixture
def ecsemu_client(ecsemu: EcsEmulator) -> Callable[..., Any]:
    """``ecsemu_client("ecs")``: a boto3 client of that service for the test's emulator."""
    return ecsemu.client
