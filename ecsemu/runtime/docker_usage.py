"""What a task's containers use, for the AWS/ECS CPU and memory metrics.

Read from the containers' cgroup files when this process can see them (cgroup v1 or v2, the
``cgroupfs`` or ``systemd`` driver): three small file reads per container (``os.read``, no
text decoding), no call to the engine and no thread. Otherwise (a remote engine, a cgroup
namespace) from the engine's one-shot stats (``GET /containers/<id>/stats?stream=false&one-shot=true``),
``STATS_CONCURRENCY`` calls at a time.

The choice, measured by bench/metrics_collection.py (50 running busybox tasks, ``--scaling-clock
60``, 2-CPU machine shared with other sessions, 3 Dec 2026; its docstring has the method):

- cgroup files: a sample of 50 containers takes 30-50 ms and about 16 ms of ecsemu's CPU, of
  which the cgroup reads are now ~2 ms (39 us a container; 124 us before they bypassed
  ``pathlib``'s text reads); the rest is the engine's listing of the running containers, the
  store's task records and writing 200 datapoints. Over a 10 s phase: ecsemu +7-8 % of one core
  and dockerd +5-10 % (the listing, once a sample; dockerd is shared and noisy) at the ~5
  samples a second the loop manages at 60x.
- the engine's stats: dockerd answers a one-shot call only at its stats collector's next tick,
  up to a second later: one call after another, a sample of 50 took **49 s** (the loop wanted
  one every 1/6 s); 10 at a time, 5.1-5.7 s. Cheap per second only because it samples 25-300x
  too rarely, and each call costs dockerd ~9 ms of CPU.

So cgroup files are the default and the stats API only the fallback. Values: CPU time used so
far (seconds; the collector takes differences) and memory in use (MiB), counted as ``docker
stats`` counts it: the cgroup's usage less its inactive file cache.
"""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker.errors

from ecsemu.runtime.base import TaskUsage

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
_MIB = 1024 * 1024
_READ_SIZE = 64 * 1024  # a v1 memory.stat is about 1 KiB
STATS_CONCURRENCY = 10  # the engine's stats calls in flight at once: docker-py's pool size


def _read(path: str) -> bytes | None:
    """A small file's bytes (cgroup files are far below the size asked), or None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, _READ_SIZE)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_int(path: str) -> int | None:
    data = _read(path)
    try:
        return int(data.split()[0]) if data is not None else None
    except (ValueError, IndexError):
        return None


def _stat(path: str, key: bytes) -> int | None:
    """The value of the line ``<key> <value>`` of a flat-keyed cgroup file."""
    data = _read(path)
    if data is None:
        return None
    prefix = key + b" "
    if data.startswith(prefix):
        start = len(prefix)
    else:
        at = data.find(b"\n" + prefix)
        if at < 0:
            return None
        start = at + 1 + len(prefix)
    end = data.find(b"\n", start)
    try:
        return int(data[start : end if end >= 0 else None])
    except ValueError:
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
        cpu_dir, memory_dir = str(found[0]), str(found[1])
        if self.v2:
            usec = _stat(f"{cpu_dir}/cpu.stat", b"usage_usec")
            current = _read_int(f"{memory_dir}/memory.current")
            inactive = _stat(f"{memory_dir}/memory.stat", b"inactive_file") or 0
            if usec is None or current is None:
                self._dirs.pop(container_id, None)
                return None
            return usec / 1e6, max(0, current - inactive) / _MIB
        nanos = _read_int(f"{cpu_dir}/cpuacct.usage")
        current = _read_int(f"{memory_dir}/memory.usage_in_bytes")
        inactive = _stat(f"{memory_dir}/memory.stat", b"total_inactive_file") or 0
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
    reads: list[tuple[str, tuple[float, float] | None]] = []
    by_engine: list[tuple[str, str]] = []  # (task ARN, container id) the cgroups do not show
    for summary in summaries:
        arn = (summary.get("Labels") or {}).get(task_label)
        if arn not in wanted:
            continue
        seen.add(summary["Id"])
        read = cgroups.read(summary["Id"])
        if read is None:
            by_engine.append((arn, summary["Id"]))
        else:
            reads.append((arn, read))
    if by_engine:
        reads.extend(zip((arn for arn, _ in by_engine), _engine_stats(api, [c for _, c in by_engine]), strict=True))
    for arn, found in reads:
        if found is None:
            continue
        total = totals.setdefault(arn, [0.0, 0.0])
        total[0] += found[0]
        total[1] += found[1]
    cgroups.forget_all_but(seen)
    return {arn: TaskUsage(cpu_seconds=cpu, memory_mib=memory) for arn, (cpu, memory) in totals.items()}


def _engine_stats(api: Any, container_ids: list[str]) -> list[tuple[float, float] | None]:
    """The engine's one-shot stats of each container, at most ``STATS_CONCURRENCY`` at once:
    the engine answers a one-shot call at its stats collector's next tick (up to 1 s later),
    so one call after another would take about a second per container."""

    def one(container_id: str) -> tuple[float, float] | None:
        with contextlib.suppress(docker.errors.APIError):
            return from_stats(api.stats(container_id, stream=False, one_shot=True))
        return None

    if len(container_ids) == 1:
        return [one(container_ids[0])]
    workers = min(STATS_CONCURRENCY, len(container_ids))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ecsemu-stats") as pool:
        return list(pool.map(one, container_ids))
