"""The load balancer's traffic counters on the live server (simulated runtime), read as the
metrics collector reads them: ``LoadBalancerSync.traffic_counters()``, keyed by the ARNs the
ELBv2 API gave. The targets are plain HTTP servers on 127.0.0.1 registered by IP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from alb_fixture import listener_port
from conftest import client, wait_until

from ecsemu.app import Emulator
from ecsemu.model.lb_metrics import TrafficCounters

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0a1", "subnet-0b2"]
HEALTH = {
    "HealthCheckPath": "/", "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2,
}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    """``/status/<code>`` answers that status; anything else 200."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = self.path.split("?")[0].split("/")
        status = int(parts[2]) if len(parts) > 2 and parts[1] == "status" else 200
        body = b"status %d" % status
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def target_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


def _counters(emulator: Emulator) -> dict[tuple[str, str | None], TrafficCounters]:
    return {c.key: c for c in emulator.load_balancers.traffic_counters()}


@pytest.fixture
def alb(endpoint: str, target_port: int) -> dict[str, Any]:
    """An ALB, a target group with the raw target, a listener forwarding to it and a rule
    answering ``/fixed`` with a fixed 404."""
    elbv2 = client("elbv2", endpoint)
    lb = elbv2.create_load_balancer(Name="counted", Subnets=SUBNETS)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="counted", Protocol="HTTP", Port=80, VpcId=VPC, TargetType="ip", **HEALTH)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "127.0.0.1", "Port": target_port}])
    listener = elbv2.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]
    )["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/fixed"]}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}],
    )
    return {"elbv2": elbv2, "lb": lb, "tg": tg, "listener": listener, "port": listener_port(elbv2, listener)}


def test_counters_by_load_balancer_and_target_group_arn(emulator: Emulator, alb: dict[str, Any]) -> None:
    port, lb, tg = alb["port"], alb["lb"], alb["tg"]
    before = _counters(emulator)
    assert (lb, tg) not in before
    with requests.Session() as session:
        for path, status in (("/", 200), ("/a", 200), ("/status/404", 404), ("/status/500", 500), ("/fixed", 404)):
            assert session.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == status

    pair = wait_until(
        lambda: (c := _counters(emulator).get((lb, tg))) is not None and c.target_response_count == 4 and c,
        what="the target group's counters",
    )
    totals = _counters(emulator)[(lb, None)]
    assert (pair.request_count, pair.target_2xx, pair.target_4xx, pair.target_5xx) == (4, 2, 1, 1)
    assert (pair.elb_4xx, pair.elb_5xx) == (0, 0)
    assert pair.target_response_time_sum_s > 0
    assert (totals.request_count, totals.target_2xx, totals.target_4xx, totals.target_5xx) == (5, 2, 1, 1)
    assert (totals.elb_4xx, totals.elb_5xx, totals.new_connections) == (1, 0, 1)
    assert totals.target_response_time_sum_s == pair.target_response_time_sum_s
    assert totals.processed_bytes > pair.processed_bytes == 0  # bytes count per load balancer
    assert pair.load_balancer == lb.split(":loadbalancer/")[1]
    assert pair.target_group == "targetgroup/" + tg.split(":targetgroup/")[1]


def test_counters_of_a_deleted_target_group_are_forgotten(emulator: Emulator, alb: dict[str, Any]) -> None:
    port, lb, tg, elbv2 = alb["port"], alb["lb"], alb["tg"], alb["elbv2"]
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    wait_until(lambda: (lb, tg) in _counters(emulator), what="the target group's counters")
    elbv2.delete_load_balancer(LoadBalancerArn=lb)  # takes its listeners along
    elbv2.delete_target_group(TargetGroupArn=tg)
    wait_until(lambda: not any(key[0] == lb for key in _counters(emulator)), what="the counters to go")
