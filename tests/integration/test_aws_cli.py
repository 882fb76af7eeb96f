"""The AWS CLI against a live ecsemu, as a user types it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest


def _aws_command() -> list[str]:
    found = shutil.which("aws", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if found is None:
        pytest.fail("the AWS CLI is not installed; scripts/test.sh installs it with the test extra")
    return [found]


def aws(endpoint: str, *args: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [*_aws_command(), "ecs", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_cli_walk(endpoint: str) -> None:
    created = aws(endpoint, "create-cluster", "--cluster-name", "cli")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["cluster"]["clusterName"] == "cli"

    containers = json.dumps([{"name": "app", "image": "busybox", "memory": 64}])
    registered = aws(endpoint, "register-task-definition", "--family", "cli", "--container-definitions", containers)
    assert json.loads(registered.stdout)["taskDefinition"]["revision"] == 1

    service = aws(endpoint, "create-service", "--cluster", "cli", "--service-name", "s", "--task-definition", "cli", "--desired-count", "2")
    assert service.returncode == 0, service.stderr
    waited = aws(endpoint, "wait", "services-stable", "--cluster", "cli", "--services", "s")
    assert waited.returncode == 0, waited.stderr

    listed = json.loads(aws(endpoint, "list-tasks", "--cluster", "cli").stdout)
    assert len(listed["taskArns"]) == 2

    missing = aws(endpoint, "describe-services", "--cluster", "nope", "--services", "s")
    assert missing.returncode != 0
    assert "ClusterNotFoundException" in missing.stderr
