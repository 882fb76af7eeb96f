"""The Flask application: route → parse → validate → provider → serialize.

Routing: JSON-protocol services by the prefix of ``X-Amz-Target``. Each request's account and
region come from its SigV4 credential scope. The gateway is the only place that knows both
HTTP and services; it never writes state itself except through ``/_ecsemu/reset``.

Admin endpoints (not AWS): ``GET /_ecsemu/health``, ``POST /_ecsemu/reset``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, Response, request

from ecsemu import __version__
from ecsemu.context import RequestContext
from ecsemu.errors import AwsError, ServerError
from ecsemu.protocol import json_protocol
from ecsemu.protocol.sigv4 import account_for, read_caller
from ecsemu.protocol.validation import load_shapes_document, validate_input

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"


class JsonProvider(Protocol):
    service: str
    target_prefix: str
    json_version: str

    def handle(self, context: RequestContext, operation: str, params: dict[str, Any]) -> dict[str, Any]: ...


@dataclass
class GatewayConfig:
    default_account: str = "123456789012"
    default_region: str = DEFAULT_REGION
    runtime_name: str = "simulated"
    validate: bool = True


def create_app(
    providers: list[JsonProvider], config: GatewayConfig, reset: Callable[[], None]
) -> Flask:
    app = Flask("ecsemu")
    by_prefix = {p.target_prefix: p for p in providers}
    known = {p.service: frozenset(load_shapes_document(p.service)["operations"]) for p in providers}

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

    return app
