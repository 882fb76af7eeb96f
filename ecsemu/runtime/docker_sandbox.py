"""What a task's containers share: the sandbox, its published ports, the cluster network, volumes.

Vocabulary:
- The *sandbox* is the task's pause container (ECS's container name ``~internal~ecs~pause``).
  It owns the task's network namespace, publishes every port mapping on 127.0.0.1, and
  carries the hostname, extra hosts and DNS settings (Docker refuses those on a container
  that joins another's namespace). The task's containers join it with
  ``network_mode=container:<sandbox name>``; it is stopped last, with SIGKILL. Only tasks of
  several containers have one (``needs_sandbox``): a task of one container holds its own
  namespace, with the same network settings (``standalone``), which halves the containers
  to create, start and stop.
- The *cluster network* ``ecsemu-<cluster>`` is a labelled bridge network every sandbox of
  the cluster joins, so the cluster's tasks reach each other. It is created on demand and
  removed once no managed container of the cluster is left.
- *Task volumes* are labelled named volumes, ``ecsemu-<task id 12>-<volume name>``.

The sandbox image is built locally at first use, from nothing at all (no registry is
reachable): ``pause_elf(arch)`` writes a minimal static ELF executable (one program header,
no sections, no libc) whose whole program blocks in a syscall until a signal, forever:
``pause(2)`` on x86_64; ``ppoll(NULL, 0, NULL, NULL)`` on aarch64, which has no pause. It
installs no signal handlers, so as PID 1 it ignores SIGTERM (hence ``STOPSIGNAL SIGKILL``).
``build_context(arch)`` wraps it in a ``FROM scratch`` build context. Why not busybox, a
shell or the task's own image: a 130-byte binary builds in a fraction of a second anywhere,
needs nothing on the host, runs under any seccomp profile, and is plainly ecsemu's own.
Bump ``SANDBOX_VERSION`` when the machine code changes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any

import docker.errors

from ecsemu.runtime.base import LaunchRefused, TaskLaunch
from ecsemu.runtime.docker_spec import (
    CLUSTER,
    ECS_CLUSTER,
    ECS_TASK_ARN,
    LOOPBACK,
    MANAGED,
    MANAGED_FILTER,
    MIB,
    NAMESPACE,
    NETWORK_MODE,
    ROLE,
    SANDBOX_CONTAINER_NAME,
    TASK_ARN,
    ContainerSpec,
    daemon_message,
    drop_none,
    local_image_candidates,
    owned,
    port_key,
    port_mappings,
    sandbox_docker_name,
    shared_volume_docker_name,
    split_image,
    task_labels,
    volume_docker_name,
)

log = logging.getLogger(__name__)

Record = dict[str, Any]

SANDBOX_VERSION = "1"
SANDBOX_IMAGE = f"ecsemu/sandbox:{SANDBOX_VERSION}"

_LOAD_ADDRESS = 0x400000
_ELF_HEADER_SIZE = 64
_PROGRAM_HEADER_SIZE = 56

# aarch64: loop: mov x0..x4, #0; mov x8, #73 (ppoll); svc #0; b loop
_AARCH64_WORDS = (0xD2800000, 0xD2800001, 0xD2800002, 0xD2800003, 0xD2800004, 0xD2800928, 0xD4000001, 0x17FFFFF9)

# Machine code, position independent, starting at the entry point; with the ELF e_machine.
_CODE = {
    # x86_64: loop: mov eax, 34 (pause); syscall; jmp loop
    "x86_64": (62, bytes.fromhex("b8220000000f05ebf7")),
    "aarch64": (183, struct.pack("<8I", *_AARCH64_WORDS)),
}

# Docker's names for an engine's architecture (``docker version``'s Arch), and uname's.
_ARCH_ALIASES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def normalise_arch(arch: str) -> str:
    try:
        return _ARCH_ALIASES[arch.lower()]
    except KeyError:
        raise ValueError(f"no sandbox binary for architecture {arch!r} (only x86_64 and aarch64)") from None


def pause_elf(arch: str) -> bytes:
    """A static ELF64 executable that waits for signals forever, for ``arch``."""
    machine, code = _CODE[normalise_arch(arch)]
    entry_offset = _ELF_HEADER_SIZE + _PROGRAM_HEADER_SIZE
    size = entry_offset + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, version 1, SysV
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # ET_EXEC
        machine,
        1,  # EV_CURRENT
        _LOAD_ADDRESS + entry_offset,  # e_entry
        _ELF_HEADER_SIZE,  # e_phoff
        0,  # e_shoff: no sections
        0,  # e_flags
        _ELF_HEADER_SIZE,
        _PROGRAM_HEADER_SIZE,
        1,  # e_phnum
        0,
        0,
        0,
    )
    program_header = struct.pack(
        "<IIQQQQQQ",
        1,  # PT_LOAD
        5,  # PF_R | PF_X
        0,  # p_offset: map the whole file
        _LOAD_ADDRESS,
        _LOAD_ADDRESS,
        size,  # p_filesz
        size,  # p_memsz
        0x1000,  # p_align
    )
    return header + program_header + code


DOCKERFILE = """\
FROM scratch
COPY pause /pause
STOPSIGNAL SIGKILL
ENTRYPOINT ["/pause"]
"""


def build_context(arch: str) -> bytes:
    """A tar build context: the Dockerfile above and the pause binary."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (("Dockerfile", DOCKERFILE.encode(), 0o644), ("pause", pause_elf(arch), 0o755)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class SandboxImageError(RuntimeError):
    """The sandbox image could not be built."""


_build_lock = threading.Lock()


def ensure_sandbox_image(api: Any, labels: dict[str, str]) -> str:
    """Build the sandbox image on this engine unless it is there; returns its reference."""
    with _build_lock:
        try:
            api.inspect_image(SANDBOX_IMAGE)
            return SANDBOX_IMAGE
        except docker.errors.ImageNotFound:
            pass
        arch = str(api.version().get("Arch", "amd64"))
        output = api.build(
            fileobj=io.BytesIO(build_context(arch)),
            custom_context=True,
            tag=SANDBOX_IMAGE,
            labels=labels,
            rm=True,
            forcerm=True,
            decode=True,
        )
        errors = [str(chunk["error"]) for chunk in output if isinstance(chunk, dict) and "error" in chunk]
        if errors:
            raise SandboxImageError(f"building {SANDBOX_IMAGE} failed: {'; '.join(errors)}")
        api.inspect_image(SANDBOX_IMAGE)
        return SANDBOX_IMAGE


# --- the sandbox container and its ports (pure) ------------------------------------------


def needs_sandbox(launch: TaskLaunch, always: bool = False) -> bool:
    """A task of several containers shares a sandbox's network namespace; a task of one
    container holds its own (half the containers to create, start and stop) unless ``always``
    (the task's endpoints are served in its namespace, which must exist before it starts)."""
    if launch.network_mode == "host":
        return False
    return len(launch.containers) > 1 or (always and launch.network_mode != "none")


def network_options(launch: TaskLaunch, network: str | None) -> tuple[Record, Record]:
    """The (host config, config) parts that give a task its network: the cluster network,
    ports published on 127.0.0.1, hostname, extra hosts and links, DNS.

    awsvpc: every mapping gets its own dynamic port on 127.0.0.1 (ten tasks may all use 80);
    bridge: a non-zero ``hostPort`` is honoured, else dynamic; none: no network at all.
    """
    published: dict[str, tuple[str, int | None]] = {}
    for container in launch.containers:
        for mapping in port_mappings(container):
            fixed = int(mapping.get("hostPort") or 0) if launch.network_mode != "awsvpc" else 0
            published.setdefault(port_key(mapping), (LOOPBACK, fixed or None))
    hostname = next((c["hostname"] for c in launch.containers if c.get("hostname")), None)
    extra_hosts: dict[str, str] = {}
    for container in launch.containers:
        for link in container.get("links") or []:
            for alias in link.split(":"):
                extra_hosts[alias] = LOOPBACK
        for entry in container.get("extraHosts") or []:
            extra_hosts[entry["hostname"]] = entry["ipAddress"]
    dns = _unique(s for c in launch.containers for s in c.get("dnsServers") or [])
    dns_search = _unique(s for c in launch.containers for s in c.get("dnsSearchDomains") or [])
    host: Record = {"network_mode": network or "none", "port_bindings": published if network else {}}
    if extra_hosts and network:
        host["extra_hosts"] = extra_hosts
    if dns:
        host["dns"] = dns
    if dns_search:
        host["dns_search"] = dns_search
    config: Record = {
        "hostname": hostname,
        "ports": [(int(k.split("/")[0]), k.split("/")[1]) for k in published] if network else None,
    }
    return host, config


def standalone(container_spec: ContainerSpec, launch: TaskLaunch, network: str | None) -> ContainerSpec:
    """A one-container task's container, holding the task's network itself (no sandbox)."""
    host, config = network_options(launch, network)
    return ContainerSpec(
        container_spec.name,
        drop_none({**container_spec.config, **config}),
        {**container_spec.host_config, **host},
    )


def sandbox_spec(launch: TaskLaunch, *, image: str, network: str | None) -> ContainerSpec:
    """The task's pause container: the network namespace, its published ports and names."""
    network_host, network_config = network_options(launch, network)
    host: Record = {
        **network_host,
        "cpu_shares": 2,
        "mem_limit": 6 * MIB,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
    labels = task_labels(launch, SANDBOX_CONTAINER_NAME, "sandbox")
    labels[NETWORK_MODE] = launch.network_mode or "bridge"
    config: Record = {
        "image": image,
        "labels": labels,
        **network_config,
        "stop_signal": "SIGKILL",
        "detach": True,
    }
    return ContainerSpec(sandbox_docker_name(launch.task_id), drop_none(config), host)


def _unique(values: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(values))


def published_ports(summary_ports: list[Record] | None) -> dict[str, int]:
    """A list summary's ``Ports`` to {"8080/tcp": host port} (published ones only)."""
    published: dict[str, int] = {}
    for port in summary_ports or []:
        if port.get("PublicPort"):
            published.setdefault(f"{port['PrivatePort']}/{port.get('Type', 'tcp')}", int(port["PublicPort"]))
    return published


def network_bindings(ports_label: str, published: Mapping[str, int], host_mode: bool) -> tuple[Record, ...]:
    bindings = []
    for key in filter(None, ports_label.split(",")):
        port, protocol = key.split("/")
        host_port = int(port) if host_mode else published.get(key)
        if host_port is None:
            continue
        bindings.append(
            {
                "bindIP": "0.0.0.0" if host_mode else LOOPBACK,
                "containerPort": int(port),
                "hostPort": host_port,
                "protocol": protocol,
            }
        )
    return tuple(bindings)


# --- cluster networks and task volumes -----------------------------------------------------


def network_name(cluster: str) -> str:
    return f"ecsemu-{cluster}"


def cluster_labels(cluster: str) -> dict[str, str]:
    return {MANAGED: "true", ROLE: "network", CLUSTER: cluster, ECS_CLUSTER: cluster}


def volume_create_args(launch: TaskLaunch, volume: Record) -> Record | None:
    """``create_volume`` keywords for a task volume, or None for a host path."""
    if (volume.get("host") or {}).get("sourcePath"):
        return None
    docker_config = volume.get("dockerVolumeConfiguration") or {}
    shared = docker_config.get("scope") == "shared"
    labels = {**(docker_config.get("labels") or {}), MANAGED: "true", ROLE: "volume", CLUSTER: launch.cluster}
    if not shared:
        labels |= {TASK_ARN: launch.task_arn, ECS_TASK_ARN: launch.task_arn}
    return {
        "name": shared_volume_docker_name(volume["name"])
        if shared
        else volume_docker_name(launch.task_id, volume["name"]),
        "driver": docker_config.get("driver") or "local",
        "driver_opts": docker_config.get("driverOpts") or None,
        "labels": labels,
    }


class Networks:
    """The clusters' networks: made on demand, removed once no managed container is left on one.

    A launch holds a network (``joined``) from making sure it exists until its sandbox has
    started, so a removal in between cannot pull it from under the sandbox.
    """

    def __init__(self, api: Any) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._users: dict[str, int] = {}

    @contextlib.contextmanager
    def joined(self, cluster: str) -> Iterator[str]:
        name = network_name(cluster)
        with self._lock:
            if not any(n["Name"] == name for n in self._api.networks(names=[name])):
                self._api.create_network(name, driver="bridge", labels=cluster_labels(cluster), check_duplicate=True)
            self._users[name] = self._users.get(name, 0) + 1
        try:
            yield name
        finally:
            with self._lock:
                self._users[name] -= 1

    def remove_if_unused(self, cluster: str) -> None:
        name = network_name(cluster)
        with self._lock:
            if self._users.get(name) or self._api.containers(
                all=True, filters={"label": [MANAGED_FILTER, f"{CLUSTER}={cluster}"]}
            ):
                return
            for network in self._api.networks(names=[name], filters={"label": MANAGED_FILTER}):
                if network["Name"] == name:
                    with contextlib.suppress(docker.errors.APIError):  # in use by someone else's container
                        self._api.remove_network(network["Id"])


def create_task_volumes(api: Any, launch: TaskLaunch, namespace: str) -> None:
    """Creating a volume that exists is a no-op for Docker, so this is idempotent."""
    for volume in launch.volumes:
        args = volume_create_args(launch, volume)
        if args is not None:
            if namespace and TASK_ARN in args["labels"]:
                args["labels"][NAMESPACE] = namespace
            api.create_volume(**args)


def remove_task_volumes(api: Any, task_arn: str, namespace: str, attempts: int = 10) -> None:
    """Remove the task's volumes; one still held by a container being removed is retried."""
    for volume in api.volumes(filters={"label": [MANAGED_FILTER, f"{TASK_ARN}={task_arn}"]}).get("Volumes") or []:
        if not owned(volume.get("Labels"), namespace):
            continue
        for attempt in range(attempts):
            try:
                api.remove_volume(volume["Name"], force=True)
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:  # 409: in use, for a moment longer
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)


# --- images --------------------------------------------------------------------------------


class Images:
    """The engine's images: found locally, else pulled once at a time per image (a pull is
    shared by every task that waits for it) on a daemon thread, so nothing ever hangs."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._pulls: dict[str, Future[str]] = {}

    def local(self, image: str) -> str | None:
        for candidate in local_image_candidates(image):
            with contextlib.suppress(docker.errors.ImageNotFound):
                self._api.inspect_image(candidate)
                return candidate
        return None

    def pull(self, image: str) -> Future[str]:
        with self._lock:
            pull = self._pulls.get(image)
            if pull is not None:
                return pull
            self._pulls[image] = pull = Future()
        threading.Thread(target=self._pull_into, args=(image, pull), name="ecsemu-pull", daemon=True).start()
        return pull

    def _pull_into(self, image: str, pull: Future[str]) -> None:
        repository, tag = split_image(image)
        try:
            for chunk in self._api.pull(repository, tag=tag, stream=True, decode=True):
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise RuntimeError(f"Error response from daemon: {chunk['error']}")
            pull.set_result(image)
        except docker.errors.APIError as error:
            pull.set_exception(RuntimeError(daemon_message(error)))
        except Exception as error:
            pull.set_exception(error)
        finally:
            with self._lock:
                if self._pulls.get(image) is pull:
                    del self._pulls[image]


class ImageResolution:
    """One task's images: each container's local image, resolved within ``timeout_s``.

    ``ready`` never waits: it returns None once every asked-for container has its image,
    else how long until the deadline; ``wake`` is called when a pull ends. A failed or
    overdue pull raises ``LaunchRefused("CannotPullContainerError: ...")`` naming the first
    container that wanted the image.
    """

    def __init__(self, images: Images, wanted: dict[str, str], timeout_s: float, wake: Callable[[], None]) -> None:
        self._images, self._wanted, self._timeout_s, self._wake = images, wanted, timeout_s, wake
        self.local: dict[str, str] = {}  # container name → local image
        self._pulls: dict[str, Future[str]] = {}
        self._deadline = 0.0
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    def ready(self, containers: list[str]) -> float | None:
        for name in containers:
            image = self._wanted[name]
            if name in self.local or image in self._pulls:
                continue
            if self.started_at is None:
                self.started_at, self._deadline = time.time(), time.monotonic() + self._timeout_s
            found = self._images.local(image)
            if found is not None:
                self.local[name] = found
            else:
                self._pulls[image] = pull = self._images.pull(image)
                pull.add_done_callback(lambda _: self._wake())
        for image, pull in list(self._pulls.items()):
            if pull.done():
                del self._pulls[image]
                if pull.exception() is not None:
                    _say_how_to_get(image, str(pull.exception()))
                    raise LaunchRefused(f"CannotPullContainerError: {pull.exception()}", self._first_wanting(image))
                self.local |= {name: pull.result() for name in containers if self._wanted[name] == image}
        if self._pulls:
            left = self._deadline - time.monotonic()
            if left > 0:
                return left
            image = min(self._pulls)
            reason = f"CannotPullContainerError: pulling {image} did not finish within {self._timeout_s:g}s"
            _say_how_to_get(image, reason)
            raise LaunchRefused(reason, self._first_wanting(image))
        if self.stopped_at is None:
            self.stopped_at = time.time()
        return None

    def _first_wanting(self, image: str) -> str | None:
        return next((name for name, wanted in self._wanted.items() if wanted == image), None)


_told_images: set[str] = set()


def _say_how_to_get(image: str, why: str) -> None:
    """Log once per image why it cannot be had and what to do: the task itself only says
    CannotPullContainerError (as ECS does), which a user offline cannot act on."""
    if image in _told_images:
        return
    _told_images.add(image)
    log.warning(
        "image %s is not in the local Docker engine and cannot be pulled (%s): tasks using it stop with "
        "CannotPullContainerError. Pull it where a registry is reachable (docker pull %s) or build it locally "
        "(docker build -t %s <dir>); the README's \"First steps\" shows a tiny offline image.",
        image, why, image, image,
    )  # fmt: skip
