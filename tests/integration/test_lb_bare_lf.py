"""A service behind the embedded ALB whose container ends its response lines in a bare LF (as
many small servers and CGI scripts do): its targets pass their health checks, the service
becomes stable with no task replaced, and clients get the answers, with CRLF line ends."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from alb_fixture import IMAGE, NETWORK, WAIT, listener_port
from conftest import client, wait_until

pytestmark = pytest.mark.docker

HANDLER = r"""#!/bin/sh
# One exchange per connection (busybox nc -e): every line of the answer ends in a bare LF.
cr="$(printf '\r')"
IFS= read -r -t 10 line || exit 0
set -f
set -- ${line%"$cr"}
path="${2:-/}"
while IFS= read -r -t 5 header; do [ -z "${header%"$cr"}" ] && break; done
case "$path" in
/chunked)
    printf 'HTTP/1.1 200 OK\nContent-Type: text/plain\nTransfer-Encoding: chunked\nConnection: close\n\n'
    printf '5\nhello\n7\n, world\n0\n\n'
    ;;
*)
    body="bare-lf $path"
    printf 'HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: %s\nConnection: close\n\n%s' "${#body}" "$body"
    ;;
esac
"""
"""The container's handler, passed in its environment and written out by its command."""

COMMAND = (
    'printf "%s\\n" "$HANDLER" >/tmp/handler.sh && chmod +x /tmp/handler.sh && trap "exit 0" TERM'
    " && { nc -ll -p 8080 -e /tmp/handler.sh & wait; }"
)


def raw_get(port: int, path: str) -> bytes:
    """The bytes the listener answers ``GET path`` with (the connection closed after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: bare-lf\r\nConnection: close\r\n\r\n" % path.encode())
        received = b""
        while data := sock.recv(65536):
            received += data
    return received


def test_a_service_answering_with_bare_lf_becomes_stable_and_serves(docker_ecs: Any, docker_emulator: Any) -> None:
    ecs, elbv2 = docker_ecs, client("elbv2", docker_emulator.endpoint)
    lb = elbv2.create_load_balancer(Name="bare-lf", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name="bare-lf", Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2,
    )["TargetGroups"][0]  # fmt: skip
    tg_arn = tg["TargetGroupArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=18091,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )["Listeners"][0]  # fmt: skip
    ecs.create_cluster(clusterName="bare-lf")
    ecs.register_task_definition(
        family="bare-lf", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{
            "name": "web", "image": IMAGE, "command": ["sh", "-c", COMMAND], "stopTimeout": 5,
            "environment": [{"name": "HANDLER", "value": HANDLER}], "portMappings": [{"containerPort": 8080}],
        }],
    )  # fmt: skip
    ecs.create_service(
        cluster="bare-lf", serviceName="web", taskDefinition="bare-lf", desiredCount=2, launchType="FARGATE",
        networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=0,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
    )  # fmt: skip
    try:
        ecs.get_waiter("services_stable").wait(cluster="bare-lf", services=["web"], WaiterConfig=WAIT)
        tasks = set(ecs.list_tasks(cluster="bare-lf", serviceName="web")["taskArns"])
        assert len(tasks) == 2

        def states() -> list[str]:
            described = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
            return [d["TargetHealth"]["State"] for d in described]

        wait_until(lambda: states() == ["healthy", "healthy"], timeout=60, what="two healthy bare-LF targets")
        port = listener_port(elbv2, listener["ListenerArn"])

        answer = raw_get(port, "/hello")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\n" not in head.replace(b"\r\n", b""), answer
        assert b"Content-Type: text/plain\r\n" in head + b"\r\n" and body == b"bare-lf /hello"
        chunked = raw_get(port, "/chunked")
        head, _, body = chunked.partition(b"\r\n\r\n")
        assert b"Transfer-Encoding: chunked" in head and b"\n" not in head.replace(b"\r\n", b""), chunked
        assert body.endswith(b"0\r\n\r\n") and b"hello" in body and b", world" in body

        # No task was replaced: health checks never failed, the deployment completed.
        service = ecs.describe_services(cluster="bare-lf", services=["web"])["services"][0]
        assert set(ecs.list_tasks(cluster="bare-lf", serviceName="web")["taskArns"]) == tasks
        assert ecs.list_tasks(cluster="bare-lf", serviceName="web", desiredStatus="STOPPED")["taskArns"] == []
        assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
        assert not [e["message"] for e in service["events"] if "unhealthy" in e["message"]]
    finally:
        ecs.update_service(cluster="bare-lf", service="web", desiredCount=0)
        ecs.delete_service(cluster="bare-lf", service="web", force=True)
        ecs.get_waiter("services_inactive").wait(cluster="bare-lf", services=["web"], WaiterConfig=WAIT)
