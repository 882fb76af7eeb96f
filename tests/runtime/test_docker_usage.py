"""What a task's containers use, read from cgroup files (v1 and v2, cgroupfs and systemd
drivers) on a fake cgroup tree, and from the engine's stats document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecsemu.runtime.docker_usage import CgroupReader, from_stats

CID = "0123456789abcdef" * 4
MIB = 1024 * 1024


def v1_container(
    root: Path, container_id: str, *, nanos: int, usage: int, inactive: int | None, systemd: bool = False
) -> tuple[Path, Path]:
    parent = Path("system.slice") / f"docker-{container_id}.scope" if systemd else Path("docker") / container_id
    cpu, memory = root / "cpuacct" / parent, root / "memory" / parent
    cpu.mkdir(parents=True)
    memory.mkdir(parents=True)
    (cpu / "cpuacct.usage").write_text(f"{nanos}\n")
    (memory / "memory.usage_in_bytes").write_text(f"{usage}\n")
    stat = (
        "cache 100\nrss 200\n" + (f"total_inactive_file {inactive}\n" if inactive is not None else "") + "total_rss 5\n"
    )
    (memory / "memory.stat").write_text(stat)
    return cpu, memory


def v2_root(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    return root


def v2_container(
    root: Path, container_id: str, *, usec: int, current: int, inactive: int | None, systemd: bool = False
) -> Path:
    directory = root / "system.slice" / f"docker-{container_id}.scope" if systemd else root / "docker" / container_id
    directory.mkdir(parents=True)
    (directory / "cpu.stat").write_text(f"usage_usec {usec}\nuser_usec {usec // 2}\nsystem_usec {usec // 2}\n")
    (directory / "memory.current").write_text(f"{current}\n")
    stat = (
        "anon 1000\nfile 2000\n" + (f"inactive_file {inactive}\n" if inactive is not None else "") + "active_file 7\n"
    )
    (directory / "memory.stat").write_text(stat)
    return directory


# -- cgroup v1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("systemd", [False, True], ids=["cgroupfs", "systemd"])
def test_v1_reads_cpu_seconds_and_memory_less_inactive_file(tmp_path: Path, systemd: bool) -> None:
    v1_container(tmp_path, CID, nanos=2_500_000_000, usage=100 * MIB, inactive=20 * MIB, systemd=systemd)
    reader = CgroupReader(tmp_path)
    assert reader.v2 is False
    assert reader.read(CID) == pytest.approx((2.5, 80.0))


def test_v1_without_inactive_file_counts_all_usage(tmp_path: Path) -> None:
    v1_container(tmp_path, CID, nanos=1_000_000_000, usage=64 * MIB, inactive=None)
    assert CgroupReader(tmp_path).read(CID) == pytest.approx((1.0, 64.0))


def test_v1_memory_never_goes_negative(tmp_path: Path) -> None:
    v1_container(tmp_path, CID, nanos=0, usage=10 * MIB, inactive=30 * MIB)
    assert CgroupReader(tmp_path).read(CID) == (0.0, 0.0)


def test_v1_follows_the_counters_as_they_grow(tmp_path: Path) -> None:
    cpu, _memory = v1_container(tmp_path, CID, nanos=1_000_000_000, usage=MIB, inactive=0)
    reader = CgroupReader(tmp_path)
    assert reader.read(CID) == pytest.approx((1.0, 1.0))
    (cpu / "cpuacct.usage").write_text("4000000000\n")
    assert reader.read(CID) == pytest.approx((4.0, 1.0))


# -- cgroup v2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("systemd", [False, True], ids=["cgroupfs", "systemd"])
def test_v2_reads_usage_usec_and_memory_current_less_inactive_file(tmp_path: Path, systemd: bool) -> None:
    root = v2_root(tmp_path)
    v2_container(root, CID, usec=3_250_000, current=50 * MIB, inactive=10 * MIB, systemd=systemd)
    reader = CgroupReader(root)
    assert reader.v2 is True
    assert reader.read(CID) == pytest.approx((3.25, 40.0))


def test_v2_without_inactive_file_counts_all_memory(tmp_path: Path) -> None:
    root = v2_root(tmp_path)
    v2_container(root, CID, usec=1_000_000, current=8 * MIB, inactive=None)
    assert CgroupReader(root).read(CID) == pytest.approx((1.0, 8.0))


def test_the_layout_decides_v1_or_v2(tmp_path: Path) -> None:
    # A v1 layout on a v2 host (no cgroup.controllers under the v1 root) and the other way round.
    v1_container(tmp_path / "v1", CID, nanos=1, usage=1, inactive=0)
    assert CgroupReader(tmp_path / "v1").read(CID) is not None
    assert CgroupReader(v2_root(tmp_path / "v2")).read(CID) is None  # v2 looks elsewhere


# -- absent and vanished -----------------------------------------------------------------------


def test_a_container_with_no_cgroup_here_is_none(tmp_path: Path) -> None:
    reader = CgroupReader(v2_root(tmp_path))
    assert reader.read(CID) is None
    assert reader.dirs(CID) is None


def test_a_vanished_v2_directory_reads_none_and_is_forgotten(tmp_path: Path) -> None:
    root = v2_root(tmp_path)
    directory = v2_container(root, CID, usec=1_000_000, current=MIB, inactive=0)
    reader = CgroupReader(root)
    assert reader.read(CID) is not None
    assert CID in reader._dirs
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()
    assert reader.read(CID) is None
    assert CID not in reader._dirs  # forgotten: found again (or not) from scratch next time


def test_a_vanished_v1_directory_reads_none_and_is_forgotten(tmp_path: Path) -> None:
    cpu, _memory = v1_container(tmp_path, CID, nanos=1, usage=1, inactive=0)
    reader = CgroupReader(tmp_path)
    assert reader.read(CID) is not None
    (cpu / "cpuacct.usage").unlink()
    cpu.rmdir()
    assert reader.read(CID) is None
    assert CID not in reader._dirs


def test_forget_all_but_keeps_only_the_named_containers(tmp_path: Path) -> None:
    root = v2_root(tmp_path)
    other = "f" * 64
    v2_container(root, CID, usec=1, current=1, inactive=0)
    v2_container(root, other, usec=1, current=1, inactive=0)
    reader = CgroupReader(root)
    reader.read(CID)
    reader.read(other)
    reader.forget_all_but({other})
    assert set(reader._dirs) == {other}


def test_unreadable_numbers_read_none(tmp_path: Path) -> None:
    root = v2_root(tmp_path)
    directory = v2_container(root, CID, usec=1, current=1, inactive=0)
    (directory / "memory.current").write_text("garbage\n")
    assert CgroupReader(root).read(CID) is None
    (directory / "memory.current").write_text("5\n")
    (directory / "cpu.stat").write_text("user_usec 3\n")  # no usage_usec
    assert CgroupReader(root).read(CID) is None


# -- the engine's stats document ---------------------------------------------------------------


def stats_v1() -> dict[str, Any]:
    return {
        "read": "2026-01-01T00:00:00Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 7_500_000_000, "usage_in_kernelmode": 1}, "system_cpu_usage": 99},
        "memory_stats": {
            "usage": 200 * MIB,
            "limit": 512 * MIB,
            "stats": {"total_inactive_file": 50 * MIB, "cache": 60 * MIB, "rss": 100 * MIB},
        },
    }


def stats_v2() -> dict[str, Any]:
    return {
        "cpu_stats": {"cpu_usage": {"total_usage": 1_250_000_000}},
        "memory_stats": {"usage": 30 * MIB, "limit": 256 * MIB, "stats": {"inactive_file": 6 * MIB, "anon": 1}},
    }


def test_from_stats_v1_memory_stats() -> None:
    assert from_stats(stats_v1()) == pytest.approx((7.5, 150.0))


def test_from_stats_v2_memory_stats() -> None:
    assert from_stats(stats_v2()) == pytest.approx((1.25, 24.0))


def test_from_stats_without_memory_or_its_detail() -> None:
    document = stats_v2()
    del document["memory_stats"]["stats"]
    assert from_stats(document) == pytest.approx((1.25, 30.0))
    document["memory_stats"] = {}  # a container just stopped: the engine sends empty memory stats
    assert from_stats(document) == pytest.approx((1.25, 0.0))


@pytest.mark.parametrize(
    "document",
    [{}, {"cpu_stats": {}}, {"cpu_stats": {"cpu_usage": {}}}, {"cpu_stats": {"cpu_usage": {"total_usage": "x"}}}],
)
def test_from_stats_of_a_broken_document_is_none(document: dict[str, Any]) -> None:
    assert from_stats(document) is None


# -- the Docker runtime's usage, on real containers --------------------------------------------

BUSY_IMAGE = "ecsemu-test/web:latest"


@pytest.mark.docker
def test_the_docker_runtime_measures_a_busy_task(docker_emulator: Any, docker_ecs: Any) -> None:
    from conftest import wait_until  # noqa: PLC0415

    runtime = docker_emulator.runtime
    docker_ecs.create_cluster(clusterName="usage")
    for family, command in (("busy", "while :; do :; done"), ("idle", "sleep 3600")):
        docker_ecs.register_task_definition(
            family=family, cpu="256", memory="128",
            containerDefinitions=[{"name": "app", "image": BUSY_IMAGE, "command": ["sh", "-c", command], "stopTimeout": 1}],
        )  # fmt: skip
    busy = docker_ecs.run_task(cluster="usage", taskDefinition="busy")["tasks"][0]["taskArn"]
    idle = docker_ecs.run_task(cluster="usage", taskDefinition="idle")["tasks"][0]["taskArn"]

    def running() -> bool:
        tasks = docker_ecs.describe_tasks(cluster="usage", tasks=[busy, idle])["tasks"]
        return all(t["lastStatus"] == "RUNNING" for t in tasks)

    wait_until(running, timeout=60, what="both tasks running")
    first = runtime.usage([busy])
    assert set(first) == {busy}  # the task not asked for is not returned
    assert first[busy].cpu_seconds is not None and first[busy].cpu_seconds > 0
    assert first[busy].memory_mib is not None and first[busy].memory_mib > 0
    assert first[busy].cpu_percent is None and first[busy].memory_percent is None  # measured, not set

    def grew() -> bool:
        return float(runtime.usage([busy])[busy].cpu_seconds or 0.0) >= float(first[busy].cpu_seconds or 0.0) + 0.3

    wait_until(grew, timeout=30, interval=0.2, what="the busy task's CPU time to grow")
    both = runtime.usage([busy, idle])
    assert set(both) == {busy, idle}
    assert float(both[idle].cpu_seconds or 0.0) < float(both[busy].cpu_seconds or 0.0)
    assert runtime.usage(["arn:aws:ecs:us-east-1:000000000000:task/usage/none"]) == {}
