"""The emulator's options: command-line flags, each also an ``ECSEMU_*`` environment variable.

A flag given on the command line wins over its variable. Every value is checked as it is read:
a bad one (``ECSEMU_PORT=abc``, ``--port -1``, ``--runtime dokcer``, ``ECSEMU_EPHEMERAL=maybe``)
ends the start with one line naming the option and its variable, and exit status 2 (argparse's
own convention for usage errors), never a traceback. Booleans read from the environment are
``1/true/yes/on`` or ``0/false/no/off`` (or empty), in any case.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NoReturn, cast

from ecsemu import __version__

RuntimeChoice = Literal["auto", "docker", "simulated"]
LogFormat = Literal["text", "json"]

# The most tasks ecsemu runs at once (lastStatus not STOPPED), over every account and region:
# what one machine runs (a task is at least one container). Services asking for more get ECS's
# placement failure event and keep what they have; see ecsemu.reconcile.scheduling.
MAX_TASKS: Final = 1000
RUNTIMES: tuple[RuntimeChoice, ...] = ("auto", "docker", "simulated")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"", "0", "false", "no", "off"})
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2,}(-[a-z]+)+-\d{1,2}$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,253}$")


class OptionError(ValueError):
    """A bad option value; its message is the one line the user sees."""


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
    allowed_hosts: tuple[str, ...] = ()  # Host header names answered besides loopback and localhost
    log_format: LogFormat = "text"
    quiet: bool = False
    task_endpoints: bool = True  # metadata, credentials and AWS served inside each task
    aws_endpoint_in_tasks: bool = True  # AWS_ENDPOINT_URL in every container
    scaling_clock: float = 1.0  # AWS seconds per wall-clock second for metrics, alarms, scaling


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ECSEMU_{name}", default)


def _flag(name: str) -> str:
    """A flag's environment value, checked by ``boolean`` when the options are read."""
    return _env(name, "")


def boolean(value: bool | str, option: str) -> bool:
    """A flag's value: True when given on the command line, else its variable's text."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise OptionError(
        f"{option} ({_variable(option)}): {value!r} is not a boolean (use 1/true/yes/on or 0/false/no/off)"
    )


_VARIABLES = {"--allowed-host": "ECSEMU_ALLOWED_HOSTS"}
_ARGUMENT = re.compile(r"^argument (--[a-z-]+)(/-\w)?: ")


def _variable(option: str) -> str:
    return _VARIABLES.get(option) or "ECSEMU_" + option.removeprefix("--").replace("-", "_").upper()


def _checked(what: str, convert: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse ``type`` that says what was expected when ``convert`` refuses (the parser's
    error names the option and its variable)."""

    def check(text: str) -> object:
        try:
            return convert(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None

    return check


def _integer(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = int(text.strip())
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return convert


def _seconds(text: str) -> float:
    value = float(text.strip())
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _matching(pattern: re.Pattern[str], *, upper: bool = False) -> Callable[[str], str]:
    def convert(text: str) -> str:
        value = text.strip().upper() if upper else text.strip()
        if not pattern.match(value):
            raise ValueError(text)
        return value

    return convert


def _one_of(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[str], str]:
    def convert(text: str) -> str:
        value = text.strip().upper() if upper else text.strip().lower()
        if value not in choices:
            raise ValueError(text)
        return value

    return convert


def _host_names(text: str) -> list[str]:
    """``--allowed-host`` values: one name, or (from the variable) several, comma-separated."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if not _HOST_NAME.match(name):
            raise ValueError(text)
    return names


class OptionParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        named = _ARGUMENT.match(message)
        if named is not None:
            message = f"{named.group(1)} ({_variable(named.group(1))}): {message[named.end() :]}"
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OptionParser(prog="ecsemu", description="An offline emulator of Amazon ECS.")
    parser.add_argument("--version", action="version", version=f"ecsemu {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="start the emulator (the default command)")
    add_serve_options(serve)
    add_serve_options(parser)
    return parser


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to listen on (ECSEMU_HOST)")
    parser.add_argument(
        "--port", type=_checked("a port number (0-65535)", _integer(0, 65535)), default=_env("PORT", "4566"),
        help="port (ECSEMU_PORT)",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", type=Path, default=Path(_env("DATA_DIR", str(default_data_dir()))),
        help="where durable state lives (ECSEMU_DATA_DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        default=_flag("EPHEMERAL"),
        help="keep state in memory only (ECSEMU_EPHEMERAL)",
    )
    parser.add_argument(
        "--runtime", type=_checked("one of auto, docker, simulated", _one_of(RUNTIMES)),
        default=_env("RUNTIME", "auto"), metavar="{auto,docker,simulated}",
        help="where tasks run: auto (docker when an engine answers), docker, simulated (ECSEMU_RUNTIME)",
    )  # fmt: skip
    parser.add_argument(
        "--account-id", type=_checked("a 12-digit account id", _matching(_ACCOUNT)),
        default=_env("ACCOUNT_ID", "123456789012"), help="default account (ECSEMU_ACCOUNT_ID)",
    )  # fmt: skip
    parser.add_argument(
        "--region", type=_checked("a region name like us-east-1", _matching(_REGION)),
        default=_env("REGION", "us-east-1"), help="region for unsigned requests (ECSEMU_REGION)",
    )  # fmt: skip
    parser.add_argument(
        "--log-level", type=_checked("one of " + ", ".join(LOG_LEVELS), _one_of(LOG_LEVELS, upper=True)),
        default=_env("LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING, ERROR or CRITICAL (ECSEMU_LOG_LEVEL)",
    )  # fmt: skip
    parser.add_argument(
        "--log-format", type=_checked("text or json", _one_of(LOG_FORMATS)), default=_env("LOG_FORMAT", "text"),
        metavar="{text,json}", help="log lines as text or one JSON object each (ECSEMU_LOG_FORMAT)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet", action="store_true", default=_flag("QUIET"),
        help="log only warnings and errors, not every API call and task change (ECSEMU_QUIET)",
    )  # fmt: skip
    parser.add_argument(
        "--stopped-task-retention", type=_checked("a number of seconds >= 0", _seconds),
        default=_env("STOPPED_TASK_RETENTION", "3600"),
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
    parser.add_argument(
        "--allowed-host", dest="allowed_hosts", action="append", metavar="NAME",
        type=_checked("a host name", _host_names), default=None,
        help="also answer requests whose Host header names NAME (repeatable; ECSEMU_ALLOWED_HOSTS, comma-separated). "
        "Only loopback addresses and localhost are answered otherwise, so that no web page can drive ecsemu: "
        "add the name clients use when they reach ecsemu from containers or a docker-compose network "
        "(e.g. --allowed-host host.docker.internal --allowed-host ecsemu)",
    )  # fmt: skip
    parser.add_argument(
        "--no-task-endpoints", action="store_true", default=_flag("NO_TASK_ENDPOINTS"),
        help="do not serve the task metadata, credentials and AWS endpoints on 169.254.170.2 inside tasks (ECSEMU_NO_TASK_ENDPOINTS)",
    )  # fmt: skip
    parser.add_argument(
        "--no-aws-endpoint-in-tasks", action="store_true", default=_flag("NO_AWS_ENDPOINT_IN_TASKS"),
        help="do not set AWS_ENDPOINT_URL in containers (the SDK inside then calls real AWS) (ECSEMU_NO_AWS_ENDPOINT_IN_TASKS)",
    )  # fmt: skip
    parser.add_argument(
        "--scaling-clock", type=_checked("a number from 1 to 3600", _clock),
        default=_env("SCALING_CLOCK", "1"),
        help="AWS seconds per real second for metrics, alarms, cooldowns and scheduled actions; "
        "60 makes one AWS minute pass each second (ECSEMU_SCALING_CLOCK)",
    )  # fmt: skip
    add_listener_options(parser)


def _clock(text: str) -> float:
    value = float(text.strip())
    if not math.isfinite(value) or not 1 <= value <= 3600:
        raise ValueError(text)
    return value


def add_listener_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listener-port-offset", type=_checked("an integer (-65535..65535)", _integer(-65535, 65535)),
        default=_env("LISTENER_PORT_OFFSET", "0"),
        help="bind each load balancer listener on its port plus this offset (ECSEMU_LISTENER_PORT_OFFSET)",
    )  # fmt: skip


def _allowed_hosts(given: list[list[str]] | None) -> tuple[str, ...]:
    if given is not None:
        return tuple(name for names in given for name in names)
    try:
        return tuple(_host_names(_env("ALLOWED_HOSTS", "")))
    except ValueError:
        raise OptionError(
            f"--allowed-host (ECSEMU_ALLOWED_HOSTS): {_env('ALLOWED_HOSTS', '')!r} is not a list of host names"
        ) from None


def config_from_args(args: argparse.Namespace) -> Config:
    """The options as read; raises ``OptionError`` for a bad boolean or host list in the environment."""
    if not args.host.strip():
        raise OptionError("--host (ECSEMU_HOST): an address to listen on is required")
    return Config(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        ephemeral=boolean(args.ephemeral, "--ephemeral"),
        runtime=cast(RuntimeChoice, args.runtime),
        account_id=args.account_id,
        region=args.region,
        log_level=args.log_level.upper(),
        stopped_task_retention_s=args.stopped_task_retention,
        allow_host_access=boolean(args.allow_host_access, "--allow-host-access"),
        keep_stopped_containers=boolean(args.keep_stopped_containers, "--keep-stopped-containers"),
        listener_port_offset=args.listener_port_offset,
        allowed_hosts=_allowed_hosts(args.allowed_hosts),
        log_format=cast(LogFormat, args.log_format),
        quiet=boolean(args.quiet, "--quiet"),
        task_endpoints=not boolean(args.no_task_endpoints, "--no-task-endpoints"),
        aws_endpoint_in_tasks=not boolean(args.no_aws_endpoint_in_tasks, "--no-aws-endpoint-in-tasks"),
        scaling_clock=args.scaling_clock,
    )
