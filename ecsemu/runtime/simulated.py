"""A runtime without containers: tasks pass through the lifecycle on a schedule.

For API tests and machines without Docker. A launched task "pulls" for ``pull_s``, then its
containers run until stopped; a stop takes ``stop_s`` and ends with exit code 0. Containers
with a health check report HEALTHY once running. Nothing ever fails by itself.

State lives in a mapping handed in by the caller (durable when the caller makes it so), so a
restarted emulator observes the same simulated containers it had before.

Port bindings
-------------
Each container port of a task's ``portMappings`` gets a *fake host port*, reported in the
container's ``networkBindings`` exactly as the Docker runtime reports a published port
(``bindIP`` 127.0.0.1, ``containerPort``, ``hostPort``, ``protocol``). Nothing listens there:
the load balancer is told so (``target_health``) and never dials it.

* ``awsvpc``, and ``bridge`` without a fixed ``hostPort``: a dynamic port from
  ``DYNAMIC_PORTS`` (the range ECS uses for dynamic host ports), unique among the tasks this
  runtime holds, handed out in increasing order (wrapping around) so a port is not reused
  while the target group may still remember it;
* ``bridge`` with a non-zero ``hostPort``: that port; ``host``: the container port (bindIP
  0.0.0.0, as Docker reports it); ``none``: no binding.

Target health (the documented test hook)
----------------------------------------
No socket reaches a simulated target, so its load-balancer health check is an answer of this
runtime: ``target_health(port)`` is ``None`` for a port none of its tasks holds or held (the
load balancer then probes it for real), ``False`` for a port a removed task held (until a new
task takes it, or for ``RELEASED_FOR_S``: a target group may still name it, and it must never
be dialled), ``False`` while the container is not running or after
``set_target_health(..., healthy=False)``, ``True`` otherwise. The admin endpoint
``POST /_ecsemu/simulated/health`` calls ``set_target_health`` (see README). A flag lives in
the task's entry (durable) and ends with the task.

Thread model: every method may be called from any thread (the reconciler's, the load
balancer's loop, the gateway's workers); ``target_health`` reads an in-memory index only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

from ecsemu.runtime.base import Health, ObservedContainer, ObservedTask, TaskLaunch, TaskUsage

LOOPBACK: Final = "127.0.0.1"
DYNAMIC_PORTS: Final = range(49153, 65536)
# How long a port a removed task held still answers "simulated, unhealthy": the longest
# deregistration delay a target group can have, so no target group still names it after.
RELEASED_FOR_S: Final = 3600.0


class UnknownTarget(LookupError):
    """``set_target_health`` named a task, container or host port this runtime does not hold."""


@dataclass(frozen=True, slots=True)
class _Holder:
    """Who holds a fake host port, and what its target health depends on."""

    task_arn: str
    container: str
    running_at: float
    exited_at: float | None
    healthy: bool


def port_bindings(launch: TaskLaunch, taken: set[int], next_port: int) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """The ``networkBindings`` of each container of ``launch`` (by name), and the next dynamic
    port to try. ``taken``: host ports already held (updated in place). Pure."""
    bindings: dict[str, list[dict[str, Any]]] = {}
    mode = launch.network_mode or "bridge"
    for container in launch.containers:
        own: list[dict[str, Any]] = []
        mappings = [] if mode == "none" else container.get("portMappings") or []
        for mapping in mappings:
            if "containerPort" not in mapping:
                continue  # a port range: not published one by one
            container_port = int(mapping["containerPort"])
            fixed = int(mapping.get("hostPort") or 0) if mode == "bridge" else 0
            bind_ip = LOOPBACK
            if mode == "host":
                host_port, bind_ip = container_port, "0.0.0.0"
            elif fixed:
                host_port = fixed
            else:
                host_port, next_port = _free_port(taken, next_port)
            taken.add(host_port)
            own.append(
                {
                    "bindIP": bind_ip,
                    "containerPort": container_port,
                    "hostPort": host_port,
                    "protocol": mapping.get("protocol") or "tcp",
                }
            )
        bindings[container["name"]] = own
    return bindings, next_port


def _free_port(taken: set[int], start: int) -> tuple[int, int]:
    """The first port of ``DYNAMIC_PORTS`` from ``start`` on (wrapping) not in ``taken``."""
    low, size = DYNAMIC_PORTS.start, len(DYNAMIC_PORTS)
    offset = (start - low) % size
    for step in range(size):
        port = low + (offset + step) % size
        if port not in taken:
            return port, port + 1
    raise RuntimeError("no dynamic host port left for a simulated task")


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
        self._holders: dict[int, _Holder] = {}
        self._released: dict[int, float] = {}  # port a removed task held → when: still never dialled
        entries = dict(self._state.items())
        self._reindex(entries)
        dynamic = [p for p in self._holders if p in DYNAMIC_PORTS]
        self._next_port = max(dynamic) + 1 if dynamic else DYNAMIC_PORTS.start

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
            bindings, self._next_port = port_bindings(launch, set(self._holders), self._next_port)
            entry = {
                "launchedAt": self._clock(),
                "containers": [
                    {
                        "name": c["name"],
                        "healthCheck": bool(c.get("healthCheck")),
                        "networkBindings": bindings.get(c["name"], []),
                    }
                    for c in launch.containers
                ],
                "stopAt": None,
                "unhealthyPorts": [],
            }
            self._state[launch.task_arn] = entry
            self._index_entry(launch.task_arn, entry)
        self._wake_later(self._pull_s)

    def stop(self, task_arn: str, timeout_s: float) -> None:
        with self._lock:
            entry = self._state.get(task_arn)
            if entry is None or entry["stopAt"] is not None:
                return
            entry["stopAt"] = self._clock()
            self._state[task_arn] = entry
            self._index_entry(task_arn, entry)
        self._wake_later(self._stop_s)

    def remove(self, task_arn: str) -> None:
        with self._lock:
            entry = self._state.pop(task_arn, None)
            if entry is not None:
                now = self._clock()
                for port, holder in self._holders_of(task_arn, entry).items():
                    if self._holders.get(port, holder).task_arn == task_arn:
                        self._released[port] = now  # before the holder goes: never unknown between
                        self._holders.pop(port, None)

    def observe(self) -> dict[str, ObservedTask]:
        now = self._clock()
        with self._lock:
            entries = dict(self._state.items())
            self._reindex(entries)  # the state may have changed under us (a reset of the store)
        return {arn: self._observe(arn, entry, now) for arn, entry in entries.items()}

    def _observe(self, task_arn: str, entry: dict[str, Any], now: float) -> ObservedTask:
        launched = float(entry["launchedAt"])
        running_at = launched + self._pull_s
        stop_at = entry["stopAt"]
        containers = {}
        for container in entry["containers"]:
            name = container["name"]
            health: Health = "HEALTHY" if container["healthCheck"] else "UNKNOWN"
            bindings = tuple(dict(b) for b in container.get("networkBindings", []))
            if stop_at is not None and now >= stop_at + self._stop_s:
                observed = ObservedContainer(
                    name, "exited", exit_code=0, started_at=running_at if stop_at >= running_at else None,
                    finished_at=stop_at + self._stop_s, runtime_id=f"sim-{name}", network_bindings=bindings,
                )  # fmt: skip
            elif now < running_at:
                observed = ObservedContainer(name, "pulling")
            else:
                observed = ObservedContainer(
                    name, "running", health=health, started_at=running_at, runtime_id=f"sim-{name}",
                    network_bindings=bindings,
                )  # fmt: skip
            containers[name] = observed
        pulled = min(now, running_at)
        return ObservedTask(task_arn, containers, pull_started_at=launched, pull_stopped_at=pulled if now >= running_at else None)

    # ------------------------------------------------------------------ target health (test hook)

    def target_health(self, port: int) -> bool | None:
        """Whether the simulated target at 127.0.0.1:``port`` passes its load-balancer health
        check; ``None`` when no task of this runtime holds or held that port."""
        holder = self._holders.get(port)
        if holder is None:
            released = self._released.get(port)
            return None if released is None or self._clock() - released > RELEASED_FOR_S else False
        now = self._clock()
        running = now >= holder.running_at and (holder.exited_at is None or now < holder.exited_at)
        return running and holder.healthy

    def set_target_health(
        self, task_arn: str, *, healthy: bool, container_name: str | None = None, host_port: int | None = None
    ) -> list[int]:
        """Make the task's targets pass (``healthy``) or fail their health checks from the next
        check on; narrowed to one container and/or one host port when given. Returns the host
        ports it applies to; raises ``UnknownTarget`` when there is none."""
        with self._lock:
            entry = self._state.get(task_arn)
            if entry is None:
                raise UnknownTarget(f"no simulated task {task_arn}")
            ports = [
                int(binding["hostPort"])
                for container in entry["containers"]
                if container_name is None or container["name"] == container_name
                for binding in container.get("networkBindings", [])
                if host_port is None or int(binding["hostPort"]) == host_port
            ]
            if not ports:
                raise UnknownTarget(f"task {task_arn} has no such container port binding")
            unhealthy = set(entry.get("unhealthyPorts", []))
            unhealthy = unhealthy - set(ports) if healthy else unhealthy | set(ports)
            entry["unhealthyPorts"] = sorted(unhealthy)
            self._state[task_arn] = entry
            self._index_entry(task_arn, entry)
        return ports

    # ------------------------------------------------------------------ utilization (test hook)

    def set_utilization(self, task_arn: str, *, cpu_percent: float | None = None, memory_percent: float | None = None) -> None:
        """Make the task report this CPU and/or memory utilization (percent of what it
        reserves) to the metrics collector, from now on; raises ``UnknownTarget`` for a task
        this runtime does not hold. A simulated task uses nothing until told."""
        with self._lock:
            entry = self._state.get(task_arn)
            if entry is None:
                raise UnknownTarget(f"no simulated task {task_arn}")
            usage = dict(entry.get("utilization") or {})
            if cpu_percent is not None:
                usage["cpu"] = float(cpu_percent)
            if memory_percent is not None:
                usage["memory"] = float(memory_percent)
            entry["utilization"] = usage
            self._state[task_arn] = entry

    def usage(self, task_arns: list[str]) -> dict[str, TaskUsage]:
        out: dict[str, TaskUsage] = {}
        with self._lock:
            for task_arn in task_arns:
                entry = self._state.get(task_arn)
                if entry is None or entry.get("stopAt") is not None:
                    continue
                usage = entry.get("utilization") or {}
                out[task_arn] = TaskUsage(cpu_percent=float(usage.get("cpu", 0.0)), memory_percent=float(usage.get("memory", 0.0)))
        return out

    def _reindex(self, entries: dict[str, dict[str, Any]]) -> None:
        holders: dict[int, _Holder] = {}
        for arn, entry in entries.items():
            holders.update(self._holders_of(arn, entry))
        self._holders = holders  # swapped whole: a reader on another thread never sees it half-built

    def _index_entry(self, task_arn: str, entry: dict[str, Any]) -> None:
        # One item assignment at a time: each is atomic, so readers see every held port throughout.
        for port, holder in self._holders_of(task_arn, entry).items():
            self._holders[port] = holder
            self._released.pop(port, None)

    def _holders_of(self, task_arn: str, entry: dict[str, Any]) -> dict[int, _Holder]:
        running_at = float(entry["launchedAt"]) + self._pull_s
        stop_at = entry.get("stopAt")
        exited_at = None if stop_at is None else float(stop_at) + self._stop_s
        unhealthy = set(entry.get("unhealthyPorts", []))
        return {
            int(binding["hostPort"]): _Holder(
                task_arn, container["name"], running_at, exited_at, int(binding["hostPort"]) not in unhealthy
            )
            for container in entry["containers"]
            for binding in container.get("networkBindings", [])
        }

    def close(self) -> None:
        self._callbacks.clear()
