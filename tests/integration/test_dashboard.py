"""The dashboard (``/_ecsemu/ui``) end to end, in headless Chromium driven by Selenium.

A user's view of the emulator's own ``/_ecsemu/ui``: resources made through boto3 (simulated
runtime, behind an ALB) appear on the page; a task's target health change and a rolling
deployment show without a reload (a marker set in the page survives); the page says
"disconnected" while the server restarts and recovers when it is back (a server process, durable
state); a state that fails to build shows as a server error. Values are written as text: markup
in a listener rule's condition stays text.

Chromium is Debian's (``scripts/ensure-chromium.sh`` installs it); Selenium is pointed at its
``chromedriver`` so nothing is ever downloaded. Screenshots go to ``$ECSEMU_TEST_ARTIFACTS``
(default ``test-artifacts/dashboard/`` in the checkout).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import REPO, client, free_port, wait_until
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from ecsemu.gateway.dashboard import register_dashboard

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1600",
)  # fmt: skip
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}
HEALTH = {
    "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2,
}  # fmt: skip
MARKUP = '<img src=x id="injected">'


def artifacts_dir() -> Path:
    path = Path(os.environ.get("ECSEMU_TEST_ARTIFACTS") or REPO / "test-artifacts" / "dashboard")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            f"the dashboard tests need Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
            "run scripts/ensure-chromium.sh (scripts/test.sh does)"
        )
    from selenium import webdriver  # noqa: PLC0415 (a test dependency of this module only)
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    profile = tempfile.mkdtemp(prefix="ecsemu-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for checks
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class DashboardServer:
    """The dashboard's routes on a Flask app of their own, over ``state``."""

    def __init__(self, state: Callable[[], dict[str, Any]], port: int = 0) -> None:
        app = Flask("dashboard-test")
        register_dashboard(app, state)
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/_ecsemu/ui"
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard-test", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def shot(driver: Any, name: str) -> Path:
    path = artifacts_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def on_page(driver: Any, script: str, what: str, timeout: float = 40.0) -> Any:
    """Poll the page until ``script`` (a JS expression) is truthy; its value."""
    return wait_until(lambda: driver.execute_script(f"return {script};"), timeout=timeout, interval=0.2, what=what)


def text_of(driver: Any, selector: str) -> str:
    return str(
        driver.execute_script(
            "const n = document.querySelector(arguments[0]); return n ? n.textContent : '';", selector
        )
    )


def _definition(ecs: Any, image: str) -> str:
    return str(
        ecs.register_task_definition(
            family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            executionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            containerDefinitions=[{
                "name": "web", "image": image, "portMappings": [{"containerPort": 8080}], "stopTimeout": 2,
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "app"}},
            }],
        )["taskDefinition"]["taskDefinitionArn"]
    )  # fmt: skip


def _alb(elbv2: Any, port: int) -> str:
    lb = elbv2.create_load_balancer(Name="front", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="ip", **HEALTH)
    tg_arn = str(tg["TargetGroups"][0]["TargetGroupArn"])
    elbv2.modify_target_group_attributes(
        TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}]
    )
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]  # fmt: skip
    elbv2.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=10,
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Probe", "Values": [MARKUP]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )  # fmt: skip
    elbv2.create_rule(
        ListenerArn=listener["ListenerArn"], Priority=20,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}], Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )  # fmt: skip
    return tg_arn


def _running_tasks(driver: Any, definition: str) -> Any:
    return driver.execute_script(
        """return [...document.querySelectorAll('[data-service="web"] tr.task')]
             .filter(r => r.querySelector('.last-status').textContent === 'RUNNING'
                          && r.querySelector('.desired-status').textContent === 'RUNNING'
                          && r.children[1].textContent === arguments[0])
             .map(r => r.dataset.taskArn);""",
        definition,
    )


def test_the_page_follows_a_service_its_target_health_and_a_rolling_deployment(browser: Any, endpoint: str) -> None:
    ecs, elbv2 = client("ecs", endpoint), client("elbv2", endpoint)
    browser.get(f"{endpoint}/_ecsemu/ui")
    on_page(browser, "document.querySelector('#connection').dataset.state === 'connected'", "the page to connect")
    assert "Nothing here yet" in text_of(browser, "#content")
    browser.execute_script("window.__sameDocument = 'yes';")  # gone if the page ever reloads

    listener_port = free_port()
    tg = _alb(elbv2, listener_port)
    ecs.create_cluster(clusterName="shop")
    v1 = _definition(ecs, "web:v1")
    ecs.create_service(
        cluster="shop", serviceName="web", taskDefinition=v1, desiredCount=2, launchType="FARGATE",
        networkConfiguration=NETWORK, healthCheckGracePeriodSeconds=600,
        loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}],
    )  # fmt: skip
    client("ecs", endpoint, region_name="eu-west-1").create_cluster(clusterName="elsewhere")

    on_page(browser, "document.querySelector('[data-service=\"web\"]')", "the service to appear")
    healthy = """[...document.querySelectorAll('[data-service="web"] tr.task')].filter(r =>
        r.querySelector('.last-status').textContent === 'RUNNING'
        && r.querySelector('.targets [data-state="healthy"]')).length === 2"""
    on_page(browser, healthy, "two running tasks with healthy targets")
    service_text = text_of(browser, '[data-service="web"]')
    assert "desired 2 · running 2 · pending 0" in service_text
    assert "web:1" in service_text and "ROLLING" in service_text
    row_text = text_of(browser, '[data-service="web"] tr.task')
    assert "127.0.0.1:" in row_text and "→ 8080/tcp" in row_text  # the host port on loopback
    assert "group /ecs/web" in row_text and "stream app/web/" in row_text
    assert browser.execute_script("return document.querySelectorAll('.logs-cell a').length;") == 0  # no dead links
    listener = text_of(browser, f'[data-listener-port="{listener_port}"]')
    assert f"127.0.0.1:{listener_port}" in listener or "127.0.0.1:" in listener
    assert "fixed-response 404" in listener and "path-pattern: /*" in listener
    assert MARKUP in listener  # shown as text ...
    assert browser.execute_script("return document.getElementById('injected');") is None  # ... never as markup
    assert browser.execute_script("return document.querySelectorAll('#scopes a').length;") == 2  # two regions
    assert "Account 123456789012 · eu-west-1" in text_of(browser, "#content")
    assert browser.execute_script("return document.querySelector('.scaling');") is None  # no auto scaling data
    shot(browser, "01-service-healthy")

    victim = _running_tasks(browser, "web:1")[0]
    answer = requests.post(
        f"{endpoint}/_ecsemu/simulated/health", json={"taskArn": victim, "healthy": False}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    on_page(
        browser,
        f'document.querySelector(\'[data-task-arn="{victim}"] .targets [data-state="unhealthy"]\')',
        "the victim's target to show unhealthy",
    )
    assert browser.execute_script("return window.__sameDocument;") == "yes"
    shot(browser, "02-target-unhealthy")

    ecs.update_service(cluster="shop", service="web", taskDefinition=_definition(ecs, "web:v2"))
    on_page(
        browser,
        """document.querySelectorAll('[data-service="web"] tr.deployment').length === 2
           && document.querySelector('[data-service="web"] tr.deployment[data-status="PRIMARY"]').textContent.includes('web:2')""",
        "the new deployment beside the old one",
    )
    shot(browser, "03-rolling-deployment")
    on_page(
        browser,
        """document.querySelectorAll('[data-service="web"] tr.deployment').length === 1
           && document.querySelector('[data-service="web"]').dataset.rolloutState === 'COMPLETED'""",
        "the rolling deployment to complete",
        timeout=90,
    )
    assert len(_running_tasks(browser, "web:2")) == 2
    assert _running_tasks(browser, "web:1") == []
    assert browser.execute_script("return window.__sameDocument;") == "yes"
    shot(browser, "04-deployment-completed")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []  # no script error, nothing the page's security policy had to block


def test_the_page_says_disconnected_while_the_server_restarts(browser: Any, start_server: Any) -> None:
    port = free_port()
    first = start_server("--runtime", "simulated", port=port)
    client("ecs", first.endpoint).create_cluster(clusterName="steady")
    browser.get(f"{first.endpoint}/_ecsemu/ui")
    on_page(browser, "document.querySelector('[data-cluster=\"steady\"]')", "the cluster to appear")
    browser.execute_script("window.__sameDocument = 'yes';")
    first.kill(signal.SIGTERM)
    on_page(browser, "document.querySelector('#connection').dataset.state === 'disconnected'", "the page to notice")
    assert text_of(browser, "#connection") == "disconnected — retrying"
    assert browser.execute_script("return document.querySelector('[data-cluster=\"steady\"]') !== null;")  # kept
    shot(browser, "05-disconnected")
    again = start_server("--runtime", "simulated", port=port, data_dir=first.data_dir)
    client("ecs", again.endpoint).create_cluster(clusterName="later")
    on_page(browser, "document.querySelector('[data-cluster=\"later\"]')", "the page to recover")
    assert text_of(browser, "#connection") == "live"
    assert browser.execute_script("return document.querySelector('[data-cluster=\"steady\"]') !== null;")  # durable
    assert browser.execute_script("return window.__sameDocument;") == "yes"


def test_a_failing_state_shows_as_a_server_error_and_recovers(browser: Any) -> None:
    failing = {"now": True}

    def state() -> dict[str, Any]:
        if failing["now"]:
            raise RuntimeError("a record the dashboard cannot read")
        return {"scopes": []}

    server = DashboardServer(state)
    try:
        browser.get(server.url)
        on_page(browser, "document.querySelector('#connection').dataset.state === 'error'", "the error to show")
        assert text_of(browser, "#connection") == "server error (HTTP 500) — retrying"
        failing["now"] = False
        on_page(browser, "document.querySelector('#connection').dataset.state === 'connected'", "the page to recover")
        assert "Nothing here yet" in text_of(browser, "#content")
    finally:
        server.stop()
