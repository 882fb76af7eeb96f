"""The container image as a product: built offline by scripts/build-image.sh, run as the README
says, driven with boto3 from the host.

The documented run: ``docker run --network host -v /var/run/docker.sock:/var/run/docker.sock
-v <named volume>:/var/lib/ecsemu <image> --port <port>``. Host networking puts ecsemu's API, the
load balancer's listeners and the tasks' published ports on the host's 127.0.0.1; the named
volume keeps the state and the namespace label, so a new container on it adopts the tasks the
stopped one left running.

Every object the test creates carries the label ``ecsemu.test=container-image`` (the ecsemu
containers and the volume) or the namespace of the emulator it started (the task containers,
their cluster network, task volumes), and is removed at the end whatever happened; nothing else
on the engine is touched.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from alb_fixture import NETWORK, WAIT, answer, bound_port
from conftest import REPO, client, free_port, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TEST_LABEL = "ecsemu.test=container-image"
IMAGE_TAG = "ecsemu-test/ecsemu:latest"  # built here by scripts/build-image.sh
WEB_IMAGE = "ecsemu-test/web:latest"  # built by scripts/build-test-images.sh


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built the way CI builds it: offline, from a local base when the registry is out of reach."""
    if docker("image", "inspect", WEB_IMAGE, check=False) == "":
        subprocess.run(["bash", str(REPO / "scripts" / "build-test-images.sh")], check=True, timeout=300)
    built = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-image.sh"), "--tag", IMAGE_TAG],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", IMAGE_TAG))
    assert labels.get("ecsemu.image") == "true"
    return IMAGE_TAG


@dataclass
class Deployment:
    """ecsemu containers started on one named volume (one at a time), and what they left."""

    image: str
    volume: str
    port: int
    containers: list[str] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=set)  # every namespace seen, for the cleanup

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *env: str) -> str:
        name = f"ecsemu-image-test-{secrets.token_hex(4)}"
        options = [item for variable in env for item in ("-e", variable)]
        docker(
            "run", "-d", "--name", name, "--label", TEST_LABEL, "--network", "host",
            "--pid", "host", "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",  # the task endpoints (README)
            "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{self.volume}:/var/lib/ecsemu",
            *options, self.image, "--port", str(self.port),
        )  # fmt: skip
        self.containers.append(name)

        def answers() -> bool:
            if docker("inspect", "-f", "{{.State.Running}}", name) != "true":
                raise AssertionError(f"the ecsemu container exited:\n{self.logs(name)}")
            try:
                return requests.get(f"{self.endpoint}/_ecsemu/health", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout=60, what="ecsemu in its container to answer")
        return name

    def stop(self, name: str) -> int:
        """``docker stop -t 30`` as documented: the exit code, which must not be SIGKILL's."""
        docker("stop", "-t", "30", name, timeout=60)
        return int(docker("inspect", "-f", "{{.State.ExitCode}}", name))

    def logs(self, name: str) -> str:
        done = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30, check=False)
        return done.stdout + done.stderr

    def namespace(self) -> str:
        """The namespace label the emulators on this volume give their Docker objects."""
        namespace = docker(
            "run", "--rm", "--label", TEST_LABEL, "--network", "none", "-v", f"{self.volume}:/data:ro",
            "--entrypoint", "cat", self.image, "/data/instance-id", check=False,
        )  # fmt: skip
        if namespace:
            self.namespaces.add(namespace)
        return namespace

    def task_containers(self) -> dict[str, str]:
        """Container id -> task ARN, for this namespace's containers on the engine."""
        rows = docker(
            "ps", "--no-trunc", "--filter", f"label=ecsemu.namespace={self.namespace()}",
            "--format", '{{.ID}} {{.Label "com.amazonaws.ecs.task-arn"}}',
        )  # fmt: skip
        return dict(row.split(" ", 1) for row in rows.splitlines() if row)


@pytest.fixture
def deployment(image: str) -> Iterator[Deployment]:
    volume = f"ecsemu-image-test-{secrets.token_hex(4)}"
    docker("volume", "create", "--label", TEST_LABEL, volume)
    deployment = Deployment(image, volume, free_port())
    try:
        yield deployment
    finally:
        for name in deployment.containers:
            docker("rm", "-f", name, check=False)
        deployment.namespace()
        for namespace in deployment.namespaces:  # whatever a failed test left: task containers, networks, volumes
            for kind in ("container", "network", "volume"):
                flag = ["-a"] if kind == "container" else []
                found = docker(kind, "ls", *flag, "-q", "--filter", f"label=ecsemu.namespace={namespace}", check=False)
                if found:
                    docker(kind, "rm", *(["-f"] if kind != "network" else []), *found.split(), check=False)
        docker("volume", "rm", "-f", volume, check=False)


def web_service(endpoint: str) -> dict[str, Any]:
    """An ALB listener forwarding to an ``ip`` target group of two awsvpc tasks of the web image."""
    ecs, elbv2 = client("ecs", endpoint), client("elbv2", endpoint)
    lb = elbv2.create_load_balancer(Name="image", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name="image", Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2,
    )["TargetGroups"][0]  # fmt: skip
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=free_port(),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )["Listeners"][0]  # fmt: skip
    ecs.create_cluster(clusterName="image")
    ecs.register_task_definition(
        family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": WEB_IMAGE, "portMappings": [{"containerPort": 8080}], "stopTimeout": 5}],
    )  # fmt: skip
    ecs.create_service(
        cluster="image", serviceName="web", taskDefinition="web", desiredCount=2, launchType="FARGATE",
        networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=0,
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 8080}],
    )  # fmt: skip
    return {"ecs": ecs, "elbv2": elbv2, "tg": tg["TargetGroupArn"], "listener": listener["ListenerArn"]}


def running_tasks(ecs: Any) -> set[str]:
    arns = ecs.list_tasks(cluster="image", serviceName="web", desiredStatus="RUNNING")["taskArns"]
    if not arns:
        return set()
    return {
        t["taskArn"] for t in ecs.describe_tasks(cluster="image", tasks=arns)["tasks"] if t["lastStatus"] == "RUNNING"
    }


def serving(endpoint: str, service: dict[str, Any]) -> int:
    """Wait until the service is steady with two healthy targets and the listener answers on the
    host's loopback; return the listener's bound port."""
    ecs, elbv2 = service["ecs"], service["elbv2"]
    ecs.get_waiter("services_stable").wait(cluster="image", services=["web"], WaiterConfig=WAIT)

    def healthy() -> bool:
        health = elbv2.describe_target_health(TargetGroupArn=service["tg"])["TargetHealthDescriptions"]
        return [d["TargetHealth"]["State"] for d in health] == ["healthy"] * 2

    wait_until(healthy, timeout=90, what="two healthy targets")
    port = int(wait_until(lambda: bound_port(endpoint, service["listener"]), what="the listener to be bound"))
    wait_until(lambda: answer(port), timeout=30, what=f"an answer on 127.0.0.1:{port} from the host")
    return port


def test_image_serves_a_service_behind_its_alb_and_a_new_container_adopts_it(deployment: Deployment) -> None:
    first = deployment.run()
    service = web_service(deployment.endpoint)
    serving(deployment.endpoint, service)
    tasks = running_tasks(service["ecs"])
    assert len(tasks) == 2
    containers = deployment.task_containers()
    assert set(containers.values()) == tasks

    # SIGTERM, well within the documented stop timeout; a durable ecsemu leaves its tasks running.
    assert deployment.stop(first) == 0, deployment.logs(first)
    assert "adopt" in deployment.logs(first).lower(), deployment.logs(first)
    assert deployment.task_containers() == containers

    # A new container on the same volume: same namespace, so the same task containers are adopted.
    deployment.run()
    service = {**service, "ecs": client("ecs", deployment.endpoint), "elbv2": client("elbv2", deployment.endpoint)}
    serving(deployment.endpoint, service)
    assert running_tasks(service["ecs"]) == tasks
    assert deployment.task_containers() == containers

    ecs = service["ecs"]
    ecs.delete_service(cluster="image", service="web", force=True)
    ecs.get_waiter("services_inactive").wait(cluster="image", services=["web"], WaiterConfig=WAIT)
    wait_until(lambda: not deployment.task_containers(), timeout=60, what="the service's containers to be removed")


def test_ephemeral_image_removes_its_tasks_when_stopped(deployment: Deployment) -> None:
    name = deployment.run("ECSEMU_EPHEMERAL=1")
    ecs = client("ecs", deployment.endpoint)
    ecs.create_cluster(clusterName="image")
    ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": WEB_IMAGE, "memory": 64, "stopTimeout": 5}]
    )
    task = ecs.run_task(cluster="image", taskDefinition="web")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(cluster="image", tasks=[task], WaiterConfig=WAIT)
    namespace = docker(
        "ps", "--filter", f"label=com.amazonaws.ecs.task-arn={task}", "--format", '{{.Label "ecsemu.namespace"}}'
    )
    assert namespace
    deployment.namespaces.add(namespace)

    assert deployment.stop(name) == 0, deployment.logs(name)
    assert docker("ps", "-aq", "--filter", f"label=ecsemu.namespace={namespace}") == ""


def test_tasks_of_the_containerised_emulator_read_their_metadata_and_log_to_it(deployment: Deployment) -> None:
    """With the README's flags, ecsemu in its container serves each task's endpoints inside the
    task's namespace, and the task's awslogs output lands in its Logs."""
    name = deployment.run("ECSEMU_EPHEMERAL=1")
    ecs, logs = client("ecs", deployment.endpoint), client("logs", deployment.endpoint)
    ecs.create_cluster(clusterName="inside")
    ecs.register_task_definition(
        family="inside",
        containerDefinitions=[{
            "name": "main", "image": WEB_IMAGE, "memory": 64,
            "command": ["sh", "-c", "wget -qO- $ECS_CONTAINER_METADATA_URI_V4/task || echo wget failed: $?"],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/inside", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "p", "awslogs-create-group": "true"}},
        }],
    )  # fmt: skip
    task_arn = ecs.run_task(cluster="inside", taskDefinition="inside")["tasks"][0]["taskArn"]

    def stopped() -> bool:
        return bool(ecs.describe_tasks(cluster="inside", tasks=[task_arn])["tasks"][0]["lastStatus"] == "STOPPED")

    wait_until(stopped, timeout=90, what="the task to stop")
    streams = logs.describe_log_streams(logGroupName="/inside")["logStreams"]
    assert streams, (ecs.describe_tasks(cluster="inside", tasks=[task_arn])["tasks"][0], deployment.logs(name)[-4000:])
    events = logs.get_log_events(logGroupName="/inside", logStreamName=f"p/main/{task_arn.rsplit('/', 1)[1]}", startFromHead=True)["events"]
    assert events and json.loads(events[0]["message"])["TaskARN"] == task_arn, (events, deployment.logs(name)[-3000:])
