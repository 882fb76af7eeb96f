"""The pytest plugin (``ecsemu.pytest_plugin``, entry point ``pytest11``) as a user's test suite
meets it, run by ``pytester`` in a pytest of its own; and ``ecsemu.testing`` for other runners."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
import requests

from ecsemu.testing import EcsEmulator, mock_ecs

pytest_plugins = ("pytester",)

USER_TESTS = """
import boto3
import pytest


def test_create_a_cluster(ecsemu):
    ecs = boto3.client("ecs")  # AWS_ENDPOINT_URL, credentials and region come from the plugin
    ecs.create_cluster(clusterName="demo")
    assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["demo"])["clusters"]] == ["demo"]


def test_state_was_reset(ecsemu_client):
    assert ecsemu_client("ecs").list_clusters()["clusterArns"] == []


@pytest.mark.ecsemu(reset=False)
def test_keeps_its_state(ecsemu_client):
    ecsemu_client("ecs").create_cluster(clusterName="kept")


def test_sees_the_kept_state(ecsemu, ecsemu_client):
    assert ecsemu_client("ecs").list_clusters()["clusterArns"] == [
        f"arn:aws:ecs:us-east-1:123456789012:cluster/kept"
    ]
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_a_users_suite_gets_an_emulator_and_resets(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=4)


def test_reset_can_be_switched_off_for_a_whole_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\necsemu_reset = false\n")
    pytester.makepyfile(
        test_user="""
def test_first(ecsemu_client):
    ecsemu_client("ecs").create_cluster(clusterName="one")

def test_second(ecsemu_client):
    assert len(ecsemu_client("ecs").list_clusters()["clusterArns"]) == 1
"""
    )
    run(pytester).assert_outcomes(passed=2)


def test_the_plugin_costs_nothing_unused_and_documents_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_plain():\n    assert True\n")
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["*--ecsemu-runtime*"])
    run(pytester).assert_outcomes(passed=1)
    markers = run(pytester, "--markers")
    markers.stdout.fnmatch_lines(["*@pytest.mark.ecsemu(runtime=*"])


def test_a_bad_runtime_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_x(ecsemu):\n    pass\n")
    result = run(pytester, "--ecsemu-runtime", "dokcer")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice*dokcer*"])


@pytest.mark.docker
def test_the_docker_runtime_on_request(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
import time
import pytest


@pytest.mark.ecsemu(runtime="docker")
def test_a_real_container(ecsemu, ecsemu_client):
    ecs = ecsemu_client("ecs")
    ecs.create_cluster()  # "default", the cluster RunTask assumes
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "ecsemu-test/web:latest", "memory": 64}])
    arn = ecs.run_task(taskDefinition="web")["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(tasks=[arn], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert ecsemu.emulator.runtime.name == "docker"
    assert arn in ecsemu.emulator.runtime.observe()


def test_the_simulated_one_is_still_the_default(ecsemu):
    assert ecsemu.emulator.runtime.name == "simulated"
"""
    )
    run(pytester).assert_outcomes(passed=2)


def test_context_manager_sets_and_restores_the_environment() -> None:
    before = {name: os.environ.get(name) for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION")}
    with EcsEmulator(region="eu-west-1") as emulator:
        assert os.environ["AWS_ENDPOINT_URL"] == emulator.endpoint
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
        ecs = boto3.client("ecs")
        arn = ecs.create_cluster(clusterName="ctx")["cluster"]["clusterArn"]
        assert arn.startswith("arn:aws:ecs:eu-west-1:123456789012:cluster/")
        emulator.reset()
        assert ecs.list_clusters()["clusterArns"] == []
        with pytest.raises(RuntimeError, match="already set the AWS environment"):
            EcsEmulator(port=0).start()
        endpoint = emulator.endpoint
    assert {name: os.environ.get(name) for name in before} == before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{endpoint}/_ecsemu/health", timeout=2)


def test_decorator_runs_the_function_inside_an_emulator() -> None:
    seen: dict[str, Any] = {}

    @mock_ecs
    def body(name: str) -> str:
        seen["endpoint"] = os.environ["AWS_ENDPOINT_URL"]
        return str(boto3.client("ecs").create_cluster(clusterName=name)["cluster"]["status"])

    assert body("decorated") == "ACTIVE"
    assert os.environ.get("AWS_ENDPOINT_URL") != seen["endpoint"]
    with pytest.raises(RuntimeError, match="not running"):
        EcsEmulator().reset()
