"""The docker runtime's pure parts: ECS container definitions → Docker arguments, and back.

No engine needed: Docker's own argument classes (``HostConfig``, ``ContainerConfig``) check
that what ``docker_spec`` produces is what the SDK accepts.
"""

from __future__ import annotations

import io
import struct
import tarfile
from concurrent.futures import Future
from typing import Any

import docker.types
import pytest

from ecsemu.runtime import container_env
from ecsemu.runtime import docker_sandbox as sandboxes
from ecsemu.runtime import docker_spec as spec
from ecsemu.runtime.base import LaunchRefused, TaskLaunch

API_VERSION = "1.41"
TASK_ID = "0123456789abcdef0123456789abcdef"
ARN = f"arn:aws:ecs:us-east-1:123456789012:task/blue/{TASK_ID}"


def launch(*containers: dict[str, Any], network_mode: str = "awsvpc", **extra: Any) -> TaskLaunch:
    return TaskLaunch(
        task_arn=ARN, task_id=TASK_ID, cluster="blue", family="web", revision=7,
        network_mode=network_mode, containers=list(containers), **extra,
    )  # fmt: skip


def web(**extra: Any) -> dict[str, Any]:
    return {"name": "web", "image": "ecsemu-test/web:latest", "essential": True, **extra}


def build(task: TaskLaunch, name: str = "web", **kwargs: Any) -> spec.ContainerSpec:
    container = next(c for c in task.containers if c["name"] == name)
    env = container_env.environment(task, container, "eu-west-1", kwargs.pop("from_files", {}))
    return spec.container_spec(task, container, image=container["image"], env=env, rank=0, **kwargs)


def accepted_by_sdk(built: spec.ContainerSpec) -> None:
    host_config = docker.types.HostConfig(API_VERSION, **built.host_config)
    docker.types.ContainerConfig(API_VERSION, **{"command": None, **built.config, "host_config": host_config})


# --- names and labels --------------------------------------------------------------------


def test_names_derive_from_the_task_id_only() -> None:
    assert spec.container_docker_name(TASK_ID, "web") == "ecsemu-0123456789ab-web"
    assert spec.sandbox_docker_name(TASK_ID) == "ecsemu-0123456789ab.pause"
    assert spec.volume_docker_name(TASK_ID, "data") == "ecsemu-0123456789ab-data"
    assert sandboxes.network_name("blue") == "ecsemu-blue"


def test_every_container_carries_ecs_and_ecsemu_labels_that_docker_labels_cannot_override() -> None:
    labels = build(launch(web(dockerLabels={"team": "a", spec.TASK_ARN: "forged", spec.ECS_CLUSTER: "x"}))).config["labels"]
    assert labels["team"] == "a"
    assert labels[spec.MANAGED] == "true"
    assert labels[spec.TASK_ARN] == labels[spec.ECS_TASK_ARN] == ARN
    assert labels[spec.CLUSTER] == labels[spec.ECS_CLUSTER] == "blue"
    assert labels[spec.CONTAINER_NAME] == labels[spec.ECS_CONTAINER_NAME] == "web"
    assert labels[spec.ECS_FAMILY] == "web"
    assert labels[spec.ECS_REVISION] == "7"


def test_namespaces_partition_one_engine() -> None:
    built = spec.in_namespace(build(launch(web())), "tests")
    labels = built.config["labels"]
    assert labels[spec.NAMESPACE] == "tests"
    assert spec.owned(labels, "tests") and not spec.owned(labels, "") and not spec.owned(labels, "other")
    plain = build(launch(web())).config["labels"]
    assert spec.owned(plain, "") and not spec.owned(plain, "tests")
    assert not spec.owned({"team": "a"}, "") and not spec.owned(None, "")
    assert spec.in_namespace(build(launch(web())), "").config["labels"] == plain


# --- container specs ---------------------------------------------------------------------


def test_a_plain_container_joins_the_sandbox_and_keeps_the_images_defaults() -> None:
    built = build(launch(web()))
    accepted_by_sdk(built)
    assert built.name == "ecsemu-0123456789ab-web"
    assert built.host_config["network_mode"] == "container:ecsemu-0123456789ab.pause"
    assert "command" not in built.config and "entrypoint" not in built.config
    assert built.config["healthcheck"] == {"test": ["NONE"]}  # ECS ignores an image's HEALTHCHECK
    assert built.host_config["cpu_shares"] == 2


def test_environment_order_files_then_definition_then_identity() -> None:
    task = launch(web(environment=[{"name": "A", "value": "def"}, {"name": "AWS_REGION", "value": "mine"}]))
    env = build(task, from_files={"A": "file", "B": "file"}).config["environment"]
    assert env["A"] == "def" and env["B"] == "file"
    assert env["AWS_REGION"] == "mine" and env["AWS_DEFAULT_REGION"] == "us-east-1"  # the task ARN's region
    assert env["ECS_TASK_ARN"] == ARN and env["ECS_CONTAINER_NAME"] == "web"


def test_process_fields() -> None:
    built = build(
        launch(web(
            command=["sh", "-c", "exit 3"], entryPoint=["/bin/busybox"], workingDirectory="/app", user="1000:1000",
            readonlyRootFilesystem=True, stopTimeout=7, interactive=True, pseudoTerminal=True,
            ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
            linuxParameters={
                "initProcessEnabled": True, "sharedMemorySize": 64,
                "tmpfs": [{"containerPath": "/run", "size": 16, "mountOptions": ["noexec"]}],
                "capabilities": {"drop": ["NET_RAW"]},
            },
        ))
    )  # fmt: skip
    accepted_by_sdk(built)
    config, host = built.config, built.host_config
    assert config["command"] == ["sh", "-c", "exit 3"] and config["entrypoint"] == ["/bin/busybox"]
    assert config["working_dir"] == "/app" and config["user"] == "1000:1000"
    assert config["stop_timeout"] == 7 and config["labels"][spec.STOP_TIMEOUT] == "7"
    assert config["stdin_open"] and config["tty"]
    assert host["read_only"] and host["init"]
    assert host["shm_size"] == 64 * spec.MIB
    assert host["tmpfs"] == {"/run": "size=16m,noexec"}
    assert host["cap_drop"] == ["NET_RAW"]
    assert host["ulimits"] == [{"name": "nofile", "soft": 1024, "hard": 2048}]


def test_memory_limit_reservation_and_no_swap() -> None:
    host = build(launch(web(memory=16, memoryReservation=8, cpu=256))).host_config
    assert host["mem_limit"] == host["memswap_limit"] == 16 * spec.MIB
    assert host["mem_reservation"] == 8 * spec.MIB
    assert host["cpu_shares"] == 256
    swap = build(launch(web(memory=64, linuxParameters={"maxSwap": 32, "swappiness": 10}))).host_config
    assert swap["memswap_limit"] == 96 * spec.MIB and swap["mem_swappiness"] == 10


def test_task_level_cpu_and_memory_apply_when_the_container_has_none() -> None:
    host = build(launch(web(), cpu="1 vCPU", memory="0.5 GB"), host_cpus=8).host_config
    assert host["mem_limit"] == 512 * spec.MIB
    assert host["nano_cpus"] == 1_000_000_000
    clamped = build(launch(web(), cpu="4096"), host_cpus=2).host_config
    assert clamped["nano_cpus"] == 2_000_000_000  # Docker refuses more CPUs than the host has
    own = build(launch(web(memoryReservation=128), memory="1024")).host_config
    assert "mem_limit" not in own and own["mem_reservation"] == 128 * spec.MIB


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (
            {"command": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/health || exit 1"], "interval": 5, "retries": 2},
            {"test": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/health || exit 1"], "interval": 5_000_000_000,
             "timeout": 5_000_000_000, "retries": 2, "start_period": 0},
        ),
        (
            {"command": ["CMD", "/bin/true"], "interval": 10, "timeout": 2, "retries": 5, "startPeriod": 30},
            {"test": ["CMD", "/bin/true"], "interval": 10_000_000_000, "timeout": 2_000_000_000, "retries": 5,
             "start_period": 30_000_000_000},
        ),
    ],
)  # fmt: skip
def test_health_checks_take_ecs_defaults_and_nanoseconds(check: dict[str, Any], expected: dict[str, Any]) -> None:
    built = build(launch(web(healthCheck=check)))
    accepted_by_sdk(built)
    assert built.config["healthcheck"] == expected


def test_volumes_mount_points_and_volumes_from() -> None:
    task = launch(
        web(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}, {"sourceVolume": "cache", "containerPath": "/c", "readOnly": True}]),
        {"name": "side", "image": "x", "volumesFrom": [{"sourceContainer": "web", "readOnly": True}]},
        volumes=[{"name": "data"}, {"name": "cache", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}}],
    )
    built = build(task)
    accepted_by_sdk(built)
    assert built.host_config["binds"] == ["ecsemu-0123456789ab-data:/data:rw", "ecsemu-shared-cache:/c:ro"]
    assert build(task, "side").host_config["volumes_from"] == ["ecsemu-0123456789ab-web:ro"]
    task_volume = sandboxes.volume_create_args(task, task.volumes[0])
    assert task_volume is not None and task_volume["name"] == "ecsemu-0123456789ab-data"
    assert task_volume["labels"][spec.TASK_ARN] == ARN and task_volume["labels"][spec.MANAGED] == "true"
    shared = sandboxes.volume_create_args(task, task.volumes[1])
    assert shared is not None and shared["name"] == "ecsemu-shared-cache" and spec.TASK_ARN not in shared["labels"]


def test_host_network_mode_has_no_sandbox_and_binds_the_container_port() -> None:
    built = build(launch(web(portMappings=[{"containerPort": 8080}]), network_mode="host"))
    assert built.host_config["network_mode"] == "host"
    assert sandboxes.network_bindings(built.config["labels"][spec.PORTS], {}, host_mode=True) == (
        {"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 8080, "protocol": "tcp"},
    )


# --- the sandbox -------------------------------------------------------------------------


def test_awsvpc_sandbox_publishes_every_mapping_on_a_dynamic_loopback_port() -> None:
    task = launch(
        web(portMappings=[{"containerPort": 80, "hostPort": 80}, {"containerPort": 53, "protocol": "udp"}]),
        {"name": "side", "image": "x", "portMappings": [{"containerPort": 9000}]},
    )
    sandbox = sandboxes.sandbox_spec(task, image=sandboxes.SANDBOX_IMAGE, network="ecsemu-blue")
    host_config = docker.types.HostConfig(API_VERSION, **sandbox.host_config)
    assert sandbox.name == "ecsemu-0123456789ab.pause"
    assert sandbox.host_config["port_bindings"] == {"80/tcp": ("127.0.0.1", None), "53/udp": ("127.0.0.1", None), "9000/tcp": ("127.0.0.1", None)}
    assert host_config["PortBindings"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert sandbox.config["stop_signal"] == "SIGKILL"
    assert sandbox.config["labels"][spec.ECS_CONTAINER_NAME] == spec.SANDBOX_CONTAINER_NAME
    assert sandbox.config["labels"][spec.ROLE] == "sandbox"


def test_bridge_sandbox_honours_fixed_host_ports_links_hostname_and_extra_hosts() -> None:
    task = launch(
        web(portMappings=[{"containerPort": 8080, "hostPort": 18080}, {"containerPort": 9090, "hostPort": 0}],
            hostname="web.local", links=["db:database"], extraHosts=[{"hostname": "api", "ipAddress": "10.0.0.1"}]),
        {"name": "db", "image": "x"},
        network_mode="bridge",
    )  # fmt: skip
    sandbox = sandboxes.sandbox_spec(task, image="i", network="ecsemu-blue")
    docker.types.HostConfig(API_VERSION, **sandbox.host_config)
    assert sandbox.host_config["port_bindings"] == {"8080/tcp": ("127.0.0.1", 18080), "9090/tcp": ("127.0.0.1", None)}
    assert sandbox.host_config["extra_hosts"] == {"db": "127.0.0.1", "database": "127.0.0.1", "api": "10.0.0.1"}
    assert sandbox.config["hostname"] == "web.local"


def test_none_network_mode_publishes_nothing() -> None:
    sandbox = sandboxes.sandbox_spec(launch(web(portMappings=[{"containerPort": 80}]), network_mode="none"), image="i", network=None)
    assert sandbox.host_config["network_mode"] == "none" and sandbox.host_config["port_bindings"] == {}


def test_network_bindings_come_from_the_sandboxs_published_ports() -> None:
    published = sandboxes.published_ports(
        [{"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 49153, "Type": "tcp"}, {"PrivatePort": 9000, "Type": "tcp"}]
    )
    assert published == {"8080/tcp": 49153}
    assert sandboxes.network_bindings("8080/tcp,9000/tcp", published, host_mode=False) == (
        {"bindIP": "127.0.0.1", "containerPort": 8080, "hostPort": 49153, "protocol": "tcp"},
    )


def test_pause_binaries_are_minimal_static_elf_executables() -> None:
    for arch, machine in (("amd64", 62), ("x86_64", 62), ("arm64", 183), ("aarch64", 183)):
        binary = sandboxes.pause_elf(arch)
        assert binary[:4] == b"\x7fELF" and binary[4] == 2  # 64-bit
        e_type, e_machine, _, e_entry = struct.unpack_from("<HHIQ", binary, 16)
        assert (e_type, e_machine) == (2, machine)
        assert e_entry == 0x400000 + 120 and len(binary) < 200
    with pytest.raises(ValueError, match="architecture"):
        sandboxes.pause_elf("s390x")
    with tarfile.open(fileobj=io.BytesIO(sandboxes.build_context("amd64"))) as tar:
        assert sorted(tar.getnames()) == ["Dockerfile", "pause"]
        member = tar.getmember("pause")
        assert member.mode & 0o111
        dockerfile = tar.extractfile("Dockerfile")
        assert dockerfile is not None and b"FROM scratch" in dockerfile.read()


# --- ordering, refusals, dependencies ----------------------------------------------------


def test_ranks_follow_depends_on_volumes_from_and_links() -> None:
    containers = [
        {"name": "app", "dependsOn": [{"containerName": "proxy", "condition": "HEALTHY"}], "links": ["init"]},
        {"name": "proxy", "volumesFrom": [{"sourceContainer": "init"}]},
        {"name": "init"},
        {"name": "lone"},
    ]
    assert spec.ranks(containers) == {"app": 2, "proxy": 1, "init": 0, "lone": 0}
    assert spec.start_order(containers) == ["init", "lone", "proxy", "app"]
    with pytest.raises(ValueError, match="cycle"):
        spec.ranks([{"name": "a", "dependsOn": [{"containerName": "b"}]}, {"name": "b", "dependsOn": [{"containerName": "a"}]}])
    with pytest.raises(ValueError, match="not in the task definition"):
        spec.ranks([{"name": "a", "dependsOn": [{"containerName": "ghost"}]}])


@pytest.mark.parametrize(
    ("task", "words"),
    [
        (launch(web(), network_mode="host"), "network mode host"),
        (launch(web(privileged=True)), "privileged"),
        (launch(web(linuxParameters={"capabilities": {"add": ["SYS_ADMIN"]}})), "capabilities"),
        (launch(web(linuxParameters={"devices": [{"hostPath": "/dev/fuse"}]})), "devices"),
        (launch(web(), volumes=[{"name": "h", "host": {"sourcePath": "/etc"}}]), "host volume"),
        (
            launch(web(), volumes=[{"name": "b", "dockerVolumeConfiguration": {"driverOpts": {"type": "none", "o": "bind", "device": "/"}}}]),
            "Docker volume b",
        ),
        (launch(web(), volumes=[{"name": "p", "dockerVolumeConfiguration": {"driver": "vieux/sshfs"}}]), "Docker volume p"),
        (launch(web(environmentFiles=[{"value": "/etc/shadow", "type": "s3"}])), "local environment files"),
    ],
)
def test_host_access_is_refused_unless_allowed(task: TaskLaunch, words: str) -> None:
    reason = spec.refusal(task, allow_host_access=False)
    assert reason is not None and words in reason and "--allow-host-access" in reason
    assert spec.refusal(task, allow_host_access=True) is None


def test_allowed_host_access_is_passed_to_docker() -> None:
    task = launch(web(privileged=True, linuxParameters={"capabilities": {"add": ["NET_ADMIN"]}, "devices": [{"hostPath": "/dev/null", "permissions": ["read"]}]}))
    host = build(task).host_config
    assert host["privileged"] and host["cap_add"] == ["NET_ADMIN"] and host["devices"] == ["/dev/null:/dev/null:r"]


def test_refusal_of_broken_definitions() -> None:
    unknown_volume = spec.refusal(launch(web(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}])), False)
    assert unknown_volume is not None and unknown_volume.startswith("CannotCreateContainerError:")
    assert spec.refusal(launch(web()), False) is None


@pytest.mark.parametrize(
    ("condition", "state", "exit_code", "health", "verdict"),
    [
        ("START", None, None, "UNKNOWN", "wait"),
        ("START", "created", None, "UNKNOWN", "wait"),
        ("START", "running", None, "UNKNOWN", "ok"),
        ("START", "exited", 1, "UNKNOWN", "ok"),
        ("COMPLETE", "running", None, "UNKNOWN", "wait"),
        ("COMPLETE", "exited", 1, "UNKNOWN", "ok"),
        ("SUCCESS", "running", None, "UNKNOWN", "wait"),
        ("SUCCESS", "exited", 0, "UNKNOWN", "ok"),
        ("SUCCESS", "exited", 3, "UNKNOWN", "fail"),
        ("HEALTHY", "running", None, "UNKNOWN", "wait"),
        ("HEALTHY", "running", None, "UNHEALTHY", "wait"),
        ("HEALTHY", "running", None, "HEALTHY", "ok"),
        ("HEALTHY", "exited", 0, "UNKNOWN", "fail"),
    ],
)
def test_dependency_conditions(condition: str, state: Any, exit_code: int | None, health: Any, verdict: str) -> None:
    assert spec.dependency_verdict(condition, state, exit_code, health) == verdict


def test_dependency_failures_read_like_the_ecs_agents() -> None:
    reason = spec.dependency_failure("init", "app", "SUCCESS", 3)
    assert reason.startswith("CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [init] for target [app]")


# --- images, task sizes ------------------------------------------------------------------


def test_images() -> None:
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecsemu-test/web:v2"
    assert spec.local_image_candidates(ecr) == [ecr, "ecsemu-test/web:v2"]
    assert spec.local_image_candidates("nginx") == ["nginx"]
    assert spec.split_image("nginx") == ("nginx", "latest")
    assert spec.split_image("localhost:5000/a/b:1.2") == ("localhost:5000/a/b", "1.2")
    assert spec.split_image("a/b@sha256:abc") == ("a/b", "sha256:abc")


@pytest.mark.parametrize(("text", "units"), [("256", 256), ("1 vCPU", 1024), (".25 vcpu", 256), ("", None), (None, None)])
def test_task_cpu(text: str | None, units: int | None) -> None:
    assert spec.parse_task_cpu(text) == units


@pytest.mark.parametrize(("text", "mib"), [("512", 512), ("1 GB", 1024), ("0.5gb", 512), ("2048 MB", 2048), ("", None)])
def test_task_memory(text: str, mib: int | None) -> None:
    assert spec.parse_task_memory(text) == mib


# --- observation -------------------------------------------------------------------------


def test_list_summaries_parse() -> None:
    assert spec.exit_code_from_status("Exited (3) 2 seconds ago") == 3
    assert spec.exit_code_from_status("Exited (137) About a minute ago") == 137
    assert spec.exit_code_from_status("Up 3 seconds") is None
    assert spec.health_from_status("Up 5 seconds (healthy)") == "HEALTHY"
    assert spec.health_from_status("Up 5 seconds (unhealthy)") == "UNHEALTHY"
    assert spec.health_from_status("Up 1 second (health: starting)") == "UNKNOWN"
    assert [spec.container_state(s) for s in ("created", "running", "paused", "exited", "dead")] == [
        "created", "running", "running", "exited", "exited",
    ]  # fmt: skip
    assert spec.docker_time("0001-01-01T00:00:00Z") is None
    assert spec.docker_time("2024-05-01T10:00:00.123456789Z") == pytest.approx(1714557600.123456)
    assert spec.docker_time("2024-05-01T12:00:00+02:00") == 1714557600.0


def test_stop_grace_is_the_containers_stop_timeout_else_the_tasks() -> None:
    assert spec.stop_seconds({spec.STOP_TIMEOUT: "2"}, 30) == 2
    assert spec.stop_seconds({}, 4.2) == 5


# --- image resolution, with a fake engine ---------------------------------------------------


class FakeImages:
    def __init__(self, local: set[str]) -> None:
        self.local_images = local
        self.pulls: dict[str, Future[str]] = {}

    def local(self, image: str) -> str | None:
        return image if image in self.local_images else None

    def pull(self, image: str) -> Future[str]:
        return self.pulls.setdefault(image, Future())


def resolution(images: FakeImages, timeout_s: float = 60.0) -> tuple[sandboxes.ImageResolution, list[int]]:
    woken: list[int] = []
    wanted = {"web": "here:1", "side": "away:1"}
    return sandboxes.ImageResolution(images, wanted, timeout_s, lambda: woken.append(1)), woken  # type: ignore[arg-type]


def test_local_images_are_used_as_they_are_and_pulls_wake_the_launch() -> None:
    images = FakeImages({"here:1"})
    resolved, woken = resolution(images)
    assert resolved.ready(["web", "side"]) is not None  # waiting for away:1
    assert resolved.local == {"web": "here:1"} and resolved.started_at is not None and resolved.stopped_at is None
    images.pulls["away:1"].set_result("away:1")
    assert woken == [1]
    assert resolved.ready(["web", "side"]) is None
    assert resolved.local == {"web": "here:1", "side": "away:1"} and resolved.stopped_at is not None


def test_a_failed_pull_is_a_cannot_pull_container_error_naming_the_container() -> None:
    images = FakeImages(set())
    resolved, _ = resolution(images)
    resolved.ready(["web", "side"])
    images.pulls["away:1"].set_exception(RuntimeError("Error response from daemon: pull access denied for away"))
    with pytest.raises(LaunchRefused) as failure:
        resolved.ready(["web", "side"])
    assert failure.value.reason == "CannotPullContainerError: Error response from daemon: pull access denied for away"
    assert failure.value.container == "side"


def test_a_pull_past_its_deadline_fails_the_launch() -> None:
    resolved, _ = resolution(FakeImages({"here:1"}), timeout_s=0.0)
    with pytest.raises(LaunchRefused, match="CannotPullContainerError: pulling away:1 did not finish within 0s"):
        resolved.ready(["web", "side"])
