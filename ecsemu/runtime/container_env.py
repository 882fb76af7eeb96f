"""A container's environment, as the docker runtime starts it: its ``environmentFiles``
(local paths, an ecsemu extension read within bounds by ``env_files``; S3 answers that ecsemu
runs offline), its ``environment``, the task's identity and region, and what the task
environment adds (``TaskHooks.environment``: metadata and credentials URIs, secrets).

Precedence, as in ECS: files first, then ``environment``, then what ECS itself sets. Every
failure is a ``LaunchRefused`` with the stopped reason ECS would give.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from ecsemu.runtime import env_files
from ecsemu.runtime.base import LaunchRefused, TaskHooks, TaskLaunch

Record = dict[str, Any]
_S3_ARN: Final = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/]+)/(?P<key>.+)$")


def parse_env_file(text: str) -> dict[str, str]:
    """ECS's environment file format: VARIABLE=VALUE lines; blank lines and # comments skipped."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        env[name.strip()] = value
    return env


def env_file_source(entry: Record) -> tuple[Literal["local", "s3"], str]:
    """Where an ``environmentFiles`` entry lives: an absolute path (an ecsemu extension) or S3."""
    value = str(entry.get("value", ""))
    return ("local", value) if value.startswith("/") else ("s3", value)


def s3_env_file_failure(value: str) -> str:
    match = _S3_ARN.match(value)
    where = f"key '{match['key']}' from bucket '{match['bucket']}'" if match else f"'{value}'"
    return (
        f"ResourceInitializationError: failed to download env files: file redirect: unable to download env file with {where}: "
        "ecsemu runs offline and cannot reach Amazon S3 (an absolute local path works instead)"
    )


def environment(launch: TaskLaunch, container: Record, region: str, from_files: Mapping[str, str]) -> dict[str, str]:
    """Files first, then ``environment`` (which wins, as in ECS), then the task's identity.

    The region is the task ARN's (``region`` when the ARN has none).
    """
    parts = launch.task_arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else region
    env = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    env.update(from_files)
    env.update({e["name"]: str(e.get("value", "")) for e in container.get("environment") or []})
    env["ECS_TASK_ARN"] = launch.task_arn
    env["ECS_CONTAINER_NAME"] = container["name"]
    return env


def launch_environment(launch: TaskLaunch, container: Record, region: str, hooks: TaskHooks | None) -> dict[str, str]:
    """The container's whole environment at start; ``LaunchRefused`` when it cannot be had."""
    from_files: dict[str, str] = {}
    entries = container.get("environmentFiles") or []
    if len(entries) > env_files.MAX_FILES:
        raise LaunchRefused(f"ResourceInitializationError: more than {env_files.MAX_FILES} environment files", container["name"])
    for entry in entries:
        kind, value = env_file_source(entry)
        if kind == "s3":
            raise LaunchRefused(s3_env_file_failure(value), container["name"])
        try:
            from_files.update(parse_env_file(env_files.read_env_file_text(value)))
        except env_files.EnvFileError as error:
            raise LaunchRefused(str(error), container["name"]) from None
    env = environment(launch, container, region, from_files)
    if hooks is not None:
        env.update(hooks.environment(launch, container))
    return env
