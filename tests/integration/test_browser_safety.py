"""A web page in a browser cannot drive the emulator (``ecsemu.gateway.browser``).

- DNS rebinding: a request whose ``Host`` is not loopback, ``localhost`` or an allowed name
  is refused 403, AWS-shaped in the request's protocol, admin requests with a JSON error.
- A cross-site "simple" POST (``text/plain``, a form) to a state-changing admin endpoint is
  refused 415 and changes nothing; harnesses send ``Content-Type: application/json``.
- A form POST to the ELBv2 query API, or a JSON call, from a foreign ``Origin`` is refused
  and creates nothing.
- No answer, preflights included, grants cross-origin access.
- boto3 and the AWS CLI work unchanged against 127.0.0.1 and localhost.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
import requests
from conftest import client
from test_aws_cli import aws

from ecsemu.app import Emulator, answered_hosts
from ecsemu.config import Config
from ecsemu.gateway.browser import RequestGuard, host_name, is_loopback

JSON_TARGET = "AmazonEC2ContainerServiceV20141113.ListClusters"
ECS_JSON = {"Content-Type": "application/x-amz-json-1.1"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CREATE_TG = "Action=CreateTargetGroup&Version=2015-12-01&Name=from-a-page&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip"


def _port(endpoint: str) -> int:
    port = urlsplit(endpoint).port
    assert port is not None
    return port


def _xml_code(body: bytes) -> str:
    found = ElementTree.fromstring(body).find(".//{*}Code")
    assert found is not None and found.text, body
    return found.text


def _target_groups(endpoint: str) -> list[str]:
    elbv2 = client("elbv2", endpoint)
    return [group["TargetGroupName"] for group in elbv2.describe_target_groups()["TargetGroups"]]


# -- Host (DNS rebinding) ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "10.0.0.1", "[::2]:{port}", ""])
def test_a_rebound_host_is_refused_on_every_door(endpoint: str, host: str) -> None:
    host = host.format(port=_port(endpoint))
    sent = {"Host": host, "X-Amz-Target": JSON_TARGET, **ECS_JSON}
    answer = requests.post(endpoint + "/", data="{}", headers=sent, timeout=10)
    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answer.json()["__type"] == "AccessDeniedException"
    assert "--allowed-host" in answer.json()["message"]

    query = requests.post(endpoint + "/", data="Action=DescribeLoadBalancers&Version=2015-12-01", headers={"Host": host, **FORM}, timeout=10)
    assert query.status_code == 403
    assert _xml_code(query.content) == "AccessDenied"

    health = requests.get(f"{endpoint}/_ecsemu/health", headers={"Host": host}, timeout=10)
    assert health.status_code == 403 and "error" in health.json()
    listeners = requests.get(f"{endpoint}/_ecsemu/listeners", headers={"Host": host}, timeout=10)
    assert listeners.status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:{port}", "127.9.8.7:{port}", "localhost", "LOCALHOST:{port}", "[::1]:{port}", "[::1]"])
def test_loopback_and_localhost_hosts_are_answered(endpoint: str, host: str) -> None:
    host = host.format(port=_port(endpoint))
    sent = {"Host": host, "X-Amz-Target": JSON_TARGET, **ECS_JSON}
    answer = requests.post(endpoint + "/", data="{}", headers=sent, timeout=10)
    assert answer.status_code == 200, answer.text
    assert requests.get(f"{endpoint}/_ecsemu/health", headers={"Host": host}, timeout=10).ok


def test_a_rebound_host_changes_nothing(endpoint: str, ecs: Any) -> None:
    ecs.create_cluster(clusterName="kept")
    reset = requests.post(f"{endpoint}/_ecsemu/reset", json={}, headers={"Host": "evil.example"}, timeout=10)
    assert reset.status_code == 403
    create = {"Host": "evil.example", "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.CreateCluster", **ECS_JSON}
    assert requests.post(endpoint + "/", data='{"clusterName": "planted"}', headers=create, timeout=10).status_code == 403
    assert [c.rsplit("/", 1)[-1] for c in ecs.list_clusters()["clusterArns"]] == ["kept"]


# -- state-changing admin endpoints: JSON only ---------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "text/plain", "Origin": "http://evil.example"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ],
)
def test_a_cross_site_simple_post_cannot_reset(endpoint: str, ecs: Any, headers: dict[str, str]) -> None:
    ecs.create_cluster(clusterName="survivor")
    answer = requests.post(f"{endpoint}/_ecsemu/reset", data="{}", headers=headers, timeout=10)
    assert answer.status_code in (403, 415)
    assert "error" in answer.json()
    assert len(ecs.list_clusters()["clusterArns"]) == 1


def test_reset_with_json_content_type_still_works(endpoint: str, ecs: Any) -> None:
    ecs.create_cluster(clusterName="gone")
    answer = requests.post(f"{endpoint}/_ecsemu/reset", json={}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "reset"}
    assert ecs.list_clusters()["clusterArns"] == []
    charset = requests.post(
        f"{endpoint}/_ecsemu/reset", data="", headers={"Content-Type": "Application/JSON; charset=utf-8"}, timeout=10
    )
    assert charset.status_code == 200


def test_the_simulated_health_hook_wants_json_too(endpoint: str) -> None:
    url = f"{endpoint}/_ecsemu/simulated/health"
    body = json.dumps({"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/0", "healthy": False})
    assert requests.post(url, data=body, headers={"Content-Type": "text/plain"}, timeout=10).status_code == 415
    assert requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10).status_code == 404


@pytest.mark.parametrize("path", ["/", "/_ecsemu/reset", "/_ecsemu/simulated/health", "/_ecsemu/health"])
def test_no_answer_grants_cross_origin_access(endpoint: str, path: str) -> None:
    preflight = requests.options(
        endpoint + path,
        headers={
            "Origin": f"http://localhost:{_port(endpoint)}",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-amz-target",
        },
        timeout=10,
    )
    assert not [name for name in preflight.headers if name.lower().startswith("access-control-allow-")]
    foreign = requests.options(endpoint + path, headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403
    assert not [name for name in foreign.headers if name.lower().startswith("access-control-allow-")]


# -- Origin ---------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example:4566", "null", "http://127.0.0.1.evil.example"])
def test_a_form_post_from_a_foreign_origin_creates_nothing(endpoint: str, origin: str) -> None:
    answer = requests.post(endpoint + "/", data=CREATE_TG, headers={"Origin": origin, **FORM}, timeout=10)
    assert answer.status_code == 403
    assert _xml_code(answer.content) == "AccessDenied"
    assert _target_groups(endpoint) == []


def test_a_form_post_from_a_local_origin_is_answered(endpoint: str) -> None:
    origin = f"http://localhost:{_port(endpoint)}"
    answer = requests.post(endpoint + "/", data=CREATE_TG, headers={"Origin": origin, **FORM}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert _target_groups(endpoint) == ["from-a-page"]


def test_a_json_call_from_a_foreign_origin_is_refused(endpoint: str, ecs: Any) -> None:
    create = {"Origin": "http://evil.example", "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.CreateCluster", **ECS_JSON}
    answer = requests.post(endpoint + "/", data='{"clusterName": "planted"}', headers=create, timeout=10)
    assert answer.status_code == 403
    assert answer.json()["__type"] == "AccessDeniedException"
    assert ecs.list_clusters()["clusterArns"] == []


# -- real clients, unchanged ----------------------------------------------------------------


def test_boto3_works_against_localhost_and_127_0_0_1(emulator: Emulator, endpoint: str) -> None:
    for base in (endpoint, f"http://localhost:{emulator.port}"):
        ecs = client("ecs", base)
        ecs.create_cluster(clusterName="c")
        assert ecs.describe_clusters(clusters=["c"])["clusters"][0]["status"] == "ACTIVE"
        elbv2 = client("elbv2", base)
        assert elbv2.describe_load_balancers()["LoadBalancers"] == []


def test_the_aws_cli_works_against_localhost(emulator: Emulator, endpoint: str) -> None:
    created = aws(f"http://localhost:{emulator.port}", "create-cluster", "--cluster-name", "cli-local")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["cluster"]["clusterName"] == "cli-local"


# -- the guard's rules, one by one ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:4566", "localhost"), ("[::1]:80", "::1"), ("127.0.0.1", "127.0.0.1"), ("Example.COM.", "example.com"),
     ("a:b:c", None), ("[::1", None), ("[::1]x", None), ("host:", None), (":80", None)],
)  # fmt: skip
def test_host_name(header: str, name: str | None) -> None:
    assert host_name(header) == name


def test_loopback_names() -> None:
    assert all(is_loopback(name) for name in ("localhost", "127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"))
    assert not any(is_loopback(name) for name in ("0.0.0.0", "10.0.0.1", "::", "localhost.evil", "evil", "128.0.0.1"))


def test_allowed_names_and_origins() -> None:
    guard = RequestGuard.allowing(["ecsemu", "Host.Docker.Internal", " "])
    assert guard.allowed_hosts == frozenset({"ecsemu", "host.docker.internal"})
    assert guard.refusal({"HTTP_HOST": "ecsemu:4566"}) is None
    assert guard.refusal({"HTTP_HOST": "host.docker.internal"}) is None
    assert guard.refusal({"HTTP_HOST": "other:4566"}) is not None
    assert guard.origin_allowed("http://ecsemu:4566") and guard.origin_allowed("https://[::1]:1")
    assert not any(guard.origin_allowed(o) for o in ("null", "file://", "ftp://localhost", "http://localhost:99999", ""))
    assert guard.refusal({}) is None  # no Host (HTTP/1.0 tools), no Origin: not a browser


def test_the_address_ecsemu_listens_on_is_answered_unless_a_wildcard() -> None:
    assert answered_hosts(Config(host="192.168.7.7", allowed_hosts=("a",))) == ("a", "192.168.7.7")
    assert answered_hosts(Config(host="0.0.0.0", allowed_hosts=("a",))) == ("a",)
    assert answered_hosts(Config(host="::")) == ()
