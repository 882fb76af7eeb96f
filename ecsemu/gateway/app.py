"""The Flask application: route → parse → validate → provider → serialize.

Routing: JSON-protocol services by the prefix of ``X-Amz-Target``; a form body
(``application/x-www-form-urlencoded``) without ``X-Amz-Target`` goes to a query-protocol
service, chosen by the SigV4 credential scope's service name (``elasticloadbalancing``) or,
unsigned, by which service knows the ``Action``. Each request's account and region come from
its SigV4 credential scope. The gateway is the only place that knows both
HTTP and services; it never writes state itself except through ``/_ecsemu/reset``.

Admin endpoints (not AWS): ``GET /_ecsemu/health``, ``POST /_ecsemu/reset``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from flask import Flask, Response, request

from ecsemu import __version__
from ecsemu.context import RequestContext
from ecsemu.errors import AwsError, ServerError
from ecsemu.protocol import json_protocol, query_protocol
from ecsemu.protocol.sigv4 import account_for, read_caller
from ecsemu.protocol.validation import load_shapes_document, validate_input

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"


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


def create_app(
    providers: Sequence[JsonProvider | QueryProvider], config: GatewayConfig, reset: Callable[[], None]
) -> Flask:
    app = Flask("ecsemu")
    query_providers = [p for p in providers if isinstance(p, QueryProvider)]
    json_providers = [p for p in providers if not isinstance(p, QueryProvider)]
    by_prefix = {p.target_prefix: p for p in json_providers}
    known = {p.service: frozenset(load_shapes_document(p.service)["operations"]) for p in json_providers}
    by_signing_name = {p.signing_name: p for p in query_providers}

    @app.get("/_ecsemu/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "runtime": config.runtime_name}

    @app.post("/_ecsemu/reset")
    def reset_state() -> dict[str, Any]:
        reset()
        return {"status": "reset"}

    @app.route("/", methods=["POST"])
    def aws_json() -> Response:
        request_id = str(uuid.uuid4())
        target = request.headers.get("X-Amz-Target", "")
        if not target and query_providers and request.mimetype == query_protocol.FORM_CONTENT_TYPE:
            return aws_query(request_id)
        provider = by_prefix.get(target.partition(".")[0])
        version = provider.json_version if provider else "1.1"
        try:
            if provider is None:
                raise json_protocol.UnknownOperationException("")
            operation = json_protocol.operation_from_target(target, provider.target_prefix)
            if operation is None or operation not in known[provider.service]:
                raise json_protocol.UnknownOperationException("")
            params = json_protocol.parse_body(request.content_type, request.get_data())
            if config.validate:
                validate_input(provider.service, operation, params)
            caller = read_caller(request.headers.get("Authorization"))
            context = RequestContext(
                account_id=account_for(caller.access_key_id, config.default_account),
                region=caller.region or config.default_region,
                request_id=request_id,
            )
            result = provider.handle(context, operation, params)
            body, status = json_protocol.serialize_result(result), 200
        except AwsError as error:
            body, status = json_protocol.serialize_error(error), error.status_code
        except Exception:
            log.exception("unexpected failure in %s", target)
            body, status = json_protocol.serialize_error(ServerError("Internal failure.")), 500
        return Response(
            body,
            status=status,
            headers={"x-amzn-RequestId": request_id},
            content_type=json_protocol.content_type(version),
        )

    def query_provider_for(action: str) -> tuple[QueryProvider, query_protocol.QueryService] | None:
        for candidate in query_providers:
            service = query_protocol.query_service(candidate.service)
            if action in service.operations:
                return candidate, service
        return None

    def aws_query(request_id: str) -> Response:
        caller = read_caller(request.headers.get("Authorization"))
        provider = by_signing_name.get(caller.service or "")
        service = query_protocol.query_service(provider.service) if provider else None
        action = ""
        try:
            form = query_protocol.read_form(request.get_data(), request.query_string)
            action = query_protocol.action_of(form)
            version = form.get("Version")
            if provider is None or service is None:
                found = query_provider_for(action)
                if found is None:
                    raise query_protocol.invalid_action(action, version)
                provider, service = found
            if action not in service.operations or (version and version != service.api_version):
                raise query_protocol.invalid_action(action, version)
            params = service.parse(action, form)
            if config.validate:
                validate_input(provider.service, action, params)
            context = RequestContext(
                account_id=account_for(caller.access_key_id, config.default_account),
                region=caller.region or config.default_region,
                request_id=request_id,
            )
            result = provider.handle(context, action, params)
            body, status = service.serialize_result(action, result, request_id), 200
        except AwsError as error:
            body, status = query_error(error, service, request_id)
        except Exception:
            log.exception("unexpected failure in %s", action or "a query request")
            body, status = query_error(ServerError("Internal failure."), service, request_id)
        return Response(
            body, status=status, headers={"x-amzn-RequestId": request_id}, content_type=query_protocol.XML_CONTENT_TYPE
        )

    def query_error(error: AwsError, service: query_protocol.QueryService | None, request_id: str) -> tuple[bytes, int]:
        if service is None:
            service = query_protocol.query_service(query_providers[0].service)
        return service.serialize_error(error, request_id)

    return app
