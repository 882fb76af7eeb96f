"""What a task's containers use, for the AWS/ECS CPU and memory metrics.

Read from the containers' cgroup files when this process can see them (cgroup v1 or v2, the
``cgroupfs`` or ``systemd`` driver): two small file reads per container, no call to the engine
and no thread. Otherwise (a remote engine, a cgroup namespace) from the engine's one-shot stats
(``GET /containers/<id>/stats?stream=false&one-shot=true``). bench/metrics_collection.py
measured both with 50 running containers; see its docstring for the figures and the choice.

Values: CPU time used so far (seconds; the collector takes differences) and memory in use
(MiB), counted as ``docker stats`` counts it: the cgroup's usage less its inactive file cache.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import docker.errors

from ecsemu.runtime.base import TaskUsage

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
_MIB = 1024 * 1024


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


class CgroupReader:
    """Finds each container's cgroup directories once, then reads them."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.v2 = (root / "cgroup.controllers").exists()
        self._dirs: dict[str, tuple[Path, Path] | None] = {}

    def _candidates(self, container_id: str) -> list[tuple[Path, Path]]:
        if self.v2:
            return [
                (d, d)
                for d in (
                    self.root / "docker" / container_id,
                    self.root / "system.slice" / f"docker-{container_id}.scope",
                )
            ]
        out = []
        for parent in (Path("docker") / container_id, Path("system.slice") / f"docker-{container_id}.scope"):
            out.append((self.root / "cpuacct" / parent, self.root / "memory" / parent))
        return out

    def dirs(self, container_id: str) -> tuple[Path, Path] | None:
        if container_id not in self._dirs:
            self._dirs[container_id] = next(
                (c for c in self._candidates(container_id) if c[0].is_dir() and c[1].is_dir()), None
            )
        return self._dirs[container_id]

    def read(self, container_id: str) -> tuple[float, float] | None:
        """(CPU seconds so far, memory MiB in use), or None when the cgroup is not visible."""
        found = self.dirs(container_id)
        if found is None:
            return None
        cpu_dir, memory_dir = found
        if self.v2:
            usec = _stat(cpu_dir / "cpu.stat", "usage_usec")
            current = _read_int(memory_dir / "memory.current")
            inactive = _stat(memory_dir / "memory.stat", "inactive_file") or 0
            if usec is None or current is None:
                self._dirs.pop(container_id, None)
                return None
            return usec / 1e6, max(0, current - inactive) / _MIB
        nanos = _read_int(cpu_dir / "cpuacct.usage")
        current = _read_int(memory_dir / "memory.usage_in_bytes")
        inactive = _stat(memory_dir / "memory.stat", "total_inactive_file") or 0
        if nanos is None or current is None:
            self._dirs.pop(container_id, None)
            return None
        return nanos / 1e9, max(0, current - inactive) / _MIB

    def forget_all_but(self, container_ids: set[str]) -> None:
        for gone in set(self._dirs) - container_ids:
            del self._dirs[gone]


def from_stats(stats: dict[str, Any]) -> tuple[float, float] | None:
    """(CPU seconds so far, memory MiB in use) from the engine's stats document."""
    try:
        cpu = float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9
        memory = stats.get("memory_stats") or {}
        detail = memory.get("stats") or {}
        inactive = detail.get("inactive_file", detail.get("total_inactive_file", 0))
        return cpu, max(0.0, float(memory.get("usage", 0)) - float(inactive)) / _MIB
    except (KeyError, TypeError, ValueError):
        return None


def task_usage(
    api: Any, cgroups: CgroupReader, summaries: list[dict[str, Any]], wanted: set[str], task_label: str
) -> dict[str, TaskUsage]:
    """The usage of each wanted task, summed over its running containers (``summaries``: the
    engine's listing of them, labelled with their task ARN under ``task_label``)."""
    totals: dict[str, list[float]] = {}
    seen: set[str] = set()
    for summary in summaries:
        arn = (summary.get("Labels") or {}).get(task_label)
        if arn not in wanted:
            continue
        seen.add(summary["Id"])
        read = cgroups.read(summary["Id"])
        if read is None:
            with contextlib.suppress(docker.errors.APIError):
                read = from_stats(api.stats(summary["Id"], stream=False, one_shot=True))
        if read is None:
            continue
        total = totals.setdefault(arn, [0.0, 0.0])
        total[0] += read[0]
        total[1] += read[1]
    cgroups.forget_all_but(seen)
    return {arn: TaskUsage(cpu_seconds=cpu, memory_mib=memory) for arn, (cpu, memory) in totals.items()}
