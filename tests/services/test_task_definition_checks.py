"""Unit tests of ecsemu.services.ecs.task_definition_checks: the checks RegisterTaskDefinition
makes, each answering the ClientException (and the words) ECS answers with."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ecsemu.services.ecs.errors import ClientException
from ecsemu.services.ecs.task_definition_checks import check_task_definition, cpu_units, memory_mib


def container(name: str = "app", **members: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx:latest", "memory": 128, **members}


def ec2(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return {"family": "web", "containerDefinitions": list(containers) or [container()], **members}


def fargate(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
    }
    return ec2(*containers, **{**base, **members})


def refusal(params: dict[str, Any], *, allow_host_access: bool = False) -> str:
    before = copy.deepcopy(params)
    with pytest.raises(ClientException) as caught:
        check_task_definition(params, allow_host_access=allow_host_access)
    assert params == before  # a check never edits what it checks
    assert caught.value.code == "ClientException"
    assert caught.value.status_code == 400
    return caught.value.message


def accepted(params: dict[str, Any], *, allow_host_access: bool = False) -> None:
    before = copy.deepcopy(params)
    check_task_definition(params, allow_host_access=allow_host_access)
    assert params == before


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "units"),
    [("256", 256), (1024, 1024), ("1 vCPU", 1024), ("0.25 vcpu", 256), ("2vCPU", 2048), (" 4 VCPU ", 4096),
     ("abc", None), ("1 GB", None), ("-256", None), ("", None)],
)  # fmt: skip
def test_cpu_units(value: Any, units: int | None) -> None:
    assert cpu_units(value) == units


@pytest.mark.parametrize(
    ("value", "mib"),
    [("512", 512), (2048, 2048), ("2 GB", 2048), ("0.5 gb", 512), ("1GB", 1024), ("lots", None), ("1 vCPU", None)],
)
def test_memory_mib(value: Any, mib: int | None) -> None:
    assert memory_mib(value) == mib


# -- what passes ------------------------------------------------------------------------------


def test_a_plain_ec2_definition_passes() -> None:
    accepted(ec2())


def test_task_level_memory_makes_container_memory_optional() -> None:
    accepted(ec2({"name": "app", "image": "nginx"}, memory="512"))


def test_memory_reservation_alone_is_enough() -> None:
    accepted(ec2({"name": "app", "image": "nginx", "memoryReservation": 64}))


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [("256", "512"), ("256", "2048"), ("512", "4096"), ("1024", "8192"), ("1 vCPU", "2 GB"), ("2048", "16384"),
     ("4096", "30720"), ("8192", "16384"), ("8192", "61440"), ("16384", "32768"), ("16384", "122880")],
)  # fmt: skip
def test_every_fargate_size_in_the_table_passes(cpu: str, memory: str) -> None:
    accepted(fargate({"name": "app", "image": "nginx"}, cpu=cpu, memory=memory))


def test_awsvpc_with_matching_or_omitted_host_ports_passes() -> None:
    accepted(
        ec2(
            container(portMappings=[{"containerPort": 80, "hostPort": 80}, {"containerPort": 81}]), networkMode="awsvpc"
        )
    )


def test_dependencies_and_links_between_known_containers_pass() -> None:
    accepted(
        ec2(
            container("app", links=["db:database"], dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
            container("db"),
            container("init", essential=False),
        )
    )


def test_container_cpu_may_sum_to_the_task_cpu() -> None:
    accepted(ec2(container("a", cpu=128), container("b", cpu=128), cpu="256", memory="512"))


# -- what ECS refuses -------------------------------------------------------------------------


def test_empty_container_list() -> None:
    assert refusal({"family": "web", "containerDefinitions": []}) == "Container list cannot be empty."


def test_invalid_task_sizes() -> None:
    assert refusal(ec2(cpu="lots")) == "Invalid 'cpu' setting for task."
    assert refusal(ec2(memory="much")) == "Invalid 'memory' setting for task."


def test_fargate_needs_awsvpc() -> None:
    assert refusal(fargate(networkMode="bridge")) == "Fargate only supports network mode 'awsvpc'."
    params = fargate()
    del params["networkMode"]
    assert refusal(params) == "Fargate only supports network mode 'awsvpc'."


def test_fargate_needs_task_cpu_and_memory() -> None:
    without_cpu = fargate()
    del without_cpu["cpu"]
    assert refusal(without_cpu) == "Fargate requires that 'cpu' be defined at the task level."
    without_memory = fargate()
    del without_memory["memory"]
    assert refusal(without_memory) == "Fargate requires that 'memory' be defined at the task level."


@pytest.mark.parametrize(
    ("cpu", "memory"), [("256", "4096"), ("512", "512"), ("1024", "1024"), ("3072", "8192"), ("8192", "18432")]
)
def test_fargate_sizes_outside_the_table(cpu: str, memory: str) -> None:
    message = refusal(fargate(cpu=cpu, memory=memory))
    assert message.startswith(f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory.")


def test_container_memory_is_required_without_task_memory() -> None:
    message = refusal(ec2({"name": "web-1", "image": "nginx"}))
    assert (
        message
        == "Invalid setting for container 'web-1'. At least one of 'memory' or 'memoryReservation' must be specified."
    )


def test_memory_reservation_above_memory() -> None:
    message = refusal(ec2(container(memory=128, memoryReservation=256)))
    assert (
        message == "Invalid setting for container 'app'. 'memory' must be greater than or equal to 'memoryReservation'."
    )


def test_container_memory_above_task_memory() -> None:
    assert (
        refusal(ec2(container(memory=1024), memory="512"))
        == "The 'memory' setting for container 'app' is greater than for the task."
    )


def test_container_cpu_above_task_cpu() -> None:
    message = refusal(ec2(container("a", cpu=200), container("b", cpu=100), cpu="256", memory="512"))
    assert message == "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."


def test_awsvpc_host_port_must_match_container_port() -> None:
    message = refusal(ec2(container(portMappings=[{"containerPort": 80, "hostPort": 8080}]), networkMode="awsvpc"))
    assert message == "When networkMode=awsvpc, the host ports and container ports in port mappings must match."


def test_host_mode_port_must_match_when_host_access_is_allowed() -> None:
    params = ec2(container(portMappings=[{"containerPort": 80, "hostPort": 8080}]), networkMode="host")
    message = refusal(params, allow_host_access=True)
    assert message == "When networkMode=host, the host ports and container ports in port mappings must match."


def test_bridge_mode_may_map_any_host_port() -> None:
    accepted(ec2(container(portMappings=[{"containerPort": 80, "hostPort": 8080}]), networkMode="bridge"))


def test_container_names_must_be_unique() -> None:
    assert (
        refusal(ec2(container("app"), container("app"))) == "Container names must be unique within a Task Definition."
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Container.name should not be null or empty."), ("my app", "Container.name contains invalid characters.")],
)
def test_container_names_must_be_valid(name: str, message: str) -> None:
    assert refusal(ec2(container(name))) == message


def test_container_image_is_required() -> None:
    assert refusal(ec2({"name": "app", "memory": 128})) == "Container.image should not be null or empty."


def test_at_least_one_essential_container() -> None:
    message = refusal(ec2(container("a", essential=False), container("b", essential=False)))
    assert message == "A task definition must have at least one essential container."


def test_depends_on_an_unknown_container() -> None:
    message = refusal(ec2(container(dependsOn=[{"containerName": "ghost", "condition": "START"}])))
    assert message == "Cannot depend on container + 'ghost' because it does not exist"


def test_depends_on_itself() -> None:
    assert (
        refusal(ec2(container(dependsOn=[{"containerName": "app", "condition": "START"}])))
        == "Container 'app' cannot depend on itself."
    )


@pytest.mark.parametrize("condition", ["SUCCESS", "COMPLETE"])
def test_success_or_complete_dependency_on_an_essential_container(condition: str) -> None:
    params = ec2(container("app", dependsOn=[{"containerName": "init", "condition": condition}]), container("init"))
    assert (
        refusal(params) == "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container"
    )


def test_links_to_an_unknown_container() -> None:
    message = refusal(ec2(container(links=["db:database"])))
    assert message == "Container 'app' links to container 'db' which does not exist in this task definition."


def test_links_are_refused_in_awsvpc_mode() -> None:
    assert (
        refusal(ec2(container("app", links=["db"]), container("db"), networkMode="awsvpc"))
        == "Links are not supported when networkMode=awsvpc."
    )


# -- host access ------------------------------------------------------------------------------

HOST_ACCESS = {
    "host network": ec2(networkMode="host"),
    "host pid": ec2(pidMode="host"),
    "host ipc": ec2(ipcMode="host"),
    "host path volume": ec2(volumes=[{"name": "root", "host": {"sourcePath": "/"}}]),
    "privileged": ec2(container(privileged=True)),
    "capabilities": ec2(container(linuxParameters={"capabilities": {"add": ["SYS_ADMIN"]}})),
    "devices": ec2(container(linuxParameters={"devices": [{"hostPath": "/dev/kvm"}]})),
    "docker volume bound to a host directory": ec2(
        volumes=[{"name": "v", "dockerVolumeConfiguration": {"driver": "local", "driverOpts": {"type": "none", "o": "bind", "device": "/etc"}}}]
    ),
    "docker volume of a block device": ec2(
        volumes=[{"name": "v", "dockerVolumeConfiguration": {"driverOpts": {"type": "ext4", "device": "/dev/sda1"}}}]
    ),
    "docker volume overlaying the host": ec2(
        volumes=[{"name": "v", "dockerVolumeConfiguration": {"driverOpts": {"type": "overlay", "o": "lowerdir=/"}}}]
    ),
    "tmpfs with a bind option": ec2(
        volumes=[{"name": "v", "dockerVolumeConfiguration": {"driverOpts": {"type": "tmpfs", "o": "rbind"}}}]
    ),
    "docker volume plugin": ec2(volumes=[{"name": "v", "dockerVolumeConfiguration": {"driver": "rexray/ebs"}}]),
    "local environment file": ec2(container(environmentFiles=[{"value": "/etc/shadow", "type": "s3"}])),
}


@pytest.mark.parametrize("params", HOST_ACCESS.values(), ids=HOST_ACCESS.keys())
def test_host_access_is_refused_unless_allowed(params: dict[str, Any]) -> None:
    assert "ecsemu refuses it unless started with --allow-host-access." in refusal(params)
    accepted(params, allow_host_access=True)


def test_host_access_refusals_name_only_what_the_request_gave() -> None:
    """Nothing about the host: the same words whether the named path exists or not."""
    messages = {
        refusal(ec2(container(environmentFiles=[{"value": path, "type": "s3"}]))).replace(path, "<p>")
        for path in ("/etc/passwd", "/no/such/file.env")
    }
    messages |= {
        refusal(ec2(volumes=[{"name": "v", "dockerVolumeConfiguration": {"driverOpts": {"type": "none", "o": "bind", "device": path}}}]))
        for path in ("/etc", "/no/such/dir")
    }
    assert len(messages) == 2, messages
    assert not any(word in m.lower() for m in messages for word in ("exist", "found", "permission", "denied"))


def test_harmless_neighbours_of_host_access_pass() -> None:
    accepted(ec2(pidMode="task", ipcMode="none"))
    accepted(
        ec2(
            volumes=[
                {"name": "plain", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}},
                {"name": "shared", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}},
                {"name": "ram", "dockerVolumeConfiguration": {"driverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=64m"}}},
            ]
        )
    )
    accepted(ec2(container(environmentFiles=[{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}])))
    accepted(ec2(volumes=[{"name": "scratch"}, {"name": "docker", "host": {}}]))
    accepted(
        ec2(
            container(privileged=False, linuxParameters={"capabilities": {"drop": ["ALL"]}, "initProcessEnabled": True})
        )
    )


# -- logging ----------------------------------------------------------------------------------

AWSLOGS = {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}


def awslogs(**options: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": options}


def test_awslogs_with_its_options_passes() -> None:
    accepted(ec2(container(logConfiguration=awslogs(**AWSLOGS))))
    accepted(
        fargate(
            {"name": "app", "image": "nginx", "logConfiguration": awslogs(**AWSLOGS)},
            executionRoleArn="arn:aws:iam::1:role/x",
        )
    )
    accepted(ec2(container(logConfiguration={"logDriver": "json-file"})))


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({}, "awslogs-region, awslogs-group"),
        ({"awslogs-group": "g"}, "awslogs-region"),
        ({"awslogs-region": "r"}, "awslogs-group"),
    ],
)
def test_awslogs_requires_region_and_group(options: dict[str, str], missing: str) -> None:
    assert (
        refusal(ec2(container(logConfiguration=awslogs(**options))))
        == f"Log driver awslogs requires options: {missing}"
    )


def test_awslogs_on_fargate_needs_an_execution_role() -> None:
    params = fargate({"name": "app", "image": "nginx", "logConfiguration": awslogs(**AWSLOGS)})
    assert (
        refusal(params) == "Fargate requires task definition to have execution role ARN to support log driver awslogs."
    )
