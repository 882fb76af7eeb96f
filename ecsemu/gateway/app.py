"""The gateway's WSGI application: route → parse → validate → provider → serialize.

AWS requests (``POST /``) take a plain-WSGI fast path (``AwsHandler``: no framework objects,
a few dozen microseconds of overhead); the admin endpoints go through Flask.

Routing: JSON-protocol services by the prefix of ``X-Amz-Target``; a form body
(``application/x-www-form-urlencoded``) without ``X-Amz-Target`` goes to a query-protocol
service, chosen by the SigV4 credential scope's service name (``elasticloadbalancing``) or,
unsigned, by which service knows the ``Action``. Each request's account and region come from
its SigV4 credential scope. The gateway is the only place that knows both
HTTP and services; it never writes state itself except through ``/_ecsemu/reset``.

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
400 for a malformed body or when the runtime is not the simulated one).

The dashboard (``dashboard.py``, when ``create_app`` is given ``dashboard_state``): ``GET /_ecsemu/ui``
and its files and JSON under ``/_ecsemu/ui/``, read-only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, runtime_checkable

from flask import Flask, request

from ecsemu import __version__
from ecsemu.context import RequestContext
from ecsemu.errors import AwsError, ServerError
from ecsemu.gateway.browser import Refusal, RequestGuard, without_cors_grants
from ecsemu.gateway.dashboard import register_dashboard
from ecsemu.protocol import json_protocol, query_protocol
from ecsemu.protocol.sigv4 import account_for, read_caller
from ecsemu.protocol.validation import load_shapes_document, validate_input

log = logging.getLogger(__name__)
api_log = logging.getLogger("ecsemu.api")

DEFAULT_REGION = "us-east-1"
MAX_AWS_BODY_BYTES = max(json_protocol.MAX_BODY_BYTES, query_protocol.MAX_FORM_BYTES)


class SimulatedTargets(Protocol):
    """The simulated runtime's test hook (``SimulatedRuntime.set_target_health``); raises a
    ``LookupError`` for a task or binding it does not hold."""

    def set_target_health(
        self, task_arn: str, *, healthy: bool, container_name: str | None = None, host_port: int | None = None
    ) -> list[int]: ...


class JsonProvider(Protocol):
    service: str
    target_prefix: str
    json_version: str

    def handle(self, context: RequestContext, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...


@runtime_checkable
class QueryProvider(Protocol):
    """A query-protocol service: ``service`` is botocore's name for it (and its shapes
    document's), ``signing_name`` the service of its SigV4 credential scope."""

    service: str
    signing_name: str

    def handle(self, context: RequestContext, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class GatewayConfig:
    default_account: str = "123456789012"
    default_region: str = DEFAULT_REGION
    runtime_name: str = "simulated"
    validate: bool = True
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides loopback and localhost


@dataclass(frozen=True)
class AwsRequest:
    """What the AWS handlers read of an HTTP request (no framework objects)."""

    target: str
    content_type: str
    authorization: str | None
    body: bytes
    query_string: bytes = b""

    @property
    def mimetype(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()


AwsAnswer = tuple[int, list[tuple[str, str]], bytes]


class AwsHandler:
    """Answers AWS API requests: JSON protocols by ``X-Amz-Target``, query protocols by form."""

    def __init__(
        self,
        providers: Sequence[JsonProvider | QueryProvider],
        config: GatewayConfig,
        consistent: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self.config = config
        self.consistent = consistent
        self.query_providers = [p for p in providers if isinstance(p, QueryProvider)]
        json_providers = [p for p in providers if not isinstance(p, QueryProvider)]
        self.by_prefix = {p.target_prefix: p for p in json_providers}
        self.known = {p.service: frozenset(load_shapes_document(p.service)["operations"]) for p in json_providers}
        self.by_signing_name = {p.signing_name: p for p in self.query_providers}

    def _context(self, authorization: str | None, request_id: str) -> RequestContext:
        caller = read_caller(authorization)
        return RequestContext(
            account_id=account_for(caller.access_key_id, self.config.default_account),
            region=caller.region or self.config.default_region,
            request_id=request_id,
        )

    def _is_query(self, request: AwsRequest) -> bool:
        return not request.target and bool(self.query_providers) and request.mimetype == query_protocol.FORM_CONTENT_TYPE

    def refuse(self, request: AwsRequest, refusal: Refusal) -> AwsAnswer:
        """The browser-safety refusal of ``request``, in its own protocol (nothing is parsed)."""
        request_id = str(uuid.uuid4())
        if self._is_query(request):
            error = AwsError(refusal.message, code="AccessDenied", status_code=refusal.status)
            error.sender_fault = True
            provider = self.by_signing_name.get(read_caller(request.authorization).service or "")
            service = query_protocol.query_service((provider or self.query_providers[0]).service)
            body = query_protocol.serialize_error(error, request_id, service.namespace)
            return refusal.status, [("Content-Type", query_protocol.XML_CONTENT_TYPE), ("x-amzn-RequestId", request_id)], body
        error = AwsError(refusal.message, code="AccessDeniedException", status_code=refusal.status)
        error.sender_fault = True
        json_provider = self.by_prefix.get(request.target.partition(".")[0])
        version = json_provider.json_version if json_provider else "1.1"
        headers = [("Content-Type", json_protocol.content_type(version)), ("x-amzn-RequestId", request_id)]
        return refusal.status, headers, json_protocol.serialize_error(error)

    def handle(self, request: AwsRequest) -> AwsAnswer:
        request_id = str(uuid.uuid4())
        if self._is_query(request):
            return self.handle_query(request, request_id)
        started = time.perf_counter()
        target = request.target
        provider = self.by_prefix.get(target.partition(".")[0])
        version = provider.json_version if provider else "1.1"
        operation: str | None = None
        code = ""
        try:
            if provider is None:
                raise json_protocol.UnknownOperationException("")
            operation = json_protocol.operation_from_target(target, provider.target_prefix)
            if operation is None or operation not in self.known[provider.service]:
                raise json_protocol.UnknownOperationException("")
            params = json_protocol.parse_body(request.content_type, request.body)
            if self.config.validate:
                validate_input(provider.service, operation, params)
            with self.consistent():
                result = provider.handle(self._context(request.authorization, request_id), operation, params)
            body, status = json_protocol.serialize_result(result), 200
        except AwsError as error:
            body, status, code = json_protocol.serialize_error(error), error.status_code, error.code
        except Exception:
            log.exception("unexpected failure in %s", target)
            body, status, code = json_protocol.serialize_error(ServerError("Internal failure.")), 500, "InternalFailure"
        log_call(provider.service if provider else "?", operation or target or "?", status, started, code)
        return status, [("Content-Type", json_protocol.content_type(version)), ("x-amzn-RequestId", request_id)], body

    def _query_provider_for(self, action: str) -> tuple[QueryProvider, query_protocol.QueryService] | None:
        for candidate in self.query_providers:
            service = query_protocol.query_service(candidate.service)
            if action in service.operations:
                return candidate, service
        return None

    def handle_query(self, request: AwsRequest, request_id: str) -> AwsAnswer:
        started = time.perf_counter()
        code = ""
        caller = read_caller(request.authorization)
        provider = self.by_signing_name.get(caller.service or "")
        service = query_protocol.query_service(provider.service) if provider else None
        action = ""
        try:
            form = query_protocol.read_form(request.body, request.query_string)
            action = query_protocol.action_of(form)
            version = form.get("Version")
            if provider is None or service is None:
                found = self._query_provider_for(action)
                if found is None:
                    raise query_protocol.invalid_action(action, version)
                provider, service = found
            if action not in service.operations or (version and version != service.api_version):
                raise query_protocol.invalid_action(action, version)
            params = service.parse(action, form)
            if self.config.validate:
                validate_input(provider.service, action, params)
            with self.consistent():
                result = provider.handle(self._context(request.authorization, request_id), action, params)
            body, status = service.serialize_result(action, result, request_id), 200
        except AwsError as error:
            body, status = self._query_error(error, service, request_id)
            code = error.code
        except Exception:
            log.exception("unexpected failure in %s", action or "a query request")
            body, status = self._query_error(ServerError("Internal failure."), service, request_id)
            code = "InternalFailure"
        log_call(provider.service if provider else "?", action or "?", status, started, code)
        return status, [("Content-Type", query_protocol.XML_CONTENT_TYPE), ("x-amzn-RequestId", request_id)], body

    def _query_error(
        self, error: AwsError, service: query_protocol.QueryService | None, request_id: str
    ) -> tuple[bytes, int]:
        if service is None:
            service = query_protocol.query_service(self.query_providers[0].service)
        return service.serialize_error(error, request_id)


def log_call(service: str, operation: str, status: int, started: float, code: str) -> None:
    """One INFO line per AWS call on the ``ecsemu.api`` logger: service, operation, status,
    milliseconds and the error code; the same as fields for ``--log-format json``."""
    elapsed_ms = (time.perf_counter() - started) * 1000
    if not api_log.isEnabledFor(logging.INFO):
        return
    fields = {"service": service, "operation": operation, "status": status, "ms": round(elapsed_ms, 1)}
    if code:
        fields["error"] = code
    api_log.info(
        "%s %s %d %.1fms%s", service, operation, status, elapsed_ms, f" {code}" if code else "", extra={"fields": fields}
    )


class Gateway:
    """The WSGI application: AWS requests (``POST /``) on a plain-WSGI fast path, everything
    else (the admin endpoints) through Flask."""

    def __init__(self, aws: AwsHandler, admin: Flask, guard: RequestGuard | None = None) -> None:
        self.aws = aws
        self.admin = admin
        self.guard = guard or RequestGuard()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refusal = self.guard.refusal(environ)
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "/") != "/":
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
    providers: Sequence[JsonProvider | QueryProvider],
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
            return {"error": "taskArn (string) and healthy (boolean) are required; containerName a string, hostPort an integer"}, 400
        try:
            ports = simulated_targets.set_target_health(task_arn, healthy=healthy, container_name=container, host_port=host_port)
        except LookupError as error:
            return {"error": str(error.args[0]) if error.args else "not found"}, 404
        return {"taskArn": task_arn, "healthy": healthy, "hostPorts": ports}, 200

    if dashboard_state is not None:
        register_dashboard(admin, dashboard_state)

    return Gateway(AwsHandler(providers, config, consistent), admin, RequestGuard.allowing(config.allowed_hosts))
