"""The ``ContainerRuntime`` port: what the reconciler asks of a place that runs containers.

Vocabulary:
- A *launch* is everything needed to run one task's containers (``TaskLaunch``); container
  definitions are ECS's own dicts, with RunTask overrides already applied.
- An *observation* (``ObservedTask``) is what the runtime sees of one task now.

Invariants every runtime keeps:
- ``launch``, ``stop`` and ``remove`` are idempotent and return quickly; slow work (pulls,
  starts, grace periods) happens in the background and shows up in ``observe``.
- ``observe`` reports every task the runtime holds containers for, including ones it finds
  that no launch of this process asked for (after a restart): that is how they are adopted
  or removed.
- ``subscribe`` registers a callback the runtime calls (with no arguments) when something
  changed, so the reconciler can wake at once instead of at its next resync.
- A running container reports ``network_bindings`` for every published container port (ECS's
  ``networkBindings``: ``bindIP``, ``containerPort``, ``hostPort``, ``protocol``): a service
  task behind a load balancer is registered on its ``hostPort`` and waits in ACTIVATING until
  it is known. The simulated runtime reports fake host ports, which nothing listens on.
- When its engine stops answering, ``observe`` raises ``RuntimeUnavailable`` and the runtime
  logs the outage once (``EngineOutage``: one warning when it stops answering, one info when
  it answers again), never per call or per reconcile round.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ContainerState = Literal["pulling", "created", "running", "exited"]
Health = Literal["HEALTHY", "UNHEALTHY", "UNKNOWN"]


@dataclass(frozen=True)
class TaskLaunch:
    task_arn: str
    task_id: str
    cluster: str
    family: str
    revision: int
    network_mode: str
    containers: list[dict[str, Any]]
    volumes: list[dict[str, Any]] = field(default_factory=list)
    cpu: str = ""
    memory: str = ""


@dataclass(frozen=True)
class ObservedContainer:
    name: str
    state: ContainerState
    exit_code: int | None = None
    reason: str | None = None
    health: Health = "UNKNOWN"
    runtime_id: str | None = None
    image_digest: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    network_bindings: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ObservedTask:
    task_arn: str
    containers: dict[str, ObservedContainer]
    failure: str | None = None  # the launch failed for good: "CannotPullContainerError: ..."
    failed_container: str | None = None
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None


class ContainerRuntime(Protocol):
    name: str

    def launch(self, launch: TaskLaunch) -> None: ...

    def stop(self, task_arn: str, timeout_s: float) -> None: ...

    def remove(self, task_arn: str) -> None: ...

    def observe(self) -> dict[str, ObservedTask]: ...

    def subscribe(self, callback: Callable[[], None]) -> None: ...

    def close(self) -> None: ...


class LaunchRefused(Exception):
    """A launch failed for good (an image that cannot be had, a container that cannot be
    created, a secret that does not resolve, a missing log group): ``reason`` is ECS's stopped
    reason, ``container`` the container to blame (None: the task as a whole)."""

    def __init__(self, reason: str, container: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.container = container


class TaskHooks(Protocol):
    """What a runtime with real containers asks of the task environment (``ecsemu.taskenv``):
    the variables ECS gives a container (may raise ``LaunchRefused``), where to serve a task's
    endpoints (a socket listening inside its network namespace), and where its awslogs output
    goes (``ecsemu.runtime.docker_logs.LogSink``)."""

    serves_endpoints: bool

    def environment(self, launch: TaskLaunch, container: dict[str, Any]) -> dict[str, str]: ...

    def network_ready(self, task_arn: str, listener: socket.socket) -> None: ...

    def network_gone(self, task_arn: str) -> None: ...

    def log_lines(self, task_arn: str, container_name: str, lines: list[tuple[int, str]]) -> None: ...

    def resume_after(self, task_arn: str, container_name: str, container_id: str) -> int | None: ...

    def log_ended(self, task_arn: str, container_name: str) -> None: ...


@dataclass(frozen=True)
class TaskUsage:
    """What a task's containers use now: CPU time so far (seconds, all containers together)
    and memory in use (MiB). A simulated task may instead carry set utilizations (percent of
    what it reserves), which the metrics collector takes as they are."""

    cpu_seconds: float | None = None
    memory_mib: float | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None


class UsageReader(Protocol):
    """A runtime that can say what its tasks use (for the AWS/ECS metrics)."""

    def usage(self, task_arns: list[str]) -> dict[str, TaskUsage]: ...


class RuntimeUnavailable(Exception):
    """The runtime's engine does not answer (down or restarting). The runtime has logged the
    outage already: a caller tries again later and logs nothing more than a debug line."""


class EngineOutage:
    """Logs an engine's outages once each: a warning when it stops answering (``failed``),
    an info when it answers again (``answered``). Thread-safe; cheap when nothing changes."""

    def __init__(self, logger: logging.Logger, engine: str) -> None:
        self._log = logger
        self._engine = engine
        self._lock = threading.Lock()
        self.down = False

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
        self._log.warning(
            "%s stopped answering (%s: %s); ecsemu keeps its tasks' records and retries until it answers again",
            self._engine, type(error).__name__, error,
        )  # fmt: skip

    def answered(self) -> None:
        if not self.down:  # the common case, without the lock
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
        self._log.info("%s answers again", self._engine)
