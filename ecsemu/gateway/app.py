"""The gateway's WSGI application: route → parse → validate → provider → serialize.

AWS requests take a plain-WSGI fast path (``aws.AwsHandler``: no framework objects, a few
dozen microseconds of overhead): ``POST /``, ``POST /service/<Service>/operation/<Operation>``
(Smithy RPC v2 CBOR) and a form posted to an SQS queue URL (``/<account>/<queue name>``). The
admin endpoints go through Flask.

Routing (``aws.py``): RPC v2 CBOR by path; JSON-protocol services by the prefix of
``X-Amz-Target``; a form body (``application/x-www-form-urlencoded``) without ``X-Amz-Target``
goes to a query-protocol service, chosen by the SigV4 credential scope's service name
(``elasticloadbalancing``, ``monitoring``, ``sqs``) or, unsigned, by which service knows the
``Action``. One provider may be answered in several protocols (``endpoints.py``: CloudWatch in
CBOR, JSON and query). Each request's account and region come from its SigV4 credential scope.
The gateway is the only place that knows both HTTP and services; it never writes state itself
except through ``/_ecsemu/reset``.

One call, one snapshot: every provider call runs inside ``consistent()`` (the store's
``snapshot``), so all the records a call reads are of one revision — a count is never read
from a different moment than the records it counts, and a writing call answers with what it
wrote.

Browser safety (``browser.py``): a request whose ``Host`` is not loopback, ``localhost`` or an
allowed name, or whose ``Origin`` is foreign, is refused 403 (AWS requests with an AWS-shaped
``AccessDeniedException``/``AccessDenied`` in their own protocol, admin requests with a JSON
``{"error"}``); a state-changing admin request without ``Content-Type: application/json`` is
refused 415; no answer carries an ``Access-Control-Allow-*`` header.

Admin endpoints (not AWS): ``GET /_ecsemu/health``, ``POST /_ecsemu/reset``,
``GET /_ecsemu/listeners`` (every ELBv2 listener with the address and port the load balancer
really bound for it: ``Port`` when it was free, another one otherwise), and the
simulated runtime's target-health hook ``POST /_ecsemu/simulated/health`` (JSON
``{"taskArn", "healthy", "containerName"?, "hostPort"?}``: the task's load-balancer targets
pass or fail their health checks from the next check on; 404 for an unknown task or binding,
400 for a malformed body or when the runtime is not the simulated one), and its utilization
hook ``POST /_ecsemu/simulated/utilization`` (JSON ``{"taskArn", "cpu"?, "memory"?}``, percent
of what the task reserves: the AWS/ECS metrics report it from the next sample on; same errors).

The dashboard (``dashboard.py``, when ``create_app`` is given ``dashboard_state``): ``GET /_ecsemu/ui``
and its files and JSON under ``/_ecsemu/ui/``, read-only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from http import HTTPStatus
from typing import Any, Protocol

from flask import Flask, request

from ecsemu import __version__
from ecsemu.gateway.aws import (
    DEFAULT_REGION,
    MAX_AWS_BODY_BYTES,
    AwsAnswer,
    AwsHandler,
    AwsRequest,
    GatewayConfig,
    log_call,
)
from ecsemu.gateway.browser import Refusal, RequestGuard, without_cors_grants
from ecsemu.gateway.dashboard import register_dashboard
from ecsemu.gateway.endpoints import AnyProvider, JsonProvider, QueryProvider
from ecsemu.protocol import query_protocol, rpcv2_cbor

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_REGION",
    "MAX_AWS_BODY_BYTES",
    "AwsAnswer",
    "AwsHandler",
    "AwsRequest",
    "Gateway",
    "GatewayConfig",
    "JsonProvider",
    "QueryProvider",
    "SimulatedTargets",
    "create_app",
    "is_aws_request",
    "log_call",
]

# SQS's query clients post to the queue URL: ``/<account id>/<queue name>``.
_QUEUE_PATH = re.compile(r"/[0-9]{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?")


class SimulatedTargets(Protocol):
    """The simulated runtime's test hook (``SimulatedRuntime.set_target_health``); raises a
    ``LookupError`` for a task or binding it does not hold."""

    def set_target_health(
        self, task_arn: str, *, healthy: bool, container_name: str | None = None, host_port: int | None = None
    ) -> list[int]: ...

    def set_utilization(
        self, task_arn: str, *, cpu_percent: float | None = None, memory_percent: float | None = None
    ) -> None: ...


def is_aws_request(environ: dict[str, Any]) -> bool:
    """Whether the request is for an AWS API: ``POST /``, ``POST /service/...`` (RPC v2 CBOR),
    or a form posted to an SQS queue URL; everything else is the admin app's."""
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    path = str(environ.get("PATH_INFO", "/"))
    if path == "/" or path.startswith(rpcv2_cbor.PATH_PREFIX):
        return True
    mimetype = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    return mimetype == query_protocol.FORM_CONTENT_TYPE and _QUEUE_PATH.fullmatch(path) is not None


class Gateway:
    """The WSGI application: AWS requests (``POST /``) on a plain-WSGI fast path, everything
    else (the admin endpoints) through Flask."""

    def __init__(self, aws: AwsHandler, admin: Flask, guard: RequestGuard | None = None) -> None:
        self.aws = aws
        self.admin = admin
        self.guard = guard or RequestGuard()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.guard.refusal(environ)
        if not is_aws_request(environ):
            if refusal is not None:
                return self._refuse_admin(refusal, start_response)

            def admin_start_response(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
                return start_response(status, without_cors_grants(headers), *exc_info)

            return self.admin(environ, admin_start_response)
        request = AwsRequest(
            target=environ.get("HTTP_X_AMZ_TARGET", ""),
            content_type=environ.get("CONTENT_TYPE", ""),
            authorization=environ.get("HTTP_AUTHORIZATION"),
            body=b"",
            query_string=environ.get("QUERY_STRING", "").encode("latin-1"),
            path=str(environ.get("PATH_INFO", "/")),
            host=str(environ.get("HTTP_HOST", "")),
            smithy_protocol=str(environ.get("HTTP_SMITHY_PROTOCOL", "")).strip(),
            content_encoding=str(environ.get("HTTP_CONTENT_ENCODING", "")),
        )
        if refusal is not None:
            status, headers, payload = self.aws.refuse(request, refusal)
        else:
            # Never more than one byte past the protocols' bound: that byte is enough for them
            # to answer their AWS-shaped "too large" error.
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_AWS_BODY_BYTES + 1)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            status, headers, payload = self.aws.handle(dataclasses.replace(request, body=body))
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(payload)))])
        return [payload]

    @staticmethod
    def _refuse_admin(refusal: Refusal, start_response: Callable[..., Any]) -> Iterable[bytes]:
        payload = json.dumps({"error": refusal.message}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response(f"{refusal.status} {HTTPStatus(refusal.status).phrase}", headers)
        return [payload]


def create_app(
    providers: Sequence[AnyProvider],
    config: GatewayConfig,
    reset: Callable[[], None],
    simulated_targets: SimulatedTargets | None = None,
    bound_listeners: Callable[[], list[dict[str, Any]]] | None = None,
    consistent: Callable[[], AbstractContextManager[None]] = nullcontext,
    dashboard_state: Callable[[], dict[str, Any]] | None = None,
) -> Gateway:
    admin = Flask("ecsemu")

    @admin.get("/_ecsemu/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "runtime": config.runtime_name}

    @admin.post("/_ecsemu/reset")
    def reset_state() -> dict[str, Any]:
        reset()
        return {"status": "reset"}

    @admin.get("/_ecsemu/listeners")
    def listeners() -> dict[str, Any]:
        return {"listeners": bound_listeners() if bound_listeners is not None else []}

    @admin.post("/_ecsemu/simulated/health")
    def simulated_health() -> tuple[dict[str, Any], int]:
        if simulated_targets is None:
            return {"error": f"the {config.runtime_name} runtime's targets are health-checked for real"}, 400
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {"error": "expected a JSON object"}, 400
        task_arn, healthy = body.get("taskArn"), body.get("healthy")
        container, host_port = body.get("containerName"), body.get("hostPort")
        if (
            not isinstance(task_arn, str)
            or not isinstance(healthy, bool)
            or not isinstance(container, str | None)
            or not (host_port is None or (isinstance(host_port, int) and not isinstance(host_port, bool)))
        ):
            return {
                "error": "taskArn (string) and healthy (boolean) are required; containerName a string, hostPort an integer"
            }, 400
        try:
            ports = simulated_targets.set_target_health(
                task_arn, healthy=healthy, container_name=container, host_port=host_port
            )
        except LookupError as error:
            return {"error": str(error.args[0]) if error.args else "not found"}, 404
        return {"taskArn": task_arn, "healthy": healthy, "hostPorts": ports}, 200

    @admin.post("/_ecsemu/simulated/utilization")
    def simulated_utilization() -> tuple[dict[str, Any], int]:
        if simulated_targets is None:
            return {"error": f"the {config.runtime_name} runtime's tasks are measured for real"}, 400
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {"error": "expected a JSON object"}, 400
        task_arn, cpu, memory = body.get("taskArn"), body.get("cpu"), body.get("memory")

        def percent(value: object) -> bool:
            return value is None or (
                isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10_000
            )

        if not isinstance(task_arn, str) or not percent(cpu) or not percent(memory) or (cpu is None and memory is None):
            return {"error": "taskArn (string) and cpu and/or memory (percent, 0 to 10000) are required"}, 400
        try:
            simulated_targets.set_utilization(task_arn, cpu_percent=cpu, memory_percent=memory)
        except LookupError as error:
            return {"error": str(error.args[0]) if error.args else "not found"}, 404
        return {"taskArn": task_arn, "cpu": cpu, "memory": memory}, 200

    if dashboard_state is not None:
        register_dashboard(admin, dashboard_state)

    return Gateway(AwsHandler(providers, config, consistent), admin, RequestGuard.allowing(config.allowed_hosts))


def tasks_gateway(gateway: Gateway, allowed_hosts: Sequence[str]) -> Gateway:
    """The gateway as tasks reach it (``169.254.170.2``, through the task relay): the same AWS
    APIs, no admin endpoint (every other path is 404), answering ``allowed_hosts`` besides
    loopback and localhost."""
    return Gateway(gateway.aws, Flask("ecsemu-tasks"), RequestGuard.allowing(allowed_hosts))
