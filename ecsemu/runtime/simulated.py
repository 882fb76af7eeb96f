"""A runtime without containers: tasks pass through the lifecycle on a schedule.

For API tests and machines without Docker. A launched task "pulls" for ``pull_s``, then its
containers run until stopped; a stop takes ``stop_s`` and ends with exit code 0. Containers
with a health check report HEALTHY once running. Nothing ever fails.

State lives in a mapping handed in by the caller (durable when the caller makes it so), so a
restarted emulator observes the same simulated containers it had before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from ecsemu.runtime.base import Health, ObservedContainer, ObservedTask, TaskLaunch


class SimulatedRuntime:
    name = "simulated"

    def __init__(
        self,
        state: MutableMapping[str, dict[str, Any]] | None = None,
        *,
        pull_s: float = 0.05,
        stop_s: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state: MutableMapping[str, dict[str, Any]] = state if state is not None else {}
        self._lock = threading.Lock()
        self._pull_s = pull_s
        self._stop_s = stop_s
        self._clock = clock
        self._callbacks: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def _wake_later(self, delay: float) -> None:
        for callback in self._callbacks:
            timer = threading.Timer(delay, callback)
            timer.daemon = True
            timer.start()

    def launch(self, launch: TaskLaunch) -> None:
        with self._lock:
            if launch.task_arn in self._state:
                return
            self._state[launch.task_arn] = {
                "launchedAt": self._clock(),
                "containers": [
                    {"name": c["name"], "healthCheck": bool(c.get("healthCheck"))} for c in launch.containers
                ],
                "stopAt": None,
            }
        self._wake_later(self._pull_s)

    def stop(self, task_arn: str, timeout_s: float) -> None:
        with self._lock:
            entry = self._state.get(task_arn)
            if entry is None or entry["stopAt"] is not None:
                return
            entry["stopAt"] = self._clock()
            self._state[task_arn] = entry
        self._wake_later(self._stop_s)

    def remove(self, task_arn: str) -> None:
        with self._lock:
            self._state.pop(task_arn, None)

    def observe(self) -> dict[str, ObservedTask]:
        now = self._clock()
        with self._lock:
            entries = dict(self._state.items())
        return {arn: self._observe(arn, entry, now) for arn, entry in entries.items()}

    def _observe(self, task_arn: str, entry: dict[str, Any], now: float) -> ObservedTask:
        launched = float(entry["launchedAt"])
        running_at = launched + self._pull_s
        stop_at = entry["stopAt"]
        containers = {}
        for container in entry["containers"]:
            name = container["name"]
            health: Health = "HEALTHY" if container["healthCheck"] else "UNKNOWN"
            if stop_at is not None and now >= stop_at + self._stop_s:
                observed = ObservedContainer(
                    name, "exited", exit_code=0, started_at=running_at if stop_at >= running_at else None,
                    finished_at=stop_at + self._stop_s, runtime_id=f"sim-{name}",
                )  # fmt: skip
            elif now < running_at:
                observed = ObservedContainer(name, "pulling")
            else:
                observed = ObservedContainer(
                    name, "running", health=health, started_at=running_at, runtime_id=f"sim-{name}"
                )
            containers[name] = observed
        pulled = min(now, running_at)
        return ObservedTask(task_arn, containers, pull_started_at=launched, pull_stopped_at=pulled if now >= running_at else None)

    def close(self) -> None:
        self._callbacks.clear()
