"""The checks ECS makes when a task definition is registered, as pure functions.

Each check raises the ClientException ECS answers with; messages follow what ECS sends.
Options that would hand a task the host are refused unless the emulator allows them
(``--allow-host-access``): host network, PID and IPC namespaces, host-path volumes, Docker
volumes whose driver could mount anything of the host (a driver other than ``local``, since a
plugin can do anything, or ``local`` driver options other than a plain tmpfs), privileged
containers, added capabilities, devices, and environment files named by a local path (an
ecsemu extension: ECS reads them from S3). ``host_access_refusal`` says why, in a text that
names only what the request itself gave: never whether a host path exists or can be read.
"""

from __future__ import annotations

import re
from typing import Any

from ecsemu.services.ecs.errors import ClientException

# Fargate's task sizes: cpu units → the memory sizes (MiB) allowed with it.
_FARGATE_SIZES: dict[int, set[int]] = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4097, 1024)),
    1024: set(range(2048, 8193, 1024)),
    2048: set(range(4096, 16385, 1024)),
    4096: set(range(8192, 30721, 1024)),
    8192: set(range(16384, 61441, 4096)),
    16384: set(range(32768, 122881, 8192)),
}
_VCPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vcpu\s*$", re.IGNORECASE)
_GB = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*gb\s*$", re.IGNORECASE)
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")


def cpu_units(value: Any) -> int | None:
    """Task cpu as units: "1024", 1024 or "1 vCPU"; None when it is not a size."""
    text = str(value)
    if text.isdigit():
        return int(text)
    match = _VCPU.match(text)
    return int(float(match.group(1)) * 1024) if match else None


def memory_mib(value: Any) -> int | None:
    """Task memory in MiB: "2048", 2048 or "2 GB"; None when it is not a size."""
    text = str(value)
    if text.isdigit():
        return int(text)
    match = _GB.match(text)
    return int(float(match.group(1)) * 1024) if match else None


def check_task_definition(params: dict[str, Any], *, allow_host_access: bool) -> None:
    containers: list[dict[str, Any]] = params.get("containerDefinitions") or []
    if not containers:
        raise ClientException("Container list cannot be empty.")
    network_mode = params.get("networkMode")
    fargate = "FARGATE" in params.get("requiresCompatibilities", [])
    task_cpu = params.get("cpu")
    task_memory = params.get("memory")
    if task_cpu is not None and cpu_units(task_cpu) is None:
        raise ClientException("Invalid 'cpu' setting for task.")
    if task_memory is not None and memory_mib(task_memory) is None:
        raise ClientException("Invalid 'memory' setting for task.")
    if fargate:
        _check_fargate(network_mode, task_cpu, task_memory)
        _check_fargate_namespaces(params)
    _check_containers(containers, network_mode, task_cpu, task_memory, fargate)
    _check_logging(containers, fargate=fargate, execution_role=params.get("executionRoleArn"))
    if not allow_host_access:
        _check_host_access(params)


def _check_fargate(network_mode: str | None, task_cpu: Any, task_memory: Any) -> None:
    if network_mode != "awsvpc":
        raise ClientException("Fargate only supports network mode 'awsvpc'.")
    if task_cpu is None:
        raise ClientException("Fargate requires that 'cpu' be defined at the task level.")
    if task_memory is None:
        raise ClientException("Fargate requires that 'memory' be defined at the task level.")
    cpu, memory = cpu_units(task_cpu), memory_mib(task_memory)
    if cpu not in _FARGATE_SIZES or memory not in _FARGATE_SIZES[cpu]:
        raise ClientException(
            f"No Fargate configuration exists for given values: {task_cpu} CPU, {task_memory} memory. "
            "See the Amazon ECS documentation for the valid values."
        )


def _check_fargate_namespaces(params: dict[str, Any]) -> None:
    """Fargate's own refusals of namespace modes, whatever ``--allow-host-access`` says."""
    if params.get("pidMode") == "host":
        raise ClientException(
            "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'."
        )
    if params.get("ipcMode") is not None:
        raise ClientException("Tasks using the Fargate launch type do not support ipcMode.")


def _check_containers(
    containers: list[dict[str, Any]], network_mode: str | None, task_cpu: Any, task_memory: Any, fargate: bool
) -> None:
    names = [c.get("name", "") for c in containers]
    for name in names:
        if not _CONTAINER_NAME.match(name):
            raise ClientException(
                "Container.name should not be null or empty." if not name else "Container.name contains invalid characters."
            )
    if len(set(names)) != len(names):
        raise ClientException("Container names must be unique within a Task Definition.")
    known = set(names)
    essentials = {c["name"] for c in containers if c.get("essential", True)}
    if not essentials:
        raise ClientException("A task definition must have at least one essential container.")
    total_cpu = 0
    for container in containers:
        name = container["name"]
        if not container.get("image"):
            raise ClientException("Container.image should not be null or empty.")
        if task_memory is None and not fargate and not container.get("memory") and not container.get("memoryReservation"):
            raise ClientException(
                f"Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified."
            )
        if container.get("memory") and container.get("memoryReservation") and container["memoryReservation"] > container["memory"]:
            raise ClientException(
                f"Invalid setting for container '{name}'. 'memory' must be greater than or equal to 'memoryReservation'."
            )
        task_mib = memory_mib(task_memory) if task_memory is not None else None
        if task_mib is not None and int(container.get("memory") or 0) > task_mib:
            raise ClientException(f"The 'memory' setting for container '{name}' is greater than for the task.")
        total_cpu += int(container.get("cpu") or 0)
        _check_ports(container, network_mode)
        for dependency in container.get("dependsOn", []):
            other = dependency.get("containerName")
            if other not in known:
                raise ClientException(f"Cannot depend on container + '{other}' because it does not exist")
            if other == name:
                raise ClientException(f"Container '{name}' cannot depend on itself.")
            if dependency.get("condition") in ("SUCCESS", "COMPLETE") and other in essentials:
                raise ClientException("A dependency container with SUCCESS or COMPLETE condition cannot be an essential container")
        for link in container.get("links", []):
            if network_mode == "awsvpc":
                raise ClientException("Links are not supported when networkMode=awsvpc.")
            if link.split(":", 1)[0] not in known:
                raise ClientException(f"Container '{name}' links to container '{link.split(':', 1)[0]}' which does not exist in this task definition.")  # fmt: skip
    units = cpu_units(task_cpu) if task_cpu is not None else None
    if units is not None and total_cpu > units:
        raise ClientException("The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.")


# Options the awslogs driver cannot do without, in the order ECS names them.
_AWSLOGS_REQUIRED = ("awslogs-region", "awslogs-group")


def _check_logging(containers: list[dict[str, Any]], *, fargate: bool, execution_role: str | None) -> None:
    for container in containers:
        logging = container.get("logConfiguration") or {}
        if logging.get("logDriver") != "awslogs":
            continue
        options = logging.get("options") or {}
        missing = [option for option in _AWSLOGS_REQUIRED if not options.get(option)]
        if missing:
            raise ClientException(f"Log driver awslogs requires options: {', '.join(missing)}")
        if fargate and not execution_role:
            raise ClientException("Fargate requires task definition to have execution role ARN to support log driver awslogs.")


def _check_ports(container: dict[str, Any], network_mode: str | None) -> None:
    for mapping in container.get("portMappings", []):
        container_port = mapping.get("containerPort")
        host_port = mapping.get("hostPort")
        if network_mode in ("awsvpc", "host") and host_port not in (None, container_port):
            if network_mode == "awsvpc":
                raise ClientException("When networkMode=awsvpc, the host ports and container ports in port mappings must match.")
            raise ClientException("When networkMode=host, the host ports and container ports in port mappings must match.")


_HOST_ACCESS_HINT = " ecsemu refuses it unless started with --allow-host-access."


def _check_host_access(params: dict[str, Any]) -> None:
    """Refuse what would hand a task the host, unless the emulator was told to allow it."""
    reason = host_access_refusal(params)
    if reason is not None:
        raise ClientException(reason + _HOST_ACCESS_HINT)


def host_access_refusal(params: dict[str, Any]) -> str | None:
    """Why a task definition (RegisterTaskDefinition's input) would reach the host; else None."""
    if params.get("networkMode") == "host":
        return "networkMode 'host' gives the task the host's network."
    if params.get("pidMode") == "host":
        return "pidMode 'host' gives the task the host's processes."
    if params.get("ipcMode") == "host":
        return "ipcMode 'host' gives the task the host's IPC namespace."
    for volume in params.get("volumes") or []:
        reason = _volume_refusal(volume)
        if reason is not None:
            return reason
    for container in params.get("containerDefinitions") or []:
        name = container.get("name")
        if container.get("privileged"):
            return f"Container '{name}' is privileged."
        linux = container.get("linuxParameters") or {}
        if (linux.get("capabilities") or {}).get("add"):
            return f"Container '{name}' adds Linux capabilities."
        if linux.get("devices"):
            return f"Container '{name}' maps host devices."
        if local_environment_files(container.get("environmentFiles")):
            return f"Container '{name}' reads an environment file from a local path."
    return None


def local_environment_files(entries: Any) -> bool:
    """Whether ``environmentFiles`` names a file by a local path rather than an S3 ARN."""
    return any(isinstance(e, dict) and str(e.get("value") or "").startswith("/") for e in entries or [])


def _volume_refusal(volume: dict[str, Any]) -> str | None:
    name = volume.get("name")
    if (volume.get("host") or {}).get("sourcePath"):
        return f"Volume '{name}' mounts a host path."
    docker = volume.get("dockerVolumeConfiguration")
    if not docker:
        return None
    driver = docker.get("driver") or "local"
    if driver != "local":
        return f"Volume '{name}' uses the Docker volume driver '{driver}': only the 'local' driver is allowed."
    if not tmpfs_only(docker.get("driverOpts")):
        return f"Volume '{name}' has 'local' driver options that could mount a host path or device: only a tmpfs is allowed."
    return None


def tmpfs_only(options: Any) -> bool:
    """Whether ``local`` driver options make at most a tmpfs: none at all, or ``type: tmpfs``
    with no bind option and no path anywhere (``type: none, o: bind, device: /dir`` binds a
    host directory; ``type: overlay, o: lowerdir=/`` shows one; ``device: /dev/sda1`` mounts
    a disk)."""
    if not options:
        return True
    if not isinstance(options, dict):
        return False
    if str(options.get("type", "")).strip().lower() != "tmpfs":
        return False
    for key, value in options.items():
        text = f"{key}={value}".lower()
        if "/" in text or "bind" in text:
            return False
    return True
