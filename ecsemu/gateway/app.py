"""The gateway's WSGI application: route → parse → validate → provider → serialize.

AWS requests (``POST /``) take a plain-WSGI fast path (``AwsHandler``: no framework objects,
a few dozen microseconds of overhead); the admin endpoints go through Flask.

Routing: JSON-protocol services by the prefix of ``X-Amz-Target``; a form body
(``application/x-www-form-urlencoded``) without ``X-Amz-Target`` goes to a query-protocol
service, chosen by the SigV4 credential scope's service name (``elasticloadbalancing``) or,
unsigned, by which service knows the ``Action``. Each request's account and region come from
its SigV4 credential scope. The gateway is the only place that knows both
HTTP and services; it never writes state itself except through ``/_ecsemu/reset``.

Admin endpoints (not AWS): ``GET /_ecsemu/health``, ``POST /_ecsemu/reset``,
``GET /_ecsemu/listeners`` (every ELBv2 listener with the address and port the load balancer
really bound for it: ``Port`` when it was free, another one otherwise), and the
simulated runtime's target-health hook ``POST /_ecsemu/simulated/health`` (JSON
``{"taskArn", "healthy", "containerName"?, "hostPort"?}``: the task's load-balancer targets
pass or fail their health checks from the next check on; 404 for an unknown task or binding,
400 for a malformed body or when the runtime is not the simulated one).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, runtime_checkable

from flask import Flask, request

from ecsemu import __version__
from ecsemu.context import RequestContext
from ecsemu.errors import AwsError, ServerError
from ecsemu.protocol import json_protocol, query_protocol
from ecsemu.protocol.sigv4 import account_for, read_caller
from ecsemu.protocol.validation import load_shapes_document, validate_input

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"


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

    def __init__(self, providers: Sequence[JsonProvider | QueryProvider], config: GatewayConfig) -> None:
        self.config = config
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

    def handle(self, request: AwsRequest) -> AwsAnswer:
        request_id = str(uuid.uuid4())
        if not request.target and self.query_providers and request.mimetype == query_protocol.FORM_CONTENT_TYPE:
            return self.handle_query(request, request_id)
        target = request.target
        provider = self.by_prefix.get(target.partition(".")[0])
        version = provider.json_version if provider else "1.1"
        try:
            if provider is None:
                raise json_protocol.UnknownOperationException("")
            operation = json_protocol.operation_from_target(target, provider.target_prefix)
            if operation is None or operation not in self.known[provider.service]:
                raise json_protocol.UnknownOperationException("")
            params = json_protocol.parse_body(request.content_type, request.body)
            if self.config.validate:
                validate_input(provider.service, operation, params)
            result = provider.handle(self._context(request.authorization, request_id), operation, params)
            body, status = json_protocol.serialize_result(result), 200
        except AwsError as error:
            body, status = json_protocol.serialize_error(error), error.status_code
        except Exception:
            log.exception("unexpected failure in %s", target)
            body, status = json_protocol.serialize_error(ServerError("Internal failure.")), 500
        return status, [("Content-Type", json_protocol.content_type(version)), ("x-amzn-RequestId", request_id)], body

    def _query_provider_for(self, action: str) -> tuple[QueryProvider, query_protocol.QueryService] | None:
        for candidate in self.query_providers:
            service = query_protocol.query_service(candidate.service)
            if action in service.operations:
                return candidate, service
        return None

    def handle_query(self, request: AwsRequest, request_id: str) -> AwsAnswer:
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
            result = provider.handle(self._context(request.authorization, request_id), action, params)
            body, status = service.serialize_result(action, result, request_id), 200
        except AwsError as error:
            body, status = self._query_error(error, service, request_id)
        except Exception:
            log.exception("unexpected failure in %s", action or "a query request")
            body, status = self._query_error(ServerError("Internal failure."), service, request_id)
        return status, [("Content-Type", query_protocol.XML_CONTENT_TYPE), ("x-amzn-RequestId", request_id)], body

    def _query_error(
        self, error: AwsError, service: query_protocol.QueryService | None, request_id: str
    ) -> tuple[bytes, int]:
        if service is None:
            service = query_protocol.query_service(self.query_providers[0].service)
        return service.serialize_error(error, request_id)


class Gateway:
    """The WSGI application: AWS requests (``POST /``) on a plain-WSGI fast path, everything
    else (the admin endpoints) through Flask."""

    def __init__(self, aws: AwsHandler, admin: Flask) -> None:
        self.aws = aws
        self.admin = admin

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "/") != "/":
            return self.admin(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        request = AwsRequest(
            target=environ.get("HTTP_X_AMZ_TARGET", ""),
            content_type=environ.get("CONTENT_TYPE", ""),
            authorization=environ.get("HTTP_AUTHORIZATION"),
            body=body,
            query_string=environ.get("QUERY_STRING", "").encode("latin-1"),
        )
        status, headers, payload = self.aws.handle(request)
        start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(payload)))])
        return [payload]


def create_app(
    providers: Sequence[JsonProvider | QueryProvider],
    config: GatewayConfig,
    reset: Callable[[], None],
    simulated_targets: SimulatedTargets | None = None,
    bound_listeners: Callable[[], list[dict[str, Any]]] | None = None,
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

    return Gateway(AwsHandler(providers, config), admin)
