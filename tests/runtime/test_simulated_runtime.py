"""The simulated runtime's port bindings and its target-health answers (the test hook)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ecsemu.runtime.base import TaskLaunch
from ecsemu.runtime.simulated import DYNAMIC_PORTS, SimulatedRuntime, UnknownTarget, port_bindings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _launch(task_id: str, mode: str = "awsvpc", *mappings: dict[str, Any], containers: int = 1) -> TaskLaunch:
    return TaskLaunch(
        task_arn=f"arn:aws:ecs:us-east-1:123456789012:task/c/{task_id}",
        task_id=task_id,
        cluster="c",
        family="web",
        revision=1,
        network_mode=mode,
        containers=[
            {"name": f"c{i}", "portMappings": list(mappings) if i == 0 else [{"containerPort": 9000 + i}]}
            for i in range(containers)
        ],
    )


def _runtime() -> tuple[SimulatedRuntime, Clock]:
    clock = Clock()
    return SimulatedRuntime(pull_s=1.0, stop_s=1.0, clock=clock), clock


def _bindings(runtime: SimulatedRuntime, task_arn: str, container: str = "c0") -> tuple[dict[str, Any], ...]:
    return runtime.observe()[task_arn].containers[container].network_bindings


def test_awsvpc_ports_get_unique_dynamic_host_ports_on_loopback() -> None:
    runtime, clock = _runtime()
    launches = [_launch(str(i), "awsvpc", {"containerPort": 8080, "protocol": "tcp"}) for i in range(3)]
    for launch in launches:
        runtime.launch(launch)
    clock.now += 2
    bindings = [_bindings(runtime, launch.task_arn) for launch in launches]
    assert [len(b) for b in bindings] == [1, 1, 1]
    assert all(b[0]["bindIP"] == "127.0.0.1" and b[0]["containerPort"] == 8080 and b[0]["protocol"] == "tcp" for b in bindings)
    ports = [b[0]["hostPort"] for b in bindings]
    assert len(set(ports)) == 3 and all(p in DYNAMIC_PORTS for p in ports)


def test_bindings_are_reported_while_running_and_after_exit_not_while_pulling() -> None:
    runtime, clock = _runtime()
    launch = _launch("1", "awsvpc", {"containerPort": 80})
    runtime.launch(launch)
    assert _bindings(runtime, launch.task_arn) == ()
    clock.now += 2
    running = _bindings(runtime, launch.task_arn)
    runtime.stop(launch.task_arn, 1.0)
    clock.now += 2
    assert runtime.observe()[launch.task_arn].containers["c0"].state == "exited"
    assert _bindings(runtime, launch.task_arn) == running


def test_bridge_honours_a_fixed_host_port_host_mode_the_container_port_none_has_none() -> None:
    bindings, _ = port_bindings(_launch("1", "bridge", {"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}), set(), 50000)
    assert [(b["containerPort"], b["hostPort"]) for b in bindings["c0"]] == [(80, 8080), (81, 50000)]
    host, _ = port_bindings(_launch("2", "host", {"containerPort": 80, "hostPort": 80}), set(), 50000)
    assert host["c0"] == [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 80, "protocol": "tcp"}]
    none, _ = port_bindings(_launch("3", "none", {"containerPort": 80}), set(), 50000)
    assert none == {"c0": []}


def test_dynamic_ports_skip_taken_ones_and_wrap_around() -> None:
    last = DYNAMIC_PORTS.stop - 1
    bindings, next_port = port_bindings(
        _launch("1", "awsvpc", {"containerPort": 80}, {"containerPort": 81}, {"containerPort": 82}), {last, DYNAMIC_PORTS.start}, last
    )
    assert [b["hostPort"] for b in bindings["c0"]] == [DYNAMIC_PORTS.start + 1, DYNAMIC_PORTS.start + 2, DYNAMIC_PORTS.start + 3]
    assert next_port == DYNAMIC_PORTS.start + 4


def test_a_removed_tasks_port_is_not_handed_out_again_at_once() -> None:
    runtime, clock = _runtime()
    first = _launch("1", "awsvpc", {"containerPort": 80})
    runtime.launch(first)
    clock.now += 2
    port = _bindings(runtime, first.task_arn)[0]["hostPort"]
    runtime.remove(first.task_arn)
    second = _launch("2", "awsvpc", {"containerPort": 80})
    runtime.launch(second)
    clock.now += 2
    assert _bindings(runtime, second.task_arn)[0]["hostPort"] == port + 1


def test_a_restarted_runtime_keeps_its_tasks_ports_and_continues_after_them() -> None:
    state: dict[str, dict[str, Any]] = {}
    clock = Clock()
    before = SimulatedRuntime(state, pull_s=1.0, clock=clock)
    before.launch(_launch("1", "awsvpc", {"containerPort": 80}))
    clock.now += 2
    port = _bindings(before, _launch("1").task_arn)[0]["hostPort"]
    after = SimulatedRuntime(state, pull_s=1.0, clock=clock)
    assert after.target_health(port) is True
    after.launch(_launch("2", "awsvpc", {"containerPort": 80}))
    clock.now += 2
    assert _bindings(after, _launch("2").task_arn)[0]["hostPort"] == port + 1


def test_target_health_follows_the_container_and_the_hook() -> None:
    runtime, clock = _runtime()
    launch = _launch("1", "awsvpc", {"containerPort": 80}, containers=2)
    runtime.launch(launch)
    observed = runtime.observe()[launch.task_arn]
    assert observed.containers["c0"].network_bindings == ()  # still pulling
    clock.now += 2
    port = _bindings(runtime, launch.task_arn)[0]["hostPort"]
    other = _bindings(runtime, launch.task_arn, "c1")[0]["hostPort"]
    assert runtime.target_health(port) is True
    assert runtime.target_health(12345) is None  # not a simulated target: probed for real
    assert runtime.set_target_health(launch.task_arn, healthy=False, container_name="c0") == [port]
    assert runtime.target_health(port) is False
    assert runtime.target_health(other) is True
    assert runtime.set_target_health(launch.task_arn, healthy=True, host_port=port) == [port]
    assert runtime.target_health(port) is True
    runtime.stop(launch.task_arn, 1.0)
    clock.now += 2
    assert runtime.target_health(port) is False  # the container exited
    runtime.remove(launch.task_arn)
    assert runtime.target_health(port) is False  # a target group may still name it: never dialled
    clock.now += 3601  # past the longest deregistration delay: no target group names it any more
    assert runtime.target_health(port) is None


def test_the_hook_refuses_unknown_tasks_and_bindings() -> None:
    runtime, _ = _runtime()
    launch = _launch("1", "awsvpc", {"containerPort": 80})
    runtime.launch(launch)
    with pytest.raises(UnknownTarget):
        runtime.set_target_health("arn:aws:ecs:us-east-1:123456789012:task/c/nope", healthy=False)
    with pytest.raises(UnknownTarget):
        runtime.set_target_health(launch.task_arn, healthy=False, container_name="other")
    with pytest.raises(UnknownTarget):
        runtime.set_target_health(launch.task_arn, healthy=False, host_port=1)


def test_the_hook_survives_a_restart() -> None:
    state: dict[str, dict[str, Any]] = {}
    clock = Clock()
    before = SimulatedRuntime(state, pull_s=1.0, clock=clock)
    launch = _launch("1", "awsvpc", {"containerPort": 80})
    before.launch(launch)
    clock.now += 2
    (port,) = before.set_target_health(launch.task_arn, healthy=False)
    assert SimulatedRuntime(state, pull_s=1.0, clock=clock).target_health(port) is False


def test_a_store_reset_forgets_the_ports_at_the_next_observation() -> None:
    state: dict[str, dict[str, Any]] = {}
    runtime = SimulatedRuntime(state, pull_s=0.0)
    launch = _launch("1", "awsvpc", {"containerPort": 80})
    runtime.launch(launch)
    (port,) = runtime.set_target_health(launch.task_arn, healthy=True)
    state.clear()
    assert runtime.observe() == {}
    assert runtime.target_health(port) is None


def test_a_held_port_stays_known_while_the_runtime_reindexes() -> None:
    """``observe`` rebuilds the port index; a reader on another thread (the load balancer) must
    never find a held port missing meanwhile, or it would dial a simulated target."""
    runtime, clock = _runtime()
    launches = [_launch(str(n), "awsvpc", {"containerPort": 80}) for n in range(300)]
    for launch in launches:
        runtime.launch(launch)
    clock.now += 2
    runtime.observe()
    ports = [_bindings(runtime, launch.task_arn)[0]["hostPort"] for launch in launches]
    missing: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            missing.extend(p for p in ports if runtime.target_health(p) is None)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(20):
            runtime.observe()
    finally:
        done.set()
        reader.join(timeout=10)
    assert missing == []
