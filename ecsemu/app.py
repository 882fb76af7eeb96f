"""Wires the parts together: store, runtime, reconciler, providers, gateway, HTTP server.

``Emulator`` is the whole running thing; the command line and the tests both use it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

from waitress.server import create_server

from ecsemu.config import Config
from ecsemu.dashboard.state import dashboard_state
from ecsemu.gateway.app import GatewayConfig, create_app, tasks_gateway
from ecsemu.lb.engine import LoadBalancerEngine
from ecsemu.lb.sync import LoadBalancerSync
from ecsemu.model.clock import ScalingClock
from ecsemu.model.logs import LogStore
from ecsemu.reconcile.loop import Reconciler
from ecsemu.reconcile.task_lifecycle import TaskSettings
from ecsemu.runtime import netns
from ecsemu.runtime.base import ContainerRuntime, TaskHooks, UsageReader
from ecsemu.runtime.simulated import SimulatedRuntime
from ecsemu.scaling.collector import Collector
from ecsemu.scaling.loop import ScalingLoop
from ecsemu.services.autoscaling.provider import ApplicationAutoScalingProvider
from ecsemu.services.cloudwatch.provider import CloudWatchProvider
from ecsemu.services.ecs.base import Settings
from ecsemu.services.ecs.provider import EcsProvider
from ecsemu.services.elbv2.provider import Elbv2Provider
from ecsemu.services.elbv2.service_link import Elbv2ServiceLink
from ecsemu.services.logs.provider import LogsProvider
from ecsemu.services.secretsmanager.provider import SecretsManagerProvider
from ecsemu.services.sqs.provider import SqsProvider
from ecsemu.services.ssm.provider import SsmProvider
from ecsemu.state.files import DataDirectoryError, private_directory, private_file, write_private_text
from ecsemu.state.mapping import StoreMapping
from ecsemu.state.store import Store
from ecsemu.taskenv import tokens
from ecsemu.taskenv.awslogs import AwsLogsWriter
from ecsemu.taskenv.endpoints import TaskEndpoints, TaskReader
from ecsemu.taskenv.environment import TaskEnvironment
from ecsemu.taskenv.relay import EndpointRelay

log = logging.getLogger("ecsemu")


class HttpServer:
    """The gateway's HTTP server: waitress (keep-alive, a pool of worker threads), bound at
    build time so the port is known before serving; ``run`` blocks until ``shutdown``."""

    THREADS = 8
    MAX_BODY_BYTES = 4 * 1024 * 1024
    """What waitress buffers of one request at most (it answers 413 beyond); the protocols'
    own bounds are lower and answered in AWS's shape."""

    def __init__(self, host: str, port: int, app: Any, threads: int = THREADS) -> None:
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="ecsemu",
            max_request_body_size=self.MAX_BODY_BYTES,
            # Bodies and answers stay in memory (requests at most MAX_BODY_BYTES; the largest
            # answers, a page of 10,000 log events, a few MiB), never in temporary files.
            inbuf_overflow=self.MAX_BODY_BYTES,
            outbuf_overflow=4 * self.MAX_BODY_BYTES,
        )
        self.host = host
        self.port = int(self._server.effective_port)

    def run(self) -> None:
        self._server.run()

    def shutdown(self) -> None:
        """Close every socket from the server's own loop; ``run`` then returns."""

        def close_all() -> None:
            for channel in list(self._server._map.values()):
                channel.close()

        try:
            self._server.trigger.pull_trigger(close_all)
        except OSError:
            # The loop's wake-up pipe is already gone (seen at test teardown, cause not found):
            # close the sockets from here; the loop then finds nothing left and returns.
            log.warning("the HTTP server's wake-up pipe was closed; closing its sockets directly")
            close_all()

    def close(self) -> None:
        self._server.task_dispatcher.shutdown(timeout=5)


def instance_namespace(config: Config) -> str:
    """This emulator's label value on the Docker objects it creates.

    Two emulators on one engine never touch each other's containers. The value lives in the
    data directory, so a restarted emulator adopts what it started before; an ephemeral one
    gets a fresh value.
    """
    if config.ephemeral:
        return "e-" + secrets.token_hex(6)
    path = private_directory(config.data_dir) / "instance-id"
    if not path.exists():
        write_private_text(path, "d-" + secrets.token_hex(6) + "\n")
    else:
        private_file(path)
    try:
        return path.read_text().strip()
    except OSError as error:
        raise DataDirectoryError(f"{path}: {error.strerror or error}") from error


WILDCARDS = ("", "0.0.0.0", "::", "[::]", "*")
TASK_SERVER_THREADS = 4


def answered_hosts(config: Config) -> tuple[str, ...]:
    """The Host names answered besides loopback and localhost: ``--allowed-host``'s, and the
    address ecsemu was told to listen on unless it is a wildcard (a page cannot make a browser
    send that name without being served from it). The task server also answers the tasks'
    endpoint address (it exists only inside tasks)."""
    if config.host.strip() in WILDCARDS:
        return config.allowed_hosts
    return (*config.allowed_hosts, config.host)


def task_environment(config: Config, store: Store) -> tuple[TaskEnvironment, EndpointRelay | None]:
    """The task environment for the docker runtime; its endpoints are served inside tasks only
    when asked (the default) and this process may enter network namespaces (root)."""
    serves = config.task_endpoints and netns.available()
    if config.task_endpoints and not serves:
        log.warning(
            "task metadata, credentials and AWS endpoints are not served inside tasks: ecsemu may not enter their "
            "network namespaces (it needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN and the host's PID namespace)"
        )
    relay = EndpointRelay(0) if serves else None
    key = tokens.load_key(None if config.ephemeral else config.data_dir)
    environment = TaskEnvironment(
        store,
        key,
        serves_endpoints=serves,
        aws_endpoint_in_tasks=config.aws_endpoint_in_tasks,
        relay=relay,
        writer=AwsLogsWriter(LogStore(store)),
    )
    return environment, relay


def choose_runtime(config: Config, store: Store, hooks: TaskHooks | None = None) -> ContainerRuntime:
    """docker when asked (or, with auto, when an engine answers); else simulated."""
    if config.runtime in ("docker", "auto"):
        from ecsemu.runtime.docker import DockerRuntime  # noqa: PLC0415 (docker is optional)
        from ecsemu.runtime.docker_engine import docker_available  # noqa: PLC0415

        if docker_available():
            return DockerRuntime(
                allow_host_access=config.allow_host_access,
                region=config.region,
                account_id=config.account_id,
                keep_stopped=config.keep_stopped_containers,
                namespace=instance_namespace(config),
                hooks=hooks,
            )
        if config.runtime == "docker":
            raise SystemExit("ecsemu: --runtime docker, but no Docker engine answers (see scripts/ensure-docker.sh)")
        log.warning("no Docker engine answers: tasks run on the simulated runtime (no containers)")
    return SimulatedRuntime(StoreMapping(store, "simulated_task"))


@dataclass
class Emulator:
    config: Config
    store: Store
    runtime: ContainerRuntime
    reconciler: Reconciler
    server: HttpServer
    load_balancers: LoadBalancerSync
    relay: EndpointRelay | None = None
    scaling: ScalingLoop | None = None
    task_server: HttpServer | None = None  # what tasks reach on 169.254.170.2, through the relay
    providers: tuple[Any, ...] = ()  # the AWS services answered (tests look at their state)
    _thread: threading.Thread | None = None
    _task_thread: threading.Thread | None = None

    @classmethod
    def build(cls, config: Config) -> Emulator:
        store = Store(None if config.ephemeral else config.data_dir / "state.sqlite3")
        environment, relay = task_environment(config, store)
        runtime = choose_runtime(config, store, environment)
        if isinstance(runtime, SimulatedRuntime):
            relay = None
        elbv2 = Elbv2Provider(store)
        clock = ScalingClock(config.scaling_clock)
        sqs = SqsProvider(store)
        reconciler = Reconciler(
            store,
            runtime,
            TaskSettings(
                stopped_task_retention_s=config.stopped_task_retention_s,
                keep_stopped_containers=config.keep_stopped_containers,
            ),
            registry=Elbv2ServiceLink(store),
        )
        settings = Settings(
            stopped_task_retention_s=config.stopped_task_retention_s, allow_host_access=config.allow_host_access
        )
        providers: list[Any] = [
            EcsProvider(store, settings),
            elbv2,
            LogsProvider(store),
            SsmProvider(store),
            SecretsManagerProvider(store),
            sqs,
            CloudWatchProvider(store, clock.now),
            ApplicationAutoScalingProvider(store, clock.now),
        ]
        gateway = GatewayConfig(
            default_account=config.account_id,
            default_region=config.region,
            runtime_name=runtime.name,
            allowed_hosts=answered_hosts(config),
        )
        simulated = runtime if isinstance(runtime, SimulatedRuntime) else None
        engine = LoadBalancerEngine(
            port_offset=config.listener_port_offset,
            simulated_health=simulated.target_health if simulated is not None else None,
        )
        load_balancers = LoadBalancerSync(store, engine)
        app = create_app(
            providers,
            gateway,
            reset=store.reset,
            simulated_targets=simulated,
            bound_listeners=load_balancers.bound_listeners,
            consistent=store.snapshot,
            dashboard_state=lambda: dashboard_state(store),
        )
        reader = runtime if hasattr(runtime, "task_details") else None
        server = HttpServer(config.host, config.port, app)
        task_server = None
        if relay is not None:
            # Tasks get their own server: the task endpoints and the AWS APIs, never the admin
            # endpoints (a container must not reset the emulator or drive its test hooks).
            for_tasks = tasks_gateway(app, (*answered_hosts(config), netns.TASK_ENDPOINT_ADDRESS))
            task_app = TaskEndpoints(for_tasks, environment, cast(TaskReader | None, reader))
            task_server = HttpServer("127.0.0.1", 0, task_app, threads=TASK_SERVER_THREADS)
        loopback = "127.0.0.1" if config.host.strip() in WILDCARDS else config.host
        if relay is not None and task_server is not None:
            relay.gateway = ("127.0.0.1", task_server.port)
        sqs.base_url = f"http://{loopback}:{server.port}"
        usage = cast(UsageReader, runtime) if hasattr(runtime, "usage") else None
        collector = Collector(store, usage, traffic=load_balancers.traffic_counters)
        scaling = ScalingLoop(store, clock, collector)
        return cls(config, store, runtime, reconciler, server, load_balancers, relay, scaling, task_server, tuple(providers))

    def _remove_containers(self, timeout_s: float = 30.0) -> None:
        """An ephemeral emulator's state ends with it, and so do its tasks' containers (a
        durable one leaves them running, to adopt them when it starts again)."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = self.runtime.observe()
            if not remaining or time.monotonic() > deadline:
                break
            for task_arn in remaining:
                self.runtime.remove(task_arn)
            time.sleep(0.1)  # removal runs in the background; look again shortly
        if remaining:
            log.warning("%d tasks' containers were still being removed at exit", len(remaining))

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def _start_parts(self) -> None:
        self.load_balancers.start()
        self.reconciler.start()
        if self.scaling is not None:
            self.scaling.start()
        if self.task_server is not None:
            self._task_thread = threading.Thread(target=self.task_server.run, name="task-gateway", daemon=True)
            self._task_thread.start()

    def start(self) -> None:
        """Serve in a background thread (tests); ``serve_forever`` blocks (the CLI)."""
        self._start_parts()
        self._thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self._start_parts()
        self.server.run()

    def shutdown(self) -> None:
        self.server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        if self.scaling is not None:
            self.scaling.stop()
        self.reconciler.stop()
        self.load_balancers.stop()
        if self.relay is not None:
            self.relay.stop()
        if self.task_server is not None:
            self.task_server.shutdown()
            if self._task_thread is not None:
                self._task_thread.join(timeout=10)
            self.task_server.close()
        if self.config.ephemeral:
            self._remove_containers()
        self.runtime.close()
        self.server.close()
        self.store.close()
