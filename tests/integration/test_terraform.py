"""Terraform's AWS provider, unchanged, against ecsemu with real containers.

``tests/terraform/ecs_alb/main.tf`` (cluster, capacity providers, task definition, ALB, target
group, listener, listener rule, and a service behind them with the circuit breaker) is applied,
reached through its listener, updated to a new image tag (a rolling update under steady load
with no failed request), planned again with no changes, and destroyed.

It needs the ``terraform`` CLI and the AWS provider available offline: a provider directory
laid out as a filesystem mirror (``registry.terraform.io/hashicorp/aws/<version>/<os_arch>/``),
found in ``$ECSEMU_TERRAFORM_PLUGIN_DIR`` or the usual places below. Without them the test is
skipped and says why (pytest's ``-ra`` summary lists it): a skipped test is never counted as
passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from alb_fixture import SteadyLoad, listener_port
from conftest import client, free_port, wait_until

from ecsemu.app import Emulator

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CONFIGURATION = Path(__file__).resolve().parents[1] / "terraform" / "ecs_alb"
PLUGIN_DIRS = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
)
STEP_TIMEOUT_S = 600


def provider_mirror() -> Path | None:
    """A directory holding the AWS provider as a filesystem mirror, or None."""
    configured = os.environ.get("ECSEMU_TERRAFORM_PLUGIN_DIR")
    for directory in ([Path(configured)] if configured else []) + list(PLUGIN_DIRS):
        if any(directory.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")):
            return directory
    return None


class Terraform:
    """The ``terraform`` CLI in a working directory of its own, offline."""

    def __init__(self, work: Path, mirror: Path, variables: dict[str, str]) -> None:
        self.work = work
        self.variables = variables
        rc = work / "terraformrc"
        rc.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
            '  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }\n'
            "}\n"
        )
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            self.env.pop(name, None)

    def run(self, *args: str, check: bool = True, with_variables: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["terraform", *args, "-no-color"]
        if with_variables:
            command += [f"-var={name}={value}" for name, value in self.variables.items()]
        done = subprocess.run(
            command, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
        )
        if check and done.returncode != 0:
            pytest.fail(f"terraform {args[0]} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done

    def output(self, name: str) -> str:
        return self.run("output", "-raw", name, with_variables=False).stdout.strip()


@pytest.fixture
def terraform(tmp_path: Path, docker_emulator: Emulator, docker_ecs: Any) -> Terraform:
    if shutil.which("terraform") is None:
        pytest.skip("Terraform is not installed on this machine: the Terraform test did not run")
    mirror = provider_mirror()
    if mirror is None:
        pytest.skip(
            "no offline copy of the Terraform AWS provider (set ECSEMU_TERRAFORM_PLUGIN_DIR): "
            "the Terraform test did not run"
        )
    work = tmp_path / "ecs_alb"
    shutil.copytree(CONFIGURATION, work)
    variables = {
        "endpoint": docker_emulator.endpoint,
        "image": "ecsemu-test/web:latest",
        "listener_port": str(free_port()),
    }
    del docker_ecs  # its teardown removes whatever the test leaves behind
    tf = Terraform(work, mirror, variables)
    tf.run("init", with_variables=False)
    return tf


def versions(port: int) -> set[str]:
    seen = set()
    for _ in range(10):
        response = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert response.status_code == 200, response.text
        seen.add(response.json()["version"])
    return seen


def test_apply_update_plan_destroy(terraform: Terraform, docker_emulator: Emulator) -> None:
    ecs, elbv2 = client("ecs", docker_emulator.endpoint), client("elbv2", docker_emulator.endpoint)
    terraform.run("apply", "-auto-approve")
    port = listener_port(elbv2, terraform.output("listener_arn"))
    target_group = terraform.output("target_group_arn")

    def healthy_targets() -> int:
        described = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
        return sum(d["TargetHealth"]["State"] == "healthy" for d in described)

    wait_until(lambda: healthy_targets() == 2, timeout=60, what="two healthy targets")
    assert versions(port) == {"v1"}
    fixed = requests.get(f"http://127.0.0.1:{port}/alb-health", timeout=5)
    assert (fixed.status_code, fixed.text) == (200, "alb ok")
    assert terraform.run("plan", "-detailed-exitcode").returncode == 0

    terraform.variables["image"] = "ecsemu-test/web:v2"
    with SteadyLoad(port) as load:
        terraform.run("apply", "-auto-approve")  # waits for the service's steady state
        wait_until(lambda: load.versions[-20:] == ["v2"] * 20, timeout=60, what="only v2 answering")
    assert load.failures == []
    assert "v1" in load.versions and "v2" in load.versions
    service = ecs.describe_services(cluster="tf-demo", services=["web"])["services"][0]
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]

    planned = terraform.run("plan", "-detailed-exitcode", check=False)
    assert planned.returncode == 0, planned.stdout[-4000:]

    terraform.run("destroy", "-auto-approve")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert ecs.describe_clusters(clusters=["tf-demo"])["clusters"][0]["status"] == "INACTIVE"
    wait_until(lambda: not docker_emulator.runtime.observe(), timeout=60, what="the service's containers to go")
