"""The docker runtime's side of a task's environment: endpoints served inside each task's
network namespace, awslogs output followed to the end, and what the task metadata endpoint
reads of the engine (containers' details and stats).

Vocabulary: a task's *network holder* is its sandbox (the pause container), whose network
namespace every container of the task joins. With ``TaskHooks.serves_endpoints`` every task
that has a network of its own (bridge, awsvpc) gets a sandbox, so the namespace exists, and its
endpoint listens, before the first container of the task starts.

Invariants:
- A task's endpoint socket is made once per process (``announce``), when its sandbox is seen
  running (at launch, or when a restarted ecsemu adopts it); ``withdraw`` closes it when the
  task's containers are removed. A failure is logged once per task; the task runs on.
- ``watch`` reports an exited awslogs container as still running until its follower has
  drained its output (while it makes progress; ``DRAIN_TIMEOUT_S`` after it stops making any),
  so the reconciler never marks a task STOPPED with output unread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import docker.errors

from ecsemu.runtime import docker_spec as spec
from ecsemu.runtime import netns
from ecsemu.runtime.base import TaskHooks
from ecsemu.runtime.docker_logs import AWSLOGS_LABEL, DRAIN_TIMEOUT_S, LogFollowers

log = logging.getLogger(__name__)
Record = dict[str, Any]


class TaskPlumbing:
    def __init__(self, api: Any, hooks: TaskHooks) -> None:
        self._api = api
        self.hooks = hooks
        self.followers = LogFollowers(api, hooks, clock=self._monotonic)
        self._lock = threading.Lock()
        self._announced: set[str] = set()
        self._failed: set[str] = set()
        self._gone: set[str] = set()  # withdrawn: never served again by this process
        self._exit_seen: dict[str, float] = {}

    @staticmethod
    def _monotonic() -> float:
        return time.monotonic()  # looked up at each call (tests replace this module's clock)

    @property
    def serves_endpoints(self) -> bool:
        return self.hooks.serves_endpoints

    # --- endpoints ---------------------------------------------------------------------------

    def announce(self, task_arn: str, sandbox_id: str) -> None:
        """Serve the task's endpoints inside its sandbox's namespace (once per process)."""
        if not self.hooks.serves_endpoints:
            return
        with self._lock:
            if task_arn in self._announced or task_arn in self._failed or task_arn in self._gone:
                return
            self._announced.add(task_arn)
        try:
            pid = int(self._api.inspect_container(sandbox_id)["State"]["Pid"] or 0)
            if pid <= 0:
                raise netns.NamespaceError(0, "the sandbox is not running")
            listener = netns.listen_in(pid)
        except (OSError, docker.errors.APIError, KeyError, ValueError) as error:
            with self._lock:
                self._announced.discard(task_arn)
                self._failed.add(task_arn)
            log.warning("task %s: its metadata and credentials endpoints cannot be served (%s)", task_arn, error)
            return
        self.hooks.network_ready(task_arn, listener)

    def withdraw(self, task_arn: str) -> None:
        with self._lock:
            known = task_arn in self._announced
            self._announced.discard(task_arn)
            self._failed.discard(task_arn)
            self._gone.add(task_arn)
        if known:
            self.hooks.network_gone(task_arn)

    # --- observation -------------------------------------------------------------------------

    def watch(self, summaries: list[Record]) -> list[Record]:
        """Called with every listing: announce running sandboxes not served yet, follow awslogs
        containers, and hold back the exits of those not drained (returns the listing to use)."""
        seen: set[str] = set()
        shown: list[Record] = []
        now = time.monotonic()
        for summary in summaries:
            labels = summary.get("Labels") or {}
            state = spec.container_state(str(summary.get("State", "")))
            task_arn = labels.get(spec.TASK_ARN, "")
            if labels.get(spec.ROLE) == "sandbox" and state == "running" and task_arn and labels.get(spec.NETWORK_MODE) != "none":
                with self._lock:
                    pending = (
                        task_arn not in self._announced and task_arn not in self._failed and task_arn not in self._gone
                    )
                if pending:
                    self.announce(task_arn, summary["Id"])
            if (
                labels.get(AWSLOGS_LABEL) == "true"
                and labels.get(spec.ROLE) == "container"
                and state in ("running", "exited")
            ):
                container_id = summary["Id"]
                seen.add(container_id)
                self.followers.follow(container_id, task_arn, labels.get(spec.CONTAINER_NAME, ""))
                if state == "exited" and not self.followers.drained(container_id):
                    first = self._exit_seen.setdefault(container_id, now)
                    if now - first < DRAIN_TIMEOUT_S or self.followers.idle_for(container_id) < DRAIN_TIMEOUT_S:
                        shown.append({**summary, "State": "running", "Status": "Up (output being read)"})
                        continue
            shown.append(summary)
        self.followers.forget_all_but(seen)
        listed = {(s.get("Labels") or {}).get(spec.TASK_ARN, "") for s in summaries}
        with self._lock:
            self._gone &= listed
        for container_id in list(self._exit_seen):
            if container_id not in seen:
                del self._exit_seen[container_id]
        return shown

    # --- what the metadata endpoint reads ----------------------------------------------------

    def details(self, summaries: list[Record]) -> dict[str, Record]:
        """Each container of one task (by ECS name), as Docker inspects it; the sandbox's
        networks stand for the task's."""
        out: dict[str, Record] = {}
        networks: Record = {}
        for summary in summaries:
            labels = summary.get("Labels") or {}
            try:
                inspected = self._api.inspect_container(summary["Id"])
            except docker.errors.APIError:
                continue
            if labels.get(spec.ROLE) == "sandbox":
                networks = (inspected.get("NetworkSettings") or {}).get("Networks") or {}
            elif labels.get(spec.ROLE) == "container":
                out[labels.get(spec.CONTAINER_NAME, "")] = inspected
        for inspected in out.values():
            own = (inspected.get("NetworkSettings") or {}).get("Networks") or {}
            inspected["ecsemu_networks"] = own or networks
        return out

    def stats(self, container_id: str) -> Record | None:
        try:
            result: Record = self._api.stats(container_id, stream=False)  # two samples: precpu_stats too, as ECS gives
            return result
        except docker.errors.APIError:
            return None

    def close(self) -> None:
        self.followers.close()
