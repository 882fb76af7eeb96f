"""The docker runtime against a real engine: launch, observe, stop, remove real containers.

Tasks, fixtures and helpers: ``docker_tasks``. Waits poll with deadlines (``wait_until``); a
few engine wrappers (``HangingPulls``, ``StaleFirstListing``) make the failures that a healthy
engine never shows. The engine's events: ``test_docker_events.py``; environment files:
``test_container_env.py``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import docker
import docker.errors
import pytest
from conftest import free_port, wait_until
from docker_runtime_fixtures import (
    HEALTH,
    NAMESPACE,
    WEB,
    Tasks,
    container,
    get,
    get_ok,
    host_port,
    job,
    observed,
    started_at,
    wait_state,
    web,
)

from ecsemu.runtime import docker_spec as spec
from ecsemu.runtime.base import ObservedContainer, ObservedTask
from ecsemu.runtime.docker import DockerRuntime

pytestmark = pytest.mark.docker


# --- launching ---------------------------------------------------------------------------


def test_web_task_answers_on_its_published_loopback_port(runtime: DockerRuntime, tasks: Tasks, engine: Any) -> None:
    task = tasks.new(web(dockerLabels={"team": "blue"}))
    began = time.monotonic()
    runtime.launch(task)
    assert time.monotonic() - began < 0.5  # returns at once
    running = wait_state(runtime, task.task_arn, "web", "running")
    print(f"\nlaunch → running: {time.monotonic() - began:.2f}s")
    (binding,) = running.network_bindings
    assert binding["bindIP"] == "127.0.0.1" and binding["containerPort"] == 8080 and binding["protocol"] == "tcp"
    body = get_ok(host_port(running)).json()
    assert body["taskArn"] == task.task_arn and body["containerName"] == "web"
    seen = observed(runtime, task.task_arn)
    assert seen is not None and seen.failure is None
    assert seen.pull_started_at is not None and seen.pull_stopped_at is not None
    assert running.started_at is not None and running.runtime_id and running.image_digest
    labels = engine.api.inspect_container(running.runtime_id)["Config"]["Labels"]
    assert labels["team"] == "blue" and labels[spec.MANAGED] == "true"
    assert labels["com.amazonaws.ecs.task-arn"] == task.task_arn
    assert labels["com.amazonaws.ecs.task-definition-family"] == "web"
    assert labels["com.amazonaws.ecs.task-definition-version"] == "1"
    # One container holds the task's network itself: no sandbox, ports on 127.0.0.1 only.
    assert not engine.api.containers(all=True, filters={"name": spec.sandbox_docker_name(task.task_id)})
    own = engine.api.inspect_container(running.runtime_id)
    assert all(b["HostIp"] == "127.0.0.1" for b in own["HostConfig"]["PortBindings"]["8080/tcp"])


def test_a_tasks_containers_reach_each_other_on_localhost(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(
        web(),
        web("api", environment=[{"name": "PORT", "value": "9090"}], portMappings=[{"containerPort": 9090}]),
        job("probe", "timeout 15 sh -c 'until wget -q -O- http://127.0.0.1:9090/health; do sleep 0.2; done'",
            dependsOn=[{"containerName": "api", "condition": "START"}]),
    )  # fmt: skip
    runtime.launch(task)
    probe = wait_state(runtime, task.task_arn, "probe", "exited")
    assert probe.exit_code == 0
    api = wait_state(runtime, task.task_arn, "api", "running")
    assert get_ok(host_port(api, 9090)).json()["containerName"] == "api"
    assert get_ok(host_port(wait_state(runtime, task.task_arn, "web", "running"))).json()["containerName"] == "web"


def test_ten_tasks_all_publish_port_8080_and_observe_stays_cheap(runtime: DockerRuntime, tasks: Tasks) -> None:
    launches = [tasks.new(web()) for _ in range(10)]
    for task in launches:
        runtime.launch(task)
    ports = {host_port(wait_state(runtime, task.task_arn, "web", "running")) for task in launches}
    assert len(ports) == 10
    runtime.observe()  # warm the caches
    began = time.perf_counter()
    for _ in range(20):
        runtime.observe()
    per_call_ms = (time.perf_counter() - began) / 20 * 1000
    print(f"\nobserve() with 10 tasks: {per_call_ms:.1f} ms")
    assert per_call_ms < 100


def test_an_ecr_image_name_resolves_to_the_local_image(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(web(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/ecsemu-test/web:v2"))
    runtime.launch(task)
    assert get_ok(host_port(wait_state(runtime, task.task_arn, "web", "running"))).json()["version"] == "v2"


def test_bridge_mode_honours_a_fixed_host_port(runtime: DockerRuntime, tasks: Tasks) -> None:
    fixed = free_port()
    task = tasks.new(web(portMappings=[{"containerPort": 8080, "hostPort": fixed}]), network_mode="bridge")
    runtime.launch(task)
    assert host_port(wait_state(runtime, task.task_arn, "web", "running")) == fixed
    assert get_ok(fixed).json()["taskArn"] == task.task_arn


def test_a_missing_image_fails_fast_with_cannot_pull_container_error(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(web("sidecar", image=WEB), web(image="doesnotexist/nothing:1"))
    began = time.monotonic()
    runtime.launch(task)
    failed: ObservedTask = wait_until(
        lambda: (t := observed(runtime, task.task_arn)) is not None and t.failure and t, timeout=25
    )
    print(f"\nfailing pull reported after {time.monotonic() - began:.2f}s: {failed.failure}")
    assert failed.failure is not None and failed.failure.startswith("CannotPullContainerError: ")
    assert failed.failed_container == "web"
    assert not any(c.state == "pulling" for c in failed.containers.values())
    assert tasks.docker_containers(task.task_arn) == []  # nothing was created


class HangingPulls:
    """The real engine, except that pulls hang (as behind a registry that never answers)."""

    def __init__(self, engine: Any) -> None:
        self.api, self._real, self.released = self, engine.api, threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        self.released.wait(30)
        raise docker.errors.APIError("gave up")


def test_a_hanging_pull_fails_at_the_pull_timeout(tasks: Tasks, engine: Any) -> None:
    hanging = HangingPulls(engine)
    runtime = DockerRuntime(hanging, pull_timeout_s=1, namespace=NAMESPACE)
    try:
        task = tasks.new(web(image="registry.invalid/never:1"))
        began = time.monotonic()
        runtime.launch(task)
        assert container(runtime, task.task_arn, "web") == ObservedContainer("web", "pulling")
        failed: ObservedTask = wait_until(
            lambda: (t := observed(runtime, task.task_arn)) is not None and t.failure and t, timeout=10
        )
        assert failed.failure == "CannotPullContainerError: pulling registry.invalid/never:1 did not finish within 1s"
        assert 1.0 <= time.monotonic() - began < 3
        assert failed.containers == {}
    finally:
        hanging.released.set()
        runtime.close()


# --- exits, OOM, health --------------------------------------------------------------------


def test_exit_code_of_a_command(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(job("main", "exit 3", essential=True))
    runtime.launch(task)
    exited = wait_state(runtime, task.task_arn, "main", "exited")
    assert exited.exit_code == 3 and exited.reason is None
    assert exited.started_at is not None and exited.finished_at is not None and exited.finished_at >= exited.started_at


def test_memory_limit_kills_with_out_of_memory_error(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(web(memory=16))
    runtime.launch(task)
    port = host_port(wait_state(runtime, task.task_arn, "web", "running"))
    get_ok(port, "/health")
    get(port, "/alloc?mb=64", timeout=10)
    exited = wait_state(runtime, task.task_arn, "web", "exited")
    assert exited.exit_code == 137
    assert exited.reason == "OutOfMemoryError: Container killed due to memory usage"


def test_health_goes_healthy_then_unhealthy(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(web(healthCheck={"command": HEALTH, "interval": 1, "timeout": 2, "retries": 1}))
    runtime.launch(task)
    running = wait_state(runtime, task.task_arn, "web", "running")
    assert running.health in ("UNKNOWN", "HEALTHY")
    wait_until(lambda: (c := container(runtime, task.task_arn, "web")) and c.health == "HEALTHY", what="HEALTHY")
    get_ok(host_port(running), "/health/fail")
    wait_until(lambda: (c := container(runtime, task.task_arn, "web")) and c.health == "UNHEALTHY", what="UNHEALTHY")


# --- dependencies and volumes ------------------------------------------------------------


def test_depends_on_success_and_a_shared_task_volume(runtime: DockerRuntime, tasks: Tasks, engine: Any) -> None:
    data = [{"sourceVolume": "data", "containerPath": "/data"}]
    task = tasks.new(
        job("writer", "sleep 1; echo hi > /data/x", mountPoints=data),
        job("reader", "grep -q hi /data/x", essential=True,
            mountPoints=[{**data[0], "readOnly": True}], dependsOn=[{"containerName": "writer", "condition": "SUCCESS"}]),
        volumes=[{"name": "data"}],
    )  # fmt: skip
    runtime.launch(task)
    writer = wait_state(runtime, task.task_arn, "writer", "exited")
    reader = wait_state(runtime, task.task_arn, "reader", "exited")
    assert writer.exit_code == 0 and reader.exit_code == 0
    assert reader.started_at is not None and writer.finished_at is not None and reader.started_at >= writer.finished_at
    volumes = engine.api.volumes(filters={"label": f"{spec.TASK_ARN}={task.task_arn}"})["Volumes"]
    assert [v["Name"] for v in volumes] == [spec.volume_docker_name(task.task_id, "data")]


def test_a_failed_success_dependency_fails_an_essential_container(runtime: DockerRuntime, tasks: Tasks) -> None:
    task = tasks.new(job("init", "exit 1"), web(dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]))
    runtime.launch(task)
    failed: ObservedTask = wait_until(lambda: (t := observed(runtime, task.task_arn)) is not None and t.failure and t)
    assert failed.failed_container == "web"
    assert failed.failure is not None and failed.failure.startswith(
        "CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [init] for target [web]"
    )
    assert failed.containers["web"].state == "created"


# --- stopping, resuming, removing ----------------------------------------------------------


def test_stop_sends_term_then_kill_after_the_containers_stop_timeout(
    runtime: DockerRuntime, tasks: Tasks, engine: Any
) -> None:
    stubborn = job("stubborn", "trap '' TERM; while :; do sleep 0.2; done", stopTimeout=1)
    task = tasks.new(web(), stubborn)
    runtime.launch(task)
    wait_state(runtime, task.task_arn, "web", "running")
    wait_state(runtime, task.task_arn, "stubborn", "running")
    began = time.monotonic()
    runtime.stop(task.task_arn, 30)
    runtime.stop(task.task_arn, 30)  # idempotent
    assert time.monotonic() - began < 0.5
    assert wait_state(runtime, task.task_arn, "web", "exited", timeout=10).exit_code == 0
    assert wait_state(runtime, task.task_arn, "stubborn", "exited", timeout=10).exit_code == 137
    elapsed = time.monotonic() - began
    print(f"\nstop with a 1 s grace: {elapsed:.2f}s")
    assert 0.9 <= elapsed < 10
    sandbox = spec.sandbox_docker_name(task.task_id)
    wait_until(lambda: engine.api.inspect_container(sandbox)["State"]["Status"] == "exited", what="the sandbox to stop")
    assert engine.api.inspect_container(sandbox)["State"]["ExitCode"] == 137  # SIGKILL


def test_stop_while_pending_never_starts_the_waiting_container(
    runtime: DockerRuntime, tasks: Tasks, engine: Any
) -> None:
    task = tasks.new(web("dep"), web(portMappings=[], dependsOn=[{"containerName": "dep", "condition": "HEALTHY"}]))
    runtime.launch(task)
    wait_state(runtime, task.task_arn, "dep", "running")
    waiting = wait_state(runtime, task.task_arn, "web", "created")
    runtime.stop(task.task_arn, 5)
    wait_until(
        lambda: (t := observed(runtime, task.task_arn)) and all(c.state == "exited" for c in t.containers.values())
    )
    assert waiting.runtime_id is not None
    assert started_at(engine, waiting.runtime_id).startswith("0001-01-01")  # never started
    runtime.launch(task)  # a late launch of a stopped task is refused before anything is queued
    late = observed(runtime, task.task_arn)
    assert late is not None and all(c.state == "exited" for c in late.containers.values())
    assert started_at(engine, waiting.runtime_id).startswith("0001-01-01")


def test_a_second_runtime_adopts_and_resumes_without_starting_anything_twice(tasks: Tasks, engine: Any) -> None:
    task = tasks.new(
        web(),
        job("gate", "sleep 2"),
        job("late", "sleep 600", dependsOn=[{"containerName": "gate", "condition": "COMPLETE"}]),
    )
    first = DockerRuntime(engine, namespace=NAMESPACE)
    first.launch(task)
    wait_state(first, task.task_arn, "web", "running")
    wait_state(first, task.task_arn, "gate", "running")
    wait_state(first, task.task_arn, "late", "created")
    first.close()  # the emulator "restarts" while late waits for gate
    before = {c["Id"]: started_at(engine, c["Id"]) for c in tasks.docker_containers(task.task_arn)}

    second = DockerRuntime(engine, namespace=NAMESPACE)
    try:
        adopted = observed(second, task.task_arn)
        assert adopted is not None and adopted.failure is None
        assert {n: c.state for n, c in adopted.containers.items() if n != "gate"} == {
            "web": "running",
            "late": "created",
        }
        second.launch(task)
        second.launch(task)  # in flight: a no-op
        wait_state(second, task.task_arn, "late", "running")
        after = {c["Id"]: started_at(engine, c["Id"]) for c in tasks.docker_containers(task.task_arn)}
        assert after.keys() == before.keys()  # nothing new was created
        late = container(second, task.task_arn, "late")
        assert late is not None
        assert {k: v for k, v in after.items() if k != late.runtime_id} == {
            k: v for k, v in before.items() if k != late.runtime_id
        }
    finally:
        second.close()

    third = DockerRuntime(engine, namespace=NAMESPACE)  # a repeated launch of a fully started task changes nothing
    try:
        third.launch(task)
        wait_until(
            lambda: (t := observed(third, task.task_arn)) and all(c.state != "pulling" for c in t.containers.values())
        )
        assert {c["Id"]: started_at(engine, c["Id"]) for c in tasks.docker_containers(task.task_arn)} == after
    finally:
        third.close()


def test_keep_stopped_leaves_containers_but_forgets_the_task(tasks: Tasks, engine: Any) -> None:
    runtime = DockerRuntime(engine, keep_stopped=True, namespace=NAMESPACE)
    try:
        task = tasks.new(job("main", "exit 0", essential=True))
        runtime.launch(task)
        wait_state(runtime, task.task_arn, "main", "exited")
        runtime.remove(task.task_arn)
        wait_until(lambda: task.task_arn not in runtime.observe(), what="the task to be forgotten")
        kept = tasks.docker_containers(task.task_arn)
        assert {c["Labels"][spec.CONTAINER_NAME] for c in kept} == {"main"}  # one container: no sandbox
        assert all(c["State"] == "exited" for c in kept)
    finally:
        runtime.close()


def test_runtimes_of_other_namespaces_do_not_see_each_others_tasks(
    runtime: DockerRuntime, tasks: Tasks, engine: Any
) -> None:
    task = tasks.new(web())
    runtime.launch(task)
    wait_state(runtime, task.task_arn, "web", "running")
    stranger = DockerRuntime(engine)  # e.g. an emulator's runtime, which removes what it does not know
    removed = threading.Event()
    try:
        assert task.task_arn not in stranger.observe()
        stranger.subscribe(removed.set)  # called when its remove has finished
        stranger.remove(task.task_arn)
        assert removed.wait(10)
        found = container(runtime, task.task_arn, "web")
        assert found is not None and found.state == "running"
    finally:
        stranger.close()


class StaleFirstListing:
    """The real engine, except that the first listing of a task's containers comes back empty,
    as when two launches of one task race: the second one's creates meet the first one's names."""

    def __init__(self, engine: Any) -> None:
        self.api, self._real, self.stale = self, engine.api, 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def containers(self, *args: Any, **kwargs: Any) -> Any:
        labels = (kwargs.get("filters") or {}).get("label") or []
        if self.stale and any(label.startswith(spec.TASK_ARN) for label in labels):
            self.stale -= 1
            return []
        return self._real.containers(*args, **kwargs)


def test_a_name_conflict_with_the_same_task_adopts_and_restarts_nothing(
    runtime: DockerRuntime, tasks: Tasks, engine: Any
) -> None:
    task = tasks.new(web(), job("once", "exit 0"))
    runtime.launch(task)
    wait_state(runtime, task.task_arn, "web", "running")
    wait_state(runtime, task.task_arn, "once", "exited")
    before = {c["Id"]: started_at(engine, c["Id"]) for c in tasks.docker_containers(task.task_arn)}
    racing = DockerRuntime(StaleFirstListing(engine), namespace=NAMESPACE)
    try:
        racing.launch(task)
        wait_until(
            lambda: (t := observed(racing, task.task_arn)) and all(c.state != "pulling" for c in t.containers.values())
        )
        seen = observed(racing, task.task_arn)
        assert seen is not None and seen.failure is None
        assert {n: c.state for n, c in seen.containers.items()} == {"web": "running", "once": "exited"}
        assert {c["Id"]: started_at(engine, c["Id"]) for c in tasks.docker_containers(task.task_arn)} == before
    finally:
        racing.close()


def test_a_name_taken_by_another_task_fails_the_launch(runtime: DockerRuntime, tasks: Tasks, engine: Any) -> None:
    task = tasks.new(web())
    squatter = tasks.new(web())  # registered, so the clean-up removes the squatting container too
    engine.api.create_container(
        WEB, name=spec.container_docker_name(task.task_id, "web"), labels={spec.TASK_ARN: squatter.task_arn}
    )
    runtime.launch(task)
    failed: ObservedTask = wait_until(lambda: (t := observed(runtime, task.task_arn)) is not None and t.failure and t)
    assert (
        failed.failure
        == f"CannotCreateContainerError: the name {spec.container_docker_name(task.task_id, 'web')} is taken by another task"
    )
    assert failed.failed_container == "web"


def test_remove_leaves_nothing_behind(runtime: DockerRuntime, tasks: Tasks, engine: Any) -> None:
    task = tasks.new(
        web(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}]),
        job("side", "sleep 600"),
        volumes=[{"name": "data"}],
    )
    runtime.launch(task)
    wait_state(runtime, task.task_arn, "side", "running")
    assert engine.api.networks(names=[f"ecsemu-{tasks.cluster}"])
    runtime.stop(task.task_arn, 2)
    wait_until(
        lambda: (t := observed(runtime, task.task_arn)) and all(c.state == "exited" for c in t.containers.values())
    )
    runtime.remove(task.task_arn)
    runtime.remove(task.task_arn)  # idempotent
    wait_until(lambda: task.task_arn not in runtime.observe(), what="the task to be gone")
    assert tasks.docker_containers(task.task_arn) == []
    assert not engine.api.volumes(filters={"label": f"{spec.TASK_ARN}={task.task_arn}"})["Volumes"]
    wait_until(
        lambda: not engine.api.networks(filters={"label": f"{spec.CLUSTER}={tasks.cluster}"}), what="the network to go"
    )
