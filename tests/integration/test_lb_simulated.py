"""A service behind the embedded Application Load Balancer on the simulated runtime, with boto3
as a user would drive it: tasks get fake host ports, are registered, go initial → healthy, are
drained on the way out, and rolling and blue/green deployments run through — without Docker.

No socket reaches a simulated target: its health is what the test hook
(``POST /_ecsemu/simulated/health``) says (healthy by default), and a request to the listener
is answered 502, as an ALB answers when it cannot reach a target.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import requests
from alb_fixture import create_blue_green_service, listener_port, weighted_listener
from conftest import client, wait_until

from ecsemu.app import Emulator
from ecsemu.lb import (
    Forward,
    HealthCheckSpec,
    LbSnapshot,
    ListenerSpec,
    LoadBalancerEngine,
    RuleSpec,
    TargetGroupSpec,
    TargetHealth,
    TargetKey,
    TargetSpec,
)

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}
HEALTH = {
    "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2,
}  # fmt: skip
DRAIN_S = "5"  # deregistration_delay.timeout_seconds: long enough to see "draining"
WAIT = {"Delay": 1, "MaxAttempts": 90}


def _definition(ecs: Any, family: str, image: str) -> str:
    return str(
        ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "web", "image": image, "portMappings": [{"containerPort": 8080}], "stopTimeout": 5}],
        )["taskDefinition"]["taskDefinitionArn"]
    )  # fmt: skip


def _target_group(elbv2: Any, name: str, vpc: str) -> str:
    arn = str(
        elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip", **HEALTH)["TargetGroups"][0][
            "TargetGroupArn"
        ]
    )
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": DRAIN_S}]
    )
    return arn


def _health(elbv2: Any, tg: str) -> dict[int, dict[str, Any]]:
    """{registered port: TargetHealth}."""
    described = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {d["Target"]["Port"]: d["TargetHealth"] for d in described}


def _tasks(ecs: Any, cluster: str, desired: str = "RUNNING") -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=cluster, desiredStatus=desired)["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def _host_port(task: dict[str, Any]) -> int:
    return int(task["containers"][0]["networkBindings"][0]["hostPort"])


def _set_health(endpoint: str, task_arn: str, *, healthy: bool) -> dict[str, Any]:
    response = requests.post(
        f"{endpoint}/_ecsemu/simulated/health", json={"taskArn": task_arn, "containerName": "web", "healthy": healthy}, timeout=5
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _events(ecs: Any, cluster: str) -> list[str]:
    return [e["message"] for e in ecs.describe_services(cluster=cluster, services=["web"])["services"][0]["events"]]


@pytest.fixture
def web(endpoint: str, emulator: Emulator) -> Iterator[dict[str, Any]]:
    """An ALB, an ``ip`` target group (5 s checks, 2 to decide), a listener, and a service of 3
    awsvpc tasks registered in it — not yet waited for."""
    ecs, elbv2 = client("ecs", endpoint), client("elbv2", endpoint)
    lb = elbv2.create_load_balancer(Name="web", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = _target_group(elbv2, "web", lb["VpcId"])
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=18090,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]  # fmt: skip
    ecs.create_cluster(clusterName="sim")
    v1 = _definition(ecs, "web", "web:v1")
    ecs.create_service(
        cluster="sim", serviceName="web", taskDefinition=v1, desiredCount=3, launchType="FARGATE",
        networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=0,
        loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}],
    )  # fmt: skip
    yield {"ecs": ecs, "elbv2": elbv2, "tg": tg, "listener": listener["ListenerArn"], "v1": v1, "endpoint": endpoint}


def _all_healthy(elbv2: Any, tg: str, count: int) -> bool:
    states = [h["State"] for h in _health(elbv2, tg).values()]
    return states == ["healthy"] * count


def test_targets_register_and_go_initial_then_healthy(web: dict[str, Any]) -> None:
    ecs, elbv2, tg = web["ecs"], web["elbv2"], web["tg"]
    seen_initial: set[str] = set()

    def note_initial() -> dict[int, dict[str, Any]]:
        health = _health(elbv2, tg)
        seen_initial.update(h.get("Reason", "") for h in health.values() if h["State"] == "initial")
        return health

    def running_and_registered() -> bool:
        tasks = _tasks(ecs, "sim")
        return len(tasks) == 3 and all(t["lastStatus"] == "RUNNING" for t in tasks) and len(note_initial()) == 3

    wait_until(running_and_registered, timeout=30, what="three RUNNING tasks with registered targets")
    tasks = _tasks(ecs, "sim")
    bindings = [t["containers"][0]["networkBindings"] for t in tasks]
    assert all(len(b) == 1 and b[0]["bindIP"] == "127.0.0.1" and b[0]["containerPort"] == 8080 for b in bindings)
    ports = {_host_port(t) for t in tasks}
    assert len(ports) == 3
    assert set(_health(elbv2, tg)) == ports
    described = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {d["Target"]["Id"] for d in described} == {"127.0.0.1"}

    with contextlib.ExitStack() as stack:
        # Something listening on the fake ports must never hear from the load balancer.
        # (A fake port another socket of the machine holds cannot be listened on: not spied.)
        spies = [stack.enter_context(spy) for spy in map(_spy, ports) if spy is not None]
        wait_until(lambda: all(h["State"] == "healthy" for h in note_initial().values()), timeout=30, what="healthy targets")
        assert seen_initial & {"Elb.RegistrationInProgress", "Elb.InitialHealthChecking"}
        assert all(h == {"State": "healthy"} for h in _health(elbv2, tg).values())
        events = _events(ecs, "sim")
        assert events.count(f"(service web) registered 1 targets in (target-group {tg})") == 3
        ecs.get_waiter("services_stable").wait(cluster="sim", services=["web"], WaiterConfig=WAIT)
        # The listener answers as an ALB that cannot reach its target does.
        port = listener_port(elbv2, web["listener"])
        for _ in range(5):
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 502
        for spy in spies:
            with pytest.raises(BlockingIOError):
                spy.accept()


def _listen(port: int) -> socket.socket:
    sock = socket.socket()
    try:
        sock.setblocking(False)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _spy(port: int) -> socket.socket | None:
    """A listener on ``port``, or None when some other socket already holds it."""
    try:
        return _listen(port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        return None


def test_the_hook_refuses_what_it_does_not_know(endpoint: str) -> None:
    url = f"{endpoint}/_ecsemu/simulated/health"
    missing = requests.post(url, json={"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/0", "healthy": False}, timeout=5)
    assert missing.status_code == 404
    assert "no simulated task" in missing.json()["error"]
    assert requests.post(url, json={"taskArn": "x"}, timeout=5).status_code == 400
    assert requests.post(url, data="not json", headers={"Content-Type": "application/json"}, timeout=5).status_code == 400


def test_an_unhealthy_target_is_drained_and_its_task_replaced(web: dict[str, Any]) -> None:
    ecs, elbv2, tg = web["ecs"], web["elbv2"], web["tg"]
    wait_until(lambda: _all_healthy(elbv2, tg, 3), timeout=40, what="three healthy targets")
    victim = sorted(_tasks(ecs, "sim"), key=lambda t: t["taskArn"])[0]
    victim_port = _host_port(victim)
    assert _set_health(web["endpoint"], victim["taskArn"], healthy=False)["hostPorts"] == [victim_port]

    wait_until(
        lambda: _health(elbv2, tg).get(victim_port, {}).get("State") in ("unhealthy", "draining"),
        timeout=30, what="the victim's target to fail its checks",
    )  # fmt: skip

    def replaced() -> bool:
        task = ecs.describe_tasks(cluster="sim", tasks=[victim["taskArn"]])["tasks"][0]
        others = [t for t in _tasks(ecs, "sim") if t["taskArn"] != victim["taskArn"]]
        return task["desiredStatus"] == "STOPPED" and [t["lastStatus"] for t in others] == ["RUNNING"] * 3

    wait_until(replaced, timeout=40, what="the unhealthy task to be replaced")
    stopped = ecs.describe_tasks(cluster="sim", tasks=[victim["taskArn"]])["tasks"][0]
    assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
    assert _health(elbv2, tg).get(victim_port, {}).get("State") in ("draining", None)
    new_ports = {_host_port(t) for t in _tasks(ecs, "sim") if t["taskArn"] != victim["taskArn"]}
    assert victim_port not in new_ports  # a fake port is not handed out again while it may drain
    wait_until(
        lambda: {p for p, h in _health(elbv2, tg).items() if h["State"] == "healthy"} == new_ports,
        timeout=40, what="the replacement to be healthy",
    )  # fmt: skip
    events = _events(ecs, "sim")
    assert any(e.endswith(f"failed ELB health checks in (target-group {tg}).") for e in events)
    assert f"(service web) deregistered 1 targets in (target-group {tg})" in events


def test_the_hook_turns_a_target_healthy_again(web: dict[str, Any]) -> None:
    ecs, elbv2, tg = web["ecs"], web["elbv2"], web["tg"]
    # A grace period keeps ECS from replacing the task while its target is unhealthy.
    ecs.update_service(cluster="sim", service="web", healthCheckGracePeriodSeconds=600)
    wait_until(lambda: _all_healthy(elbv2, tg, 3), timeout=40, what="three healthy targets")
    task = _tasks(ecs, "sim")[0]
    port = _host_port(task)
    _set_health(web["endpoint"], task["taskArn"], healthy=False)
    wait_until(lambda: _health(elbv2, tg)[port]["State"] == "unhealthy", timeout=30, what="an unhealthy target")
    assert _health(elbv2, tg)[port] == {
        "State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed",
    }  # fmt: skip
    _set_health(web["endpoint"], task["taskArn"], healthy=True)
    wait_until(lambda: _health(elbv2, tg)[port]["State"] == "healthy", timeout=30, what="the target to recover")


def test_scale_in_deactivates_and_drains(web: dict[str, Any]) -> None:
    ecs, elbv2, tg = web["ecs"], web["elbv2"], web["tg"]
    wait_until(lambda: _all_healthy(elbv2, tg, 3), timeout=40, what="three healthy targets")
    ecs.update_service(cluster="sim", service="web", desiredCount=1)
    statuses: set[str] = set()

    def two_draining() -> bool:
        statuses.update(t["lastStatus"] for t in _tasks(ecs, "sim", "STOPPED"))
        states = sorted(h["State"] for h in _health(elbv2, tg).values())
        return states == ["draining", "draining", "healthy"]

    wait_until(two_draining, timeout=30, what="two targets draining")
    draining = [h for h in _health(elbv2, tg).values() if h["State"] == "draining"]
    assert draining[0] == {
        "State": "draining", "Reason": "Target.DeregistrationInProgress", "Description": "Target deregistration is in progress",
    }  # fmt: skip

    def stopped() -> bool:
        statuses.update(t["lastStatus"] for t in _tasks(ecs, "sim", "STOPPED"))
        return len(_tasks(ecs, "sim")) == 1 and {t["lastStatus"] for t in _tasks(ecs, "sim", "STOPPED")} == {"STOPPED"}

    wait_until(stopped, timeout=30, what="the two tasks to stop")
    assert statuses & {"DEACTIVATING", "STOPPING", "DEPROVISIONING"}
    wait_until(lambda: len(_health(elbv2, tg)) == 1, timeout=30, what="the drained targets to be gone")
    ecs.get_waiter("services_stable").wait(cluster="sim", services=["web"], WaiterConfig=WAIT)
    assert _events(ecs, "sim").count(f"(service web) deregistered 1 targets in (target-group {tg})") == 2


def test_rolling_update_keeps_within_bounds_and_ends_on_v2_targets(web: dict[str, Any]) -> None:
    ecs, elbv2, tg = web["ecs"], web["elbv2"], web["tg"]
    ecs.get_waiter("services_stable").wait(cluster="sim", services=["web"], WaiterConfig=WAIT)
    wait_until(lambda: _all_healthy(elbv2, tg, 3), timeout=40, what="three healthy targets")
    v2 = _definition(ecs, "web", "web:v2")
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            service = ecs.describe_services(cluster="sim", services=["web"])["services"][0]
            healthy = sum(1 for h in _health(elbv2, tg).values() if h["State"] == "healthy")
            samples.append((sum(d["runningCount"] for d in service["deployments"]), healthy))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        ecs.update_service(cluster="sim", service="web", taskDefinition=v2)

        def done() -> bool:
            service = ecs.describe_services(cluster="sim", services=["web"])["services"][0]
            deployments = service["deployments"]
            return len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED"

        wait_until(done, timeout=90, interval=0.5, what="the rolling update to complete")
    finally:
        stop.set()
        sampler.join(timeout=10)
    assert max(running for running, _ in samples) <= 6  # maximumPercent 200 of 3
    assert min(running for running, _ in samples) >= 3  # minimumHealthyPercent 100 of 3
    assert min(healthy for _, healthy in samples) >= 3  # never fewer than 3 healthy targets
    tasks = _tasks(ecs, "sim")
    assert {t["taskDefinitionArn"] for t in tasks} == {v2} and len(tasks) == 3
    v2_ports = {_host_port(t) for t in tasks}
    healthy = {p for p, h in _health(elbv2, tg).items() if h["State"] == "healthy"}
    assert healthy == v2_ports
    assert all(h["State"] == "draining" for p, h in _health(elbv2, tg).items() if p not in v2_ports)


def test_blue_green_moves_the_rule_weights_and_retires_blue(endpoint: str) -> None:
    ecs, elbv2 = client("ecs", endpoint), client("elbv2", endpoint)
    lb = elbv2.create_load_balancer(Name="bg", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    blue, green = (_target_group(elbv2, name, lb["VpcId"]) for name in ("bg-blue", "bg-green"))
    _listener, production_rule = weighted_listener(elbv2, lb["LoadBalancerArn"], blue, green, 18091)
    ecs.create_cluster(clusterName="bg")
    create_blue_green_service(ecs, "bg", _definition(ecs, "bg", "web:v1"), blue, green, production_rule)
    ecs.get_waiter("services_stable").wait(cluster="bg", services=["web"], WaiterConfig=WAIT)
    wait_until(lambda: _all_healthy(elbv2, blue, 2), timeout=40, what="blue to be healthy")

    v2 = _definition(ecs, "bg", "web:v2")
    ecs.update_service(cluster="bg", service="web", taskDefinition=v2)
    wait_until(lambda: _all_healthy(elbv2, green, 2), timeout=60, what="the green revision to be healthy")

    def weights() -> dict[str, int]:
        forward = elbv2.describe_rules(RuleArns=[production_rule])["Rules"][0]["Actions"][0]["ForwardConfig"]
        return {g["TargetGroupArn"]: g["Weight"] for g in forward["TargetGroups"]}

    wait_until(lambda: weights() == {green: 100, blue: 0}, timeout=60, what="production traffic to move to green")

    def retired() -> bool:
        service = ecs.describe_services(cluster="bg", services=["web"])["services"][0]
        tasks = _tasks(ecs, "bg")
        return (
            [d["taskDefinition"] for d in service["deployments"]] == [v2]
            and {t["taskDefinitionArn"] for t in tasks} == {v2}
            and len(tasks) == 2
        )

    wait_until(retired, timeout=60, interval=0.5, what="the blue revision to be retired")
    assert all(h["State"] == "draining" for h in _health(elbv2, blue).values())
    assert {_host_port(t) for t in _tasks(ecs, "bg")} == set(_health(elbv2, green))
    messages = _events(ecs, "bg")
    assert any("shifted 100% of production traffic" in m for m in messages)
    ecs.update_service(cluster="bg", service="web", desiredCount=0)
    ecs.delete_service(cluster="bg", service="web", force=True)


# --------------------------------------------------------------------------- the engine alone


@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
def test_the_engine_never_dials_a_simulated_target(protocol: Literal["HTTP", "TCP"]) -> None:
    """A target the simulated runtime claims is judged by its answer and never connected to,
    on every data path (HTTP proxy, TCP relay, health checks)."""
    healthy: dict[int, bool] = {}
    with _listen(0) as spy:
        port = int(spy.getsockname()[1])
        healthy[port] = True
        checks = HealthCheckSpec(protocol=protocol, interval_s=0.05, timeout_s=0.3, healthy_threshold=2, unhealthy_threshold=2)
        group = TargetGroupSpec(arn="tg", protocol=protocol, health=checks, targets=(TargetSpec(id="127.0.0.1", port=port),))
        listener = ListenerSpec(arn="l", port=0, protocol=protocol, rules=(RuleSpec(action=Forward.to("tg")),))
        with LoadBalancerEngine(simulated_health=healthy.get) as engine:
            engine.apply(LbSnapshot(listeners=(listener,), target_groups=(group,)))
            key = TargetKey("tg", "127.0.0.1", port)
            wait_until(lambda: engine.target_health().get(key) == TargetHealth("healthy"), timeout=10, what="healthy")
            bound = engine.bound_port("l")
            assert bound is not None
            for _ in range(5):
                if protocol == "HTTP":
                    assert requests.get(f"http://127.0.0.1:{bound}/", timeout=5).status_code == 502
                else:
                    with socket.create_connection(("127.0.0.1", bound), timeout=5) as conn:
                        conn.sendall(b"hello")
                        assert _closed(conn)  # the target cannot be reached
            healthy[port] = False
            failed = TargetHealth("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
            wait_until(lambda: engine.target_health().get(key) == failed, timeout=10, what="unhealthy")
        with pytest.raises(BlockingIOError):
            spy.accept()


def _closed(conn: socket.socket) -> bool:
    try:
        return conn.recv(16) == b""
    except ConnectionResetError:
        return True
