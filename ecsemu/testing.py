"""ecsemu inside a test suite: start an emulator in this process, point the AWS SDKs at it, reset
it between tests, stop it. Used by the pytest plugin (``ecsemu.pytest_plugin``) and usable from
any other runner::

    from ecsemu.testing import EcsEmulator, mock_ecs

    with EcsEmulator() as emulator:              # simulated runtime, a free port, in memory
        ecs = emulator.client("ecs")             # or boto3.client("ecs"): the env points here
        ecs.create_cluster(clusterName="demo")
        emulator.reset()                         # forget everything

    @mock_ecs                                     # the same around one function
    def test_something() -> None: ...

While an emulator runs with ``set_environment`` (the default), the process environment holds
``AWS_ENDPOINT_URL`` (boto3 ≥ 1.28 and the AWS CLI send every call there), dummy credentials
and the region; ``stop`` puts back what was there before. Only one emulator at a time may own the
environment.

Invariants:
- The emulator is ephemeral: its state lives in memory and ends with it; with the Docker
  runtime its containers are removed when it stops.
- ``reset`` returns only when the state is empty and, with the Docker runtime, every container
  of the emulator is gone.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from ecsemu.app import Emulator

RuntimeName = Literal["simulated", "docker"]
CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
RESET_TIMEOUT_S: Final = 60.0
_ENVIRONMENT_LOCK = threading.Lock()
_owner: EcsEmulator | None = None

P = ParamSpec("P")
R = TypeVar("R")


class EcsEmulator:
    """One in-process emulator on 127.0.0.1 (a free port unless ``port`` is given)."""

    def __init__(
        self,
        *,
        runtime: RuntimeName = "simulated",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        port: int = 0,
        set_environment: bool = True,
    ) -> None:
        self.runtime_name = runtime
        self.region = region
        self.account_id = account_id
        self.port = port
        self.set_environment = set_environment
        self._emulator: Emulator | None = None
        self._saved_environment: dict[str, str | None] = {}

    # ------------------------------------------------------------------ life cycle

    def start(self) -> EcsEmulator:
        from ecsemu.app import Emulator  # noqa: PLC0415  (importing the server only when one starts)
        from ecsemu.config import Config  # noqa: PLC0415

        if self._emulator is not None:
            return self
        if self.set_environment:
            self._claim_environment()
        config = Config(
            port=self.port, ephemeral=True, runtime=self.runtime_name, account_id=self.account_id, region=self.region
        )
        try:
            emulator = Emulator.build(config)
        except SystemExit as refused:  # the CLI's way to say "no Docker engine answers"
            self._give_back_environment()
            raise RuntimeError(str(refused.code)) from None
        emulator.start()
        self._emulator = emulator
        if self.set_environment:
            self._take_environment(emulator.endpoint)
        return self

    def stop(self) -> None:
        emulator, self._emulator = self._emulator, None
        if emulator is None:
            return
        try:
            emulator.shutdown()
        finally:
            self._give_back_environment()

    def reset(self) -> None:
        """Forget every resource (and remove every container of the Docker runtime)."""
        emulator = self._running()
        emulator.store.reset()
        emulator.reconciler.nudge()
        deadline = time.monotonic() + RESET_TIMEOUT_S
        while emulator.runtime.observe():
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator's containers were not removed within a minute of the reset")
            time.sleep(0.05)  # the reconciler removes them in the background; look again shortly

    def __enter__(self) -> EcsEmulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ what a test uses

    @property
    def endpoint(self) -> str:
        return self._running().endpoint

    @property
    def emulator(self) -> Emulator:
        """The running ``ecsemu.app.Emulator`` (its store, runtime and reconciler)."""
        return self._running()

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` talking to this emulator (boto3 must be installed)."""
        import boto3  # noqa: PLC0415  (only tests that ask for a client need boto3)

        options: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        options.update(kwargs)
        return boto3.client(service, **options)

    def _running(self) -> Emulator:
        if self._emulator is None:
            raise RuntimeError("the emulator is not running: call start() or use it as a context manager")
        return self._emulator

    # ------------------------------------------------------------------ the environment

    def _claim_environment(self) -> None:
        global _owner  # noqa: PLW0603  (one process has one environment)
        with _ENVIRONMENT_LOCK:
            if _owner is not None and _owner is not self:
                raise RuntimeError("another EcsEmulator already set the AWS environment variables")
            _owner = self

    def _take_environment(self, endpoint: str) -> None:
        wanted = {
            "AWS_ENDPOINT_URL": endpoint,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        self._saved_environment = {name: os.environ.get(name) for name in (*wanted, "AWS_SESSION_TOKEN", "AWS_PROFILE")}
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(wanted)

    def _give_back_environment(self) -> None:
        global _owner  # noqa: PLW0603
        with _ENVIRONMENT_LOCK:
            if _owner is not self:
                return
            _owner = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}


@overload
def mock_ecs(function: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def mock_ecs(*, runtime: RuntimeName = "simulated") -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def mock_ecs(function: Callable[P, R] | None = None, /, *, runtime: RuntimeName = "simulated") -> Any:
    """Run the decorated function with an emulator started before it and stopped after it
    (``@mock_ecs`` or ``@mock_ecs(runtime="docker")``); the AWS SDKs reach it through the
    environment."""

    def decorate(wrapped: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(wrapped)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with EcsEmulator(runtime=runtime):
                return wrapped(*args, **kwargs)

        return run

    return decorate if function is None else decorate(function)
