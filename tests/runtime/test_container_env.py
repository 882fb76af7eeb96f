"""A container's environment (``ecsemu.runtime.container_env``): environment files, S3's
refusal, and the precedence of what the task sets and what ECS sets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_until
from docker_runtime_fixtures import (
    NAMESPACE,
    Tasks,
    job,
    observed,
    wait_state,
    web,
)

from ecsemu.runtime import container_env
from ecsemu.runtime.base import ObservedTask
from ecsemu.runtime.docker import DockerRuntime


def test_env_files() -> None:
    assert container_env.parse_env_file("# comment\n\nA=1\nB = two=2\nnot a pair\n") == {"A": "1", "B": " two=2"}
    assert container_env.env_file_source({"value": "/tmp/app.env", "type": "s3"}) == ("local", "/tmp/app.env")
    assert container_env.env_file_source({"value": "arn:aws:s3:::bucket/app.env", "type": "s3"})[0] == "s3"
    reason = container_env.s3_env_file_failure("arn:aws:s3:::bucket/path/app.env")
    assert reason.startswith("ResourceInitializationError: failed to download env files")
    assert "key 'path/app.env' from bucket 'bucket'" in reason


@pytest.mark.docker
def test_env_files_from_a_local_path_and_offline_s3(engine: Any, tasks: Tasks, tmp_path: Path) -> None:
    """Local environment files are read only by a runtime allowed host access."""
    runtime = DockerRuntime(engine, pull_timeout_s=20, namespace=NAMESPACE, allow_host_access=True)
    try:
        env_file = tmp_path / "app.env"
        env_file.write_text("# settings\nFROM_FILE=yes\nOVERRIDDEN=file\n")
        check = 'test "$FROM_FILE" = yes && test "$OVERRIDDEN" = def && test "$AWS_REGION" = us-east-1 && test "$ECS_CONTAINER_NAME" = check'
        local = tasks.new(
            job("check", check, essential=True, environmentFiles=[{"value": str(env_file), "type": "s3"}],
                environment=[{"name": "OVERRIDDEN", "value": "def"}]),
        )  # fmt: skip
        s3 = tasks.new(web(environmentFiles=[{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}]))
        runtime.launch(local)
        runtime.launch(s3)
        assert wait_state(runtime, local.task_arn, "check", "exited").exit_code == 0
        failed: ObservedTask = wait_until(lambda: (t := observed(runtime, s3.task_arn)) is not None and t.failure and t)
        assert failed.failure is not None and failed.failure.startswith(
            "ResourceInitializationError: failed to download env files"
        )
    finally:
        runtime.close()


@pytest.mark.docker
def test_local_env_files_and_fifos_fail_the_launch_without_blocking(
    engine: Any, runtime: DockerRuntime, tasks: Tasks, tmp_path: Path
) -> None:
    """Without host access a local env file is refused; with it, a FIFO or a device fails the
    launch at once (the launch never blocks on it), with a reason that tells nothing of the host."""
    env_file = tmp_path / "app.env"
    env_file.write_text("SECRET=1\n")
    refused = tasks.new(web(environmentFiles=[{"value": str(env_file), "type": "s3"}]))
    runtime.launch(refused)
    failed: ObservedTask = wait_until(
        lambda: (t := observed(runtime, refused.task_arn)) is not None and t.failure and t
    )
    assert (
        failed.failure is not None and "--allow-host-access" in failed.failure and str(env_file) not in failed.failure
    )
    allowed = DockerRuntime(engine, pull_timeout_s=20, namespace=NAMESPACE, allow_host_access=True)
    try:
        fifo = tmp_path / "pipe.env"
        os.mkfifo(fifo)
        reasons = []
        for path in (str(fifo), "/dev/zero", str(tmp_path / "missing.env")):
            task = tasks.new(web(environmentFiles=[{"value": path, "type": "s3"}]))
            allowed.launch(task)
            stopped: ObservedTask = wait_until(
                lambda t=task: (o := observed(allowed, t.task_arn)) is not None and o.failure and o, timeout=20
            )
            assert stopped.failure is not None
            reasons.append(stopped.failure.replace(path, "<path>"))
        assert len(set(reasons)) == 1, reasons  # missing, FIFO and device read alike
    finally:
        allowed.close()
