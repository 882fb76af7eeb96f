"""Pure translation between ECS's words and Docker's, both ways: no I/O, no engine.

Vocabulary:
- A *container spec* (``ContainerSpec``) is what ``APIClient.create_container`` needs for one
  container: a Docker name, the create ``config`` keywords and the ``host_config`` keywords
  (given to ``APIClient.create_host_config``). The sandbox's is in ``docker_sandbox``.
- A *rank* orders a task's containers: 0 when a container depends on nothing, else one more
  than the highest rank it depends on (``dependsOn``, ``links``, ``volumesFrom``). Containers
  are created and started by ascending rank and stopped by descending rank.
- A *namespace* partitions one engine between runtimes (``owned``): a runtime sees only
  managed objects whose ``ecsemu.namespace`` label equals its own ("" = no label).
- A *launch failure* (``base.LaunchRefused``) is final and worded as ECS words container reasons:
  ``CannotPullContainerError: ...``, ``CannotCreateContainerError: ...``,
  ``CannotStartContainerError: ...``, ``ResourceInitializationError: ...``.

Invariants:
- Names derive from the task id only, so a second launch (after a restart, too) finds the
  first one's objects: ``ecsemu-<first 12 of task id>-<container name>``; the sandbox is
  ``ecsemu-<12>.pause`` (a dot, which no ECS container name may contain).
- Every object carries ``ecsemu.managed=true`` and the task's identity labels; a task
  definition's ``dockerLabels`` never override them.
- Options that would hand a task the host are refused (``refusal``) unless the runtime was
  built with ``allow_host_access``: the API refuses them at registration already; this is
  the second line, for definitions stored while the emulator allowed them. Docker volumes
  count as the host's unless they use the ``local`` driver with no options or a plain tmpfs
  (``local_volume_is_private``).
- An ``environmentFiles`` value that is an absolute path is read from the local disk (an
  ecsemu extension, allowed only with ``allow_host_access``; ``ecsemu.runtime.env_files``
  reads it within bounds); any other value is an S3 object, which cannot be fetched offline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ecsemu.runtime import container_env, docker_logs
from ecsemu.runtime.base import ContainerState, Health, TaskLaunch

Record = dict[str, Any]

# Labels. ecsemu.* are ours; com.amazonaws.ecs.* are the ones the ECS agent sets.
MANAGED = "ecsemu.managed"
TASK_ARN = "ecsemu.task-arn"
CLUSTER = "ecsemu.cluster"
CONTAINER_NAME = "ecsemu.container-name"
ROLE = "ecsemu.role"  # container | sandbox | volume | network
PORTS = "ecsemu.ports"  # "8080/tcp,53/udp": the container's own port mappings
RANK = "ecsemu.rank"
STOP_TIMEOUT = "ecsemu.stop-timeout"
ESSENTIAL = "ecsemu.essential"
NETWORK_MODE = "ecsemu.network-mode"
NAMESPACE = "ecsemu.namespace"  # set only by a runtime given a namespace: see ``owned``
ECS_TASK_ARN = "com.amazonaws.ecs.task-arn"
ECS_CONTAINER_NAME = "com.amazonaws.ecs.container-name"
ECS_CLUSTER = "com.amazonaws.ecs.cluster"
ECS_FAMILY = "com.amazonaws.ecs.task-definition-family"
ECS_REVISION = "com.amazonaws.ecs.task-definition-version"
MANAGED_FILTER = f"{MANAGED}=true"

SANDBOX_CONTAINER_NAME = "~internal~ecs~pause"
LOOPBACK = "127.0.0.1"
MIB = 1024 * 1024
NS_PER_S = 1_000_000_000
DEFAULT_STOP_TIMEOUT_S = 30
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
# ECS's health check defaults (the API reference's), so an image's own HEALTHCHECK never leaks.
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}

_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<rest>.+)$")
_EXITED = re.compile(r"^Exited \((?P<code>-?\d+)\)")
_TIMESTAMP = re.compile(r"^(?P<base>[0-9-]+T[0-9:]+)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)?$")


def daemon_message(error: Exception) -> str:
    """A Docker SDK error as the CLI (and so ECS's reasons) words it."""
    explanation = getattr(error, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode(errors="replace")
    return f"Error response from daemon: {explanation}" if explanation else str(error)


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    config: Record
    host_config: Record


# --- names and labels --------------------------------------------------------------------


def short_id(task_id: str) -> str:
    return task_id.replace("-", "")[:12]


def container_docker_name(task_id: str, container: str) -> str:
    return f"ecsemu-{short_id(task_id)}-{container}"


def sandbox_docker_name(task_id: str) -> str:
    return f"ecsemu-{short_id(task_id)}.pause"


def volume_docker_name(task_id: str, volume: str) -> str:
    return f"ecsemu-{short_id(task_id)}-{volume}"


def shared_volume_docker_name(volume: str) -> str:
    return f"ecsemu-shared-{volume}"


def owned(labels: Mapping[str, str] | None, namespace: str) -> bool:
    """Whether a runtime of ``namespace`` ("" when none) owns an object with these labels.

    Runtimes of different namespaces share an engine without seeing each other's tasks
    (a test suite beside a running emulator, or two emulators).
    """
    if not labels:
        return False
    return labels.get(MANAGED) == "true" and labels.get(NAMESPACE, "") == namespace


def in_namespace(container_spec: ContainerSpec, namespace: str) -> ContainerSpec:
    if not namespace:
        return container_spec
    labels = {**container_spec.config["labels"], NAMESPACE: namespace}
    return ContainerSpec(container_spec.name, {**container_spec.config, "labels": labels}, container_spec.host_config)


def task_labels(launch: TaskLaunch, container_name: str, role: str) -> dict[str, str]:
    return {
        MANAGED: "true",
        ROLE: role,
        TASK_ARN: launch.task_arn,
        CLUSTER: launch.cluster,
        CONTAINER_NAME: container_name,
        ECS_TASK_ARN: launch.task_arn,
        ECS_CONTAINER_NAME: container_name,
        ECS_CLUSTER: launch.cluster,
        ECS_FAMILY: launch.family,
        ECS_REVISION: str(launch.revision),
    }


# --- images ------------------------------------------------------------------------------


def local_image_candidates(image: str) -> list[str]:
    """Where a task definition's image may already be on this engine, best first.

    An ECR reference ``<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` also matches a
    local ``<repo>:<tag>``, so images built locally stand in for pushed ones.
    """
    candidates = [image]
    match = _ECR.match(image)
    if match:
        candidates.append(match["rest"])
    return candidates


def split_image(image: str) -> tuple[str, str | None]:
    """(repository, tag or digest) as the pull endpoint wants them; a bare name means latest."""
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


# --- task settings -----------------------------------------------------------------------


def parse_task_cpu(value: str | int | None) -> int | None:
    """Task cpu in CPU units: "256", "1 vCPU", ".25 vcpu" → 256, 1024, 256."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    if text.endswith("vcpu"):
        return round(float(text[:-4].strip()) * 1024)
    return int(float(text))


def parse_task_memory(value: str | int | None) -> int | None:
    """Task memory in MiB: "512", "1 GB", "0.5gb" → 512, 1024, 512."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    if text.endswith("gb"):
        return round(float(text[:-2].strip()) * 1024)
    if text.endswith("mb"):
        text = text[:-2].strip()
    return int(float(text))


def ranks(containers: list[Record]) -> dict[str, int]:
    """Each container's rank; raises ``ValueError`` on an unknown name or a cycle."""
    edges = {c["name"]: sorted(_dependencies(c)) for c in containers}
    for name, deps in edges.items():
        for dep in deps:
            if dep not in edges:
                raise ValueError(f"container {name} refers to container {dep}, which is not in the task definition")
    result: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(name: str) -> int:
        if name in result:
            return result[name]
        if name in visiting:
            raise ValueError(f"container dependencies form a cycle through {name}")
        visiting.add(name)
        rank = 1 + max((visit(dep) for dep in edges[name]), default=-1)
        visiting.discard(name)
        result[name] = rank
        return rank

    for name in edges:
        visit(name)
    return result


def _dependencies(container: Record) -> set[str]:
    deps = {d["containerName"] for d in container.get("dependsOn") or []}
    deps |= {v["sourceContainer"] for v in container.get("volumesFrom") or []}
    deps |= {link.split(":", 1)[0] for link in container.get("links") or []}
    return deps


def start_order(containers: list[Record]) -> list[str]:
    order = ranks(containers)
    names = [c["name"] for c in containers]
    return sorted(names, key=lambda n: (order[n], names.index(n)))


def refusal(launch: TaskLaunch, allow_host_access: bool) -> str | None:
    """Why this launch cannot run here, as the container reason ECS would give; else None."""
    try:
        ranks(launch.containers)
    except ValueError as error:
        return f"CannotCreateContainerError: {error}"
    volumes = {v["name"]: v for v in launch.volumes}
    for container in launch.containers:
        for mount in container.get("mountPoints") or []:
            if mount.get("sourceVolume") not in volumes:
                return f"CannotCreateContainerError: container {container['name']} mounts volume {mount.get('sourceVolume')}, which the task does not define"
    if allow_host_access:
        return None
    needs = " needs the emulator's --allow-host-access (ecsemu does not hand a task the host by default)"
    if launch.network_mode == "host":
        return "ResourceInitializationError: network mode host" + needs
    for volume in launch.volumes:
        if (volume.get("host") or {}).get("sourcePath"):
            return f"ResourceInitializationError: host volume {volume['name']}" + needs
        if not local_volume_is_private(volume.get("dockerVolumeConfiguration")):
            return f"ResourceInitializationError: Docker volume {volume['name']} (its driver or driver options)" + needs
    for container in launch.containers:
        linux = container.get("linuxParameters") or {}
        if container.get("privileged"):
            return f"CannotCreateContainerError: privileged container {container['name']}" + needs
        if (linux.get("capabilities") or {}).get("add"):
            return f"CannotCreateContainerError: added capabilities of container {container['name']}" + needs
        if linux.get("devices"):
            return f"CannotCreateContainerError: devices of container {container['name']}" + needs
        if any(container_env.env_file_source(entry)[0] == "local" for entry in container.get("environmentFiles") or []):
            return f"ResourceInitializationError: local environment files of container {container['name']}" + needs
        if docker_logs.log_refusal(container):
            return f"{docker_logs.log_refusal(container)};" + needs
    return None


def local_volume_is_private(docker_config: Record | None) -> bool:
    """Whether a ``dockerVolumeConfiguration`` makes a volume of the engine's own: the
    ``local`` driver with no options or a plain tmpfs (no bind, no path, no device). Any other
    driver is a plugin that can do anything."""
    if not docker_config:
        return True
    if (docker_config.get("driver") or "local") != "local":
        return False
    options = docker_config.get("driverOpts")
    if not options:
        return True
    if str(options.get("type", "")).strip().lower() != "tmpfs":
        return False
    return not any("/" in f"{k}={v}" or "bind" in f"{k}={v}".lower() for k, v in options.items())


# --- container specs ---------------------------------------------------------------------


def port_key(mapping: Record) -> str:
    return f"{int(mapping['containerPort'])}/{(mapping.get('protocol') or 'tcp').lower()}"


def port_mappings(container: Record) -> list[Record]:
    return [m for m in container.get("portMappings") or [] if m.get("containerPort") is not None]


def healthcheck(check: Record | None) -> Record:
    if not check:
        return {"test": ["NONE"]}  # ECS ignores an image's own HEALTHCHECK
    merged = {**HEALTH_DEFAULTS, **{k: v for k, v in check.items() if v is not None}}
    return {
        "test": list(merged["command"]),
        "interval": int(merged["interval"]) * NS_PER_S,
        "timeout": int(merged["timeout"]) * NS_PER_S,
        "retries": int(merged["retries"]),
        "start_period": int(merged["startPeriod"]) * NS_PER_S,
    }


def volume_names(launch: TaskLaunch) -> dict[str, str]:
    """Each task volume's Docker source: a named volume, or a host path (host access only)."""
    names = {}
    for volume in launch.volumes:
        name = volume["name"]
        source_path = (volume.get("host") or {}).get("sourcePath")
        docker_config = volume.get("dockerVolumeConfiguration") or {}
        if source_path:
            names[name] = str(source_path)
        elif docker_config.get("scope") == "shared":
            names[name] = shared_volume_docker_name(name)
        else:
            names[name] = volume_docker_name(launch.task_id, name)
    return names


def container_spec(
    launch: TaskLaunch,
    container: Record,
    *,
    image: str,
    env: Mapping[str, str],
    rank: int,
    host_cpus: int | None = None,
) -> ContainerSpec:
    """The create arguments for one of the task's containers (not the sandbox)."""
    name = container["name"]
    host_mode = launch.network_mode == "host"
    labels = {str(k): str(v) for k, v in (container.get("dockerLabels") or {}).items()}
    labels |= task_labels(launch, name, "container")
    labels |= docker_logs.log_labels(container)
    labels |= {
        PORTS: ",".join(port_key(m) for m in port_mappings(container)),
        RANK: str(rank),
        ESSENTIAL: "true" if container.get("essential", True) else "false",
        NETWORK_MODE: launch.network_mode or "bridge",
    }
    if container.get("stopTimeout") is not None:
        labels[STOP_TIMEOUT] = str(int(container["stopTimeout"]))
    config: Record = {
        "image": image,
        "command": container.get("command") or None,
        "entrypoint": container.get("entryPoint") or None,
        "environment": dict(env),
        "labels": labels,
        "working_dir": container.get("workingDirectory") or None,
        "user": container.get("user") or None,
        "healthcheck": healthcheck(container.get("healthCheck")),
        "stop_timeout": int(container.get("stopTimeout") or DEFAULT_STOP_TIMEOUT_S),
        "stdin_open": bool(container.get("interactive")),
        "tty": bool(container.get("pseudoTerminal")),
        "detach": True,
    }
    host: Record = {
        "network_mode": "host" if host_mode else f"container:{sandbox_docker_name(launch.task_id)}",
        "cpu_shares": max(2, int(container.get("cpu") or 0)),
        "read_only": bool(container.get("readonlyRootFilesystem")),
    }
    host |= _memory(launch, container)
    task_cpu = parse_task_cpu(launch.cpu)
    if task_cpu:
        cpus = task_cpu / 1024 if host_cpus is None else min(task_cpu / 1024, host_cpus)
        host["nano_cpus"] = int(cpus * NS_PER_S)
    if container.get("ulimits"):
        host["ulimits"] = [
            {"name": u["name"], "soft": int(u["softLimit"]), "hard": int(u["hardLimit"])} for u in container["ulimits"]
        ]
    host |= _linux_parameters(container.get("linuxParameters") or {})
    host |= docker_logs.log_config(container)
    if container.get("privileged"):
        host["privileged"] = True
    binds = _binds(launch, container)
    if binds:
        host["binds"] = binds
    volumes_from = [
        f"{container_docker_name(launch.task_id, v['sourceContainer'])}:{'ro' if v.get('readOnly') else 'rw'}"
        for v in container.get("volumesFrom") or []
    ]
    if volumes_from:
        host["volumes_from"] = volumes_from
    return ContainerSpec(container_docker_name(launch.task_id, name), drop_none(config), host)


def _memory(launch: TaskLaunch, container: Record) -> Record:
    host: Record = {}
    memory = container.get("memory")
    reservation = container.get("memoryReservation")
    if not memory and not reservation:
        memory = parse_task_memory(launch.memory)  # the task's limit stands in for the container's
    linux = container.get("linuxParameters") or {}
    if memory:
        host["mem_limit"] = int(memory) * MIB
        # No swap unless asked: an over-limit container is OOM-killed, as on Fargate.
        host["memswap_limit"] = (int(memory) + int(linux.get("maxSwap") or 0)) * MIB
        if linux.get("swappiness") is not None:
            host["mem_swappiness"] = int(linux["swappiness"])
    if reservation and (not memory or int(reservation) < int(memory)):
        host["mem_reservation"] = int(reservation) * MIB
    return host


def _linux_parameters(linux: Record) -> Record:
    host: Record = {}
    if linux.get("initProcessEnabled"):
        host["init"] = True
    if linux.get("sharedMemorySize"):
        host["shm_size"] = int(linux["sharedMemorySize"]) * MIB
    if linux.get("tmpfs"):
        host["tmpfs"] = {
            t["containerPath"]: ",".join([f"size={int(t['size'])}m", *(t.get("mountOptions") or [])])
            for t in linux["tmpfs"]
        }
    capabilities = linux.get("capabilities") or {}
    if capabilities.get("add"):
        host["cap_add"] = list(capabilities["add"])
    if capabilities.get("drop"):
        host["cap_drop"] = list(capabilities["drop"])
    if linux.get("devices"):
        host["devices"] = [
            f"{d['hostPath']}:{d.get('containerPath') or d['hostPath']}:{_device_permissions(d.get('permissions'))}"
            for d in linux["devices"]
        ]
    return host


def _device_permissions(permissions: list[str] | None) -> str:
    if not permissions:
        return "rwm"
    return "".join(flag for flag, word in (("r", "read"), ("w", "write"), ("m", "mknod")) if word in permissions)


def _binds(launch: TaskLaunch, container: Record) -> list[str]:
    sources = volume_names(launch)
    return [
        f"{sources[m['sourceVolume']]}:{m['containerPath']}:{'ro' if m.get('readOnly') else 'rw'}"
        for m in container.get("mountPoints") or []
        if m.get("sourceVolume") in sources and m.get("containerPath")
    ]


def drop_none(config: Record) -> Record:
    return {k: v for k, v in config.items() if v is not None}


# --- dependencies ------------------------------------------------------------------------

Verdict = Literal["wait", "ok", "fail"]


def dependency_verdict(condition: str, state: ContainerState | None, exit_code: int | None, health: Health) -> Verdict:
    """Whether a dependency in ``state`` lets its dependent start (ECS's four conditions).

    START: started at all. COMPLETE: exited. SUCCESS: exited 0 (any other code can never
    resolve). HEALTHY: reports healthy; a dependency that exited before that never will.
    """
    started = state in ("running", "exited")
    if condition == "START":
        return "ok" if started else "wait"
    if condition == "COMPLETE":
        return "ok" if state == "exited" else "wait"
    if condition == "SUCCESS":
        if state != "exited":
            return "wait"
        return "ok" if exit_code == 0 else "fail"
    if condition == "HEALTHY":
        if state == "exited":
            return "fail"
        return "ok" if state == "running" and health == "HEALTHY" else "wait"
    return "fail"


def dependency_failure(dependency: str, target: str, condition: str, exit_code: int | None) -> str:
    if condition == "SUCCESS":
        return (
            f"CannotStartContainerError: dependency graph: failed to resolve container ordering dependency "
            f"[{dependency}] for target [{target}] as dependency did not exit successfully. (exit code {exit_code})"
        )
    if condition == "TIMEOUT":
        return f"CannotStartContainerError: dependency graph: container ordering dependency [{dependency}] for target [{target}] has timed out."
    return f"CannotStartContainerError: dependency graph: failed to resolve the container ordering dependency [{dependency}] for target [{target}] ({condition})"


# --- observation -------------------------------------------------------------------------

_STATES: dict[str, ContainerState] = {
    "created": "created",
    "running": "running",
    "restarting": "running",
    "paused": "running",
    "exited": "exited",
    "dead": "exited",
    "removing": "exited",
}


def container_state(docker_state: str) -> ContainerState:
    return _STATES.get(docker_state.lower(), "exited")


def exit_code_from_status(status: str) -> int | None:
    """Docker's list summary says "Exited (3) 2 seconds ago"."""
    match = _EXITED.match(status)
    return int(match["code"]) if match else None


def health_from_status(status: str) -> Health:
    """ "Up 5 seconds (healthy)", "(unhealthy)", "(health: starting)" → ECS's three words."""
    if status.endswith("(healthy)"):
        return "HEALTHY"
    if status.endswith("(unhealthy)"):
        return "UNHEALTHY"
    return "UNKNOWN"


def docker_time(value: str | None) -> float | None:
    """Docker's RFC 3339 nanosecond timestamps to epoch seconds; its zero time to None."""
    if not value or value.startswith("0001-01-01"):
        return None
    match = _TIMESTAMP.match(value)
    if match is None:
        return None
    fraction = (match["fraction"] or "0")[:6]
    zone = match["zone"] or "Z"
    stamp = datetime.fromisoformat(f"{match['base']}.{fraction:0<6}{'+00:00' if zone == 'Z' else zone}")
    return stamp.timestamp()


def stop_seconds(labels: Mapping[str, str], default_s: float) -> int:
    """Docker's stop grace in whole seconds: the container's stopTimeout, else the task's."""
    value = labels.get(STOP_TIMEOUT)
    return int(value) if value else max(0, math.ceil(default_s))
