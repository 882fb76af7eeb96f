"""An ECS service behind the embedded Application Load Balancer, with boto3 only, as a user
would do it: traffic spreads over the tasks, an unhealthy task leaves the rotation and is
replaced, and scaling in under steady load loses no request."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from alb_fixture import WAIT, SteadyLoad, answer
from conftest import wait_until

pytestmark = pytest.mark.docker


def _task_arns(ecs: Any) -> set[str]:
    return set(ecs.list_tasks(cluster="alb", serviceName="web")["taskArns"])


def test_requests_spread_over_every_task(web_behind_alb: dict[str, Any]) -> None:
    ecs, port = web_behind_alb["ecs"], web_behind_alb["port"]
    tasks = _task_arns(ecs)
    seen: set[str] = set()
    wait_until(lambda: seen.add((answer(port) or {}).get("taskArn", "")) or tasks <= seen, timeout=30, what="all three tasks to answer")
    events = [e["message"] for e in ecs.describe_services(cluster="alb", services=["web"])["services"][0]["events"]]
    assert f"(service web) registered 1 targets in (target-group {web_behind_alb['tg']})" in events


def test_unhealthy_task_leaves_the_rotation_and_is_replaced(web_behind_alb: dict[str, Any]) -> None:
    ecs, elbv2, tg = web_behind_alb["ecs"], web_behind_alb["elbv2"], web_behind_alb["tg"]
    victim = ecs.describe_tasks(cluster="alb", tasks=sorted(_task_arns(ecs))[:1])["tasks"][0]
    own_port = victim["containers"][0]["networkBindings"][0]["hostPort"]
    assert requests.get(f"http://127.0.0.1:{own_port}/health/fail", timeout=5).ok

    def replaced() -> bool:
        task = ecs.describe_tasks(cluster="alb", tasks=[victim["taskArn"]])["tasks"][0]
        return task["desiredStatus"] == "STOPPED" and len(_task_arns(ecs)) == 3

    wait_until(replaced, timeout=90, what="the unhealthy task to be replaced")
    stopped = ecs.describe_tasks(cluster="alb", tasks=[victim["taskArn"]])["tasks"][0]
    assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {tg})"
    # While it drains and after, it gets no traffic: every answer comes from another task.
    for _ in range(20):
        answered = answer(web_behind_alb["port"])
        assert answered is not None and answered["taskArn"] != victim["taskArn"]
    del elbv2


def test_scale_in_under_load_loses_no_request(web_behind_alb: dict[str, Any]) -> None:
    ecs = web_behind_alb["ecs"]
    with SteadyLoad(web_behind_alb["port"]) as load:
        ecs.update_service(cluster="alb", service="web", desiredCount=1)
        ecs.get_waiter("services_stable").wait(cluster="alb", services=["web"], WaiterConfig=WAIT)
        wait_until(lambda: len(_task_arns(ecs)) == 1, timeout=60, what="one task left")
        load.more(what="more requests after the scale-in")
    assert load.failures == []
