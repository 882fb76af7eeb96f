"""A schema-driven fuzz test of every ECS and ELBv2 operation, through the real gateway.

For each operation of ``api_shapes/ecs.json`` and ``api_shapes/elbv2.json`` (``tests/api_fuzz.py``
makes the inputs from the schemas: a plausible call, then hostile ones), the test sends the
request over HTTP to an in-process emulator on the simulated runtime and asserts:

* no answer is a 5xx, whatever the input;
* when the answer is a 4xx, the store did not change (a digest of every record, before and after).

The emulator's reconciler and load balancer are not started, so only the API writes the store
and the digest comparison is exact. Bounded for CI (``ECSEMU_FUZZ_EXAMPLES`` inputs per
operation, default 20, and a time budget); run more by hand, e.g.
``ECSEMU_FUZZ_EXAMPLES=200 ECSEMU_FUZZ_SEED=7 pytest tests/integration/test_fuzz_api.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from api_fuzz import InputGenerator, deep_nesting, hostile_forms, load, query_form

from ecsemu.app import Emulator
from ecsemu.config import Config

EXAMPLES = int(os.environ.get("ECSEMU_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("ECSEMU_FUZZ_SEED", "20261203"))
BUDGET_S = float(os.environ.get("ECSEMU_FUZZ_BUDGET_S", "25"))  # per service
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
ELBV2_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/elasticloadbalancing/aws4_request, "
    "SignedHeaders=host, Signature=" + "0" * 64
)


@pytest.fixture(scope="module")
def quiet_emulator() -> Iterator[Emulator]:
    """The gateway and the store only: nothing but the API writes, so digests compare exactly."""
    instance = Emulator.build(Config(port=0, ephemeral=True, runtime="simulated"))
    thread = threading.Thread(target=instance.server.run, name="fuzz-gateway", daemon=True)
    thread.start()
    yield instance
    instance.server.shutdown()
    thread.join(timeout=10)
    instance.runtime.close()
    instance.server.close()
    instance.store.close()


def digest(emulator: Emulator) -> str:
    """Every record of every kind and scope (the store's tables, read under its lock)."""
    store = emulator.store
    with store._lock:  # a test's exact view of everything stored
        tables = sorted((repr(key), list(table.items())) for key, table in store._tables.items() if table)
    return hashlib.sha256(json.dumps(tables, default=str).encode()).hexdigest()


def check(emulator: Emulator, send: Any, what: str, failures: list[str]) -> None:
    before = digest(emulator)
    response = send()
    if response.status_code >= 500:
        failures.append(f"{what}: {response.status_code} {response.text[:300]}")
    elif response.status_code >= 400 and digest(emulator) != before:
        failures.append(f"{what}: refused with {response.status_code} but the store changed: {response.text[:200]}")


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) < 400 else text[:400] + "..."


def _known_ecs_resources(endpoint: str) -> None:
    """What ``KNOWN_NAMES`` name: clusters, a task definition, a service and a task."""
    for cluster in ("default", "fuzz"):
        assert _ecs(endpoint, "CreateCluster", json.dumps({"clusterName": cluster}).encode()).status_code == 200
    definition = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 64}]}
    assert _ecs(endpoint, "RegisterTaskDefinition", json.dumps(definition).encode()).status_code == 200
    service = {"cluster": "fuzz", "serviceName": "svc", "taskDefinition": "web", "desiredCount": 1}
    assert _ecs(endpoint, "CreateService", json.dumps(service).encode()).status_code == 200
    assert _ecs(endpoint, "RunTask", json.dumps({"cluster": "fuzz", "taskDefinition": "web"}).encode()).status_code == 200


def _known_elbv2_resources(endpoint: str) -> None:
    for form in (
        "Action=CreateLoadBalancer&Version=2015-12-01&Name=lb&Subnets.member.1=subnet-1&Subnets.member.2=subnet-2",
        "Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1",
    ):
        assert _elbv2(endpoint, form).status_code == 200, _elbv2(endpoint, form).text


def test_every_ecs_operation_answers_without_5xx_and_refusals_change_nothing(quiet_emulator: Emulator) -> None:
    endpoint = quiet_emulator.endpoint
    _known_ecs_resources(endpoint)
    generator = InputGenerator(load("ecs"), random.Random(SEED))
    failures: list[str] = []
    session = requests.Session()
    deadline = time.monotonic() + BUDGET_S
    for operation in sorted(generator.operations):
        for params in generator.examples(operation, EXAMPLES):
            body = json.dumps(params).encode()

            def send(body: bytes = body, operation: str = operation) -> requests.Response:
                headers = {"X-Amz-Target": f"{ECS_TARGET}.{operation}", "Content-Type": "application/x-amz-json-1.1"}
                return session.post(endpoint + "/", data=body, headers=headers, timeout=30)

            check(quiet_emulator, send, f"{operation} {_short(params)}", failures)
        if time.monotonic() > deadline:
            break
    quiet_emulator.store.reset()
    assert not failures, f"{len(failures)} bad answers (seed {SEED}):\n" + "\n".join(failures[:30])


def test_every_elbv2_operation_answers_without_5xx_and_refusals_change_nothing(quiet_emulator: Emulator) -> None:
    endpoint = quiet_emulator.endpoint
    _known_elbv2_resources(endpoint)
    rng = random.Random(SEED)
    generator = InputGenerator(load("elbv2"), rng)
    failures: list[str] = []
    session = requests.Session()
    deadline = time.monotonic() + BUDGET_S
    for operation in sorted(generator.operations):
        for index, params in enumerate(generator.examples(operation, EXAMPLES)):
            form = [("Action", operation), ("Version", "2015-12-01"), *query_form(params)]
            if index % 3 == 2:
                form = hostile_forms(rng, form)
            body = urlencode(form).encode()

            def send(body: bytes = body) -> requests.Response:
                headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": ELBV2_AUTH}
                return session.post(endpoint + "/", data=body, headers=headers, timeout=30)

            check(quiet_emulator, send, f"{operation} {body[:400]!r}", failures)
        if time.monotonic() > deadline:
            break
    quiet_emulator.store.reset()
    assert not failures, f"{len(failures)} bad answers (seed {SEED}):\n" + "\n".join(failures[:30])


# -- the findings the fuzzer first found, kept as named cases ----------------------------------


def _ecs(endpoint: str, operation: str, body: bytes) -> requests.Response:
    headers = {"X-Amz-Target": f"{ECS_TARGET}.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    return requests.post(endpoint + "/", data=body, headers=headers, timeout=30)


def _elbv2(endpoint: str, form: str) -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": ELBV2_AUTH}
    return requests.post(endpoint + "/", data=form.encode(), headers=headers, timeout=30)


@pytest.mark.parametrize("depth", [200, 1000, 100_000])
def test_deeply_nested_json_is_a_serialization_exception(quiet_emulator: Emulator, depth: int) -> None:
    if depth < 1000:
        body = json.dumps({"clusterName": "c", "tags": deep_nesting(depth)}, separators=(",", ":"))
    else:  # beyond what json.dumps itself nests: written by hand
        body = '{"clusterName":"c","tags":' + "[" * depth + "]" * depth + "}"
    before = digest(quiet_emulator)
    response = _ecs(quiet_emulator.endpoint, "CreateCluster", body.encode())
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == "SerializationException"
    assert digest(quiet_emulator) == before


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("DeleteTaskDefinitions", {"taskDefinitions": [None]}),
        ("DescribeClusters", {"clusters": [None]}),
        ("DescribeTasks", {"tasks": [None]}),
        ("CreateCluster", {"clusterName": "c", "tags": [None]}),
        ("TagResource", {"resourceArn": "arn:aws:ecs:us-east-1:123456789012:cluster/c", "tags": [None]}),
        ("RegisterTaskDefinition", {"family": "f", "containerDefinitions": [None]}),
        (
            "RegisterTaskDefinition",
            {"family": "f", "containerDefinitions": [{"name": "a", "image": "i", "memory": 64, "portMappings": [None]}]},
        ),
    ],
)
def test_null_list_elements_are_a_serialization_exception(
    quiet_emulator: Emulator, operation: str, params: dict[str, Any]
) -> None:
    before = digest(quiet_emulator)
    response = _ecs(quiet_emulator.endpoint, operation, json.dumps(params).encode())
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == "SerializationException", response.text
    assert digest(quiet_emulator) == before


@pytest.mark.parametrize(
    "form",
    [
        "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.%C2%B2=x",
        "Action=DescribeTargetGroups&Version=2015-12-01&Names.member.%D9%A3=x",
        "Action=SetRulePriorities&Version=2015-12-01&RulePriorities=1",
        "Action=SetRulePriorities&Version=2015-12-01&RulePriorities.member.1=1",
        "Action=AddTags&Version=2015-12-01&ResourceArns.member.1=a&Tags.member.1=scalar",
    ],
)
def test_odd_query_members_are_a_validation_error(quiet_emulator: Emulator, form: str) -> None:
    before = digest(quiet_emulator)
    response = _elbv2(quiet_emulator.endpoint, form)
    assert response.status_code == 400, response.text
    assert "<Code>ValidationError</Code>" in response.text, response.text
    assert digest(quiet_emulator) == before
