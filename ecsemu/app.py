"""Wires the parts together: store, runtime, reconciler, providers, gateway, HTTP server.

``Emulator`` is the whole running thing; the command line and the tests both use it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ecsemu.config import Config
from ecsemu.gateway.app import GatewayConfig, create_app
from ecsemu.reconcile.loop import Reconciler
from ecsemu.reconcile.task_lifecycle import TaskSettings
from ecsemu.runtime.base import ContainerRuntime
from ecsemu.runtime.simulated import SimulatedRuntime
from ecsemu.services.ecs.base import Settings
from ecsemu.services.ecs.provider import EcsProvider
from ecsemu.services.elbv2.provider import Elbv2Provider
from ecsemu.state.mapping import StoreMapping
from ecsemu.state.store import Store

log = logging.getLogger("ecsemu")


class _RequestHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive (clients reuse connections), and no line per request."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


def choose_runtime(config: Config, store: Store) -> ContainerRuntime:
    """docker when asked (or, with auto, when an engine answers); else simulated."""
    if config.runtime in ("docker", "auto"):
        from ecsemu.runtime.docker import DockerRuntime, docker_available  # noqa: PLC0415 (docker is optional)

        if docker_available():
            return DockerRuntime(
                allow_host_access=config.allow_host_access,
                region=config.region,
                account_id=config.account_id,
                keep_stopped=config.keep_stopped_containers,
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
    server: BaseWSGIServer
    _thread: threading.Thread | None = None

    @classmethod
    def build(cls, config: Config) -> Emulator:
        store = Store(None if config.ephemeral else config.data_dir / "state.sqlite3")
        runtime = choose_runtime(config, store)
        reconciler = Reconciler(
            store,
            runtime,
            TaskSettings(
                stopped_task_retention_s=config.stopped_task_retention_s,
                keep_stopped_containers=config.keep_stopped_containers,
            ),
        )
        settings = Settings(
            stopped_task_retention_s=config.stopped_task_retention_s, allow_host_access=config.allow_host_access
        )
        providers: list[Any] = [EcsProvider(store, settings), Elbv2Provider(store)]
        gateway = GatewayConfig(
            default_account=config.account_id, default_region=config.region, runtime_name=runtime.name
        )
        app = create_app(providers, gateway, reset=store.reset)
        server = make_server(config.host, config.port, app, threaded=True, request_handler=_RequestHandler)
        return cls(config, store, runtime, reconciler, server)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> None:
        """Serve in a background thread (tests); ``serve_forever`` blocks (the CLI)."""
        self.reconciler.start()
        self._thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self.reconciler.start()
        self.server.serve_forever()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.close()

    def close(self) -> None:
        self.reconciler.stop()
        self.runtime.close()
        self.server.server_close()
        self.store.close()
