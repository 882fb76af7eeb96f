"""What Docker says of a container beyond its list summary: start and exit times, exit code,
OOM kill, image digest. Inspected once per container state and cached, so ``observe`` stays a
single list call in the steady state.

Thread-safe: the runtime's workers, its event thread and ``observe`` all read and warm it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import docker.errors

from ecsemu.runtime import docker_spec as spec

Record = dict[str, Any]


@dataclass(frozen=True)
class Details:
    state: str
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    oom_killed: bool


class ContainerFacts:
    def __init__(self, api: Any) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._details: dict[str, Details] = {}
        self._digests: dict[str, str] = {}

    def forget_all_but(self, container_ids: Iterable[str]) -> None:
        """Drop what is cached of containers that no longer exist."""
        keep = set(container_ids)
        with self._lock:
            for gone in self._details.keys() - keep:
                del self._details[gone]

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._details.pop(container_id, None)

    def inspect(self, container_id: str, docker_state: str | None = None) -> Details:
        """A container's start and exit details, inspected once per state and cached."""
        with self._lock:
            cached = self._details.get(container_id)
        if cached is not None and docker_state in (None, cached.state):
            return cached
        return self.warm(container_id) or Details(docker_state or "", None, None, None, False)

    def warm(self, container_id: str) -> Details | None:
        try:
            state = self._api.inspect_container(container_id).get("State") or {}
        except docker.errors.NotFound:
            return None
        status = str(state.get("Status", ""))
        started, finished = spec.docker_time(state.get("StartedAt")), spec.docker_time(state.get("FinishedAt"))
        if started is not None and finished is not None:
            finished = max(started, finished)  # a process that exits at once can "finish" first
        details = Details(
            state=status,
            started_at=started,
            finished_at=finished,
            exit_code=int(state.get("ExitCode", 0)) if status in ("exited", "dead") else None,
            oom_killed=bool(state.get("OOMKilled")),
        )
        with self._lock:
            self._details[container_id] = details
        return details

    def digest(self, summary: Record) -> str | None:
        """The image's registry digest when it has one, else its local image id (cached)."""
        image_id = summary.get("ImageID")
        if not image_id:
            return None
        with self._lock:
            known = self._digests.get(image_id)
        if known is None:
            try:
                repo_digests = self._api.inspect_image(image_id).get("RepoDigests") or []
            except docker.errors.APIError:
                repo_digests = []
            known = str(repo_digests[0]).split("@", 1)[1] if repo_digests else str(image_id)
            with self._lock:
                self._digests[image_id] = known
        return known
