"""The emulator's options: command-line flags, each also an ``ECSEMU_*`` environment variable."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RuntimeChoice = Literal["auto", "docker", "simulated"]


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ecsemu"


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path()
    ephemeral: bool = False
    runtime: RuntimeChoice = "auto"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    log_level: str = "INFO"
    stopped_task_retention_s: float = 3600.0
    allow_host_access: bool = False
    keep_stopped_containers: bool = False
    listener_port_offset: int = 0


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ECSEMU_{name}", default)


def _flag(name: str) -> bool:
    return _env(name, "").lower() in ("1", "true", "yes", "on")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecsemu", description="An offline emulator of Amazon ECS.")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="start the emulator (the default command)")
    add_serve_options(serve)
    add_serve_options(parser)
    return parser


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to listen on (ECSEMU_HOST)")
    parser.add_argument("--port", type=int, default=int(_env("PORT", "4566")), help="port (ECSEMU_PORT)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(_env("DATA_DIR", str(default_data_dir()))),
        help="where durable state lives (ECSEMU_DATA_DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--ephemeral", action="store_true", default=_flag("EPHEMERAL"), help="keep state in memory only (ECSEMU_EPHEMERAL)"
    )
    parser.add_argument(
        "--runtime", choices=["auto", "docker", "simulated"], default=_env("RUNTIME", "auto"),
        help="where tasks run: auto (docker when an engine answers), docker, simulated (ECSEMU_RUNTIME)",
    )  # fmt: skip
    parser.add_argument("--account-id", default=_env("ACCOUNT_ID", "123456789012"), help="default account (ECSEMU_ACCOUNT_ID)")
    parser.add_argument("--region", default=_env("REGION", "us-east-1"), help="region for unsigned requests (ECSEMU_REGION)")
    parser.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING... (ECSEMU_LOG_LEVEL)")
    parser.add_argument(
        "--stopped-task-retention", type=float, default=float(_env("STOPPED_TASK_RETENTION", "3600")),
        help="seconds a STOPPED task stays describable (ECSEMU_STOPPED_TASK_RETENTION)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-host-access", action="store_true", default=_flag("ALLOW_HOST_ACCESS"),
        help="allow privileged containers, host network/PID/IPC, host volumes, capabilities, devices (ECSEMU_ALLOW_HOST_ACCESS)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-stopped-containers", action="store_true", default=_flag("KEEP_STOPPED_CONTAINERS"),
        help="leave a stopped task's containers in Docker for debugging (ECSEMU_KEEP_STOPPED_CONTAINERS)",
    )  # fmt: skip
    add_listener_options(parser)


def add_listener_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listener-port-offset", type=int, default=int(_env("LISTENER_PORT_OFFSET", "0")),
        help="bind each load balancer listener on its port plus this offset (ECSEMU_LISTENER_PORT_OFFSET)",
    )  # fmt: skip


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        ephemeral=args.ephemeral,
        runtime=args.runtime,
        account_id=args.account_id,
        region=args.region,
        log_level=args.log_level.upper(),
        stopped_task_retention_s=args.stopped_task_retention,
        allow_host_access=args.allow_host_access,
        keep_stopped_containers=args.keep_stopped_containers,
        listener_port_offset=args.listener_port_offset,
    )
