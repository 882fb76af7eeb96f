"""Answers AWS API requests in their own wire protocol: route → parse → validate → provider →
serialize, with no framework objects.

Routing (``AwsHandler.handle``)
-------------------------------
* ``POST /service/<ServiceName>/operation/<Operation>``: Smithy RPC v2 CBOR, by the endpoint's
  ``cbor_service_name`` (CloudWatch). The request must say ``smithy-protocol: rpc-v2-cbor``.
* A form body (``application/x-www-form-urlencoded``) without ``X-Amz-Target``: the query
  protocol, by the SigV4 credential scope's service (``elasticloadbalancing``, ``monitoring``,
  ``sqs``) or, unsigned, by which service knows the ``Action`` (and ``Version``). SQS's query
  clients post to the queue URL (``/<account>/<queue name>``): an operation that takes a
  ``QueueUrl`` and was not given one takes the request's URL.
* Anything else: AWS JSON by the prefix of ``X-Amz-Target``.

Whatever the protocol, a provider gets the same params: JSON providers the JSON protocol's
values (epoch-second timestamps, base64 blobs), query-only providers the query parser's.
Errors of a query-compatible service answered in JSON or CBOR carry
``x-amzn-query-error: <query code>;Sender|Receiver``.

One call, one snapshot: every provider call runs inside ``consistent()``, except the operations
a provider names in ``unlocked_operations`` (SQS's ReceiveMessage, which may wait 20 s for a
message: it takes its own short transactions and must not hold the snapshot while it waits).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError, ServerError
from ecsemu.gateway.browser import Refusal
from ecsemu.gateway.endpoints import AnyProvider, Endpoint, endpoint_of
from ecsemu.protocol import json_protocol, query_protocol, rpcv2_cbor
from ecsemu.protocol.service_models import service_model
from ecsemu.protocol.sigv4 import account_for, read_caller
from ecsemu.protocol.validation import load_shapes_document, validate_input

log = logging.getLogger("ecsemu.gateway.app")
api_log = logging.getLogger("ecsemu.api")

DEFAULT_REGION = "us-east-1"
MAX_AWS_BODY_BYTES = max(json_protocol.MAX_BODY_BYTES, query_protocol.MAX_FORM_BYTES, rpcv2_cbor.MAX_BODY_BYTES)


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
    path: str = "/"
    host: str = ""
    smithy_protocol: str = ""
    content_encoding: str = ""
    undecodable: str = ""  # why the body could not be decoded (its Content-Encoding), if it could not

    @property
    def mimetype(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def is_cbor(self) -> bool:
        return self.path.startswith(rpcv2_cbor.PATH_PREFIX)


AwsAnswer = tuple[int, list[tuple[str, str]], bytes]


def decoded_body(request: AwsRequest) -> bytes:
    """The request's body, gunzipped when it says ``Content-Encoding: gzip`` (botocore
    compresses CloudWatch's PutMetricData bodies of 10 KiB and more: the model's
    ``requestcompression``). Never more than one byte past ``MAX_AWS_BODY_BYTES``, so the
    protocols still answer their "too large" error; ValueError for a body that is not gzip."""
    encodings = [part.strip().lower() for part in request.content_encoding.split(",") if part.strip()]
    body = request.body
    for encoding in reversed(encodings):
        if encoding == "identity":
            continue
        if encoding not in ("gzip", "x-gzip"):
            raise ValueError(f"The Content-Encoding {encoding!r} is not supported.")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            inflated = inflater.decompress(body, MAX_AWS_BODY_BYTES + 1)
        except zlib.error as error:
            raise ValueError(f"The request body is not valid gzip: {error}") from error
        if len(inflated) <= MAX_AWS_BODY_BYTES and not inflater.eof:
            raise ValueError("The request body is not valid gzip: it ends early.")
        body = inflated
    return body


class UnknownOperation(json_protocol.UnknownOperationException):
    """An RPC v2 CBOR request for a service or operation not served here."""

    status_code = 404


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
        "%s %s %d %.1fms%s",
        service,
        operation,
        status,
        elapsed_ms,
        f" {code}" if code else "",
        extra={"fields": fields},
    )


class AwsHandler:
    """Answers AWS API requests: CBOR by path, query protocols by form, JSON by ``X-Amz-Target``."""

    def __init__(
        self,
        providers: Sequence[AnyProvider],
        config: GatewayConfig,
        consistent: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self.config = config
        self.consistent = consistent
        self.endpoints = [endpoint_of(provider) for provider in providers]
        self.by_prefix = {e.target_prefix: e for e in self.endpoints if e.target_prefix is not None}
        self.by_cbor_name = {e.cbor_service_name: e for e in self.endpoints if e.cbor_service_name is not None}
        self.query_endpoints = [e for e in self.endpoints if e.signing_name is not None]
        self.by_signing_name = {e.signing_name: e for e in self.query_endpoints}
        self.known = {
            e.service: frozenset(load_shapes_document(e.service)["operations"])
            for e in self.endpoints
            if e.target_prefix is not None
        }

    def _context(self, authorization: str | None, request_id: str) -> RequestContext:
        caller = read_caller(authorization)
        return RequestContext(
            account_id=account_for(caller.access_key_id, self.config.default_account),
            region=caller.region or self.config.default_region,
            request_id=request_id,
        )

    def _is_query(self, request: AwsRequest) -> bool:
        return (
            not request.target and bool(self.query_endpoints) and request.mimetype == query_protocol.FORM_CONTENT_TYPE
        )

    def _cbor_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [
            ("Content-Type", rpcv2_cbor.CONTENT_TYPE),
            (rpcv2_cbor.PROTOCOL_HEADER, rpcv2_cbor.PROTOCOL),
            ("x-amzn-RequestId", request_id),
        ]

    def refuse(self, request: AwsRequest, refusal: Refusal) -> AwsAnswer:
        """The browser-safety refusal of ``request``, in its own protocol (nothing is parsed)."""
        request_id = str(uuid.uuid4())
        if request.is_cbor:
            error = AwsError(refusal.message, code="AccessDeniedException", status_code=refusal.status)
            error.sender_fault = True
            return refusal.status, self._cbor_headers(request_id), rpcv2_cbor.serialize_error(error)
        if self._is_query(request):
            error = AwsError(refusal.message, code="AccessDenied", status_code=refusal.status)
            error.sender_fault = True
            endpoint = self.by_signing_name.get(read_caller(request.authorization).service or "")
            service = query_protocol.query_service((endpoint or self.query_endpoints[0]).service)
            body = query_protocol.serialize_error(error, request_id, service.namespace)
            return (
                refusal.status,
                [("Content-Type", query_protocol.XML_CONTENT_TYPE), ("x-amzn-RequestId", request_id)],
                body,
            )
        error = AwsError(refusal.message, code="AccessDeniedException", status_code=refusal.status)
        error.sender_fault = True
        json_endpoint = self.by_prefix.get(request.target.partition(".")[0])
        version = json_endpoint.json_version if json_endpoint else "1.1"
        headers = [("Content-Type", json_protocol.content_type(version)), ("x-amzn-RequestId", request_id)]
        return refusal.status, headers, json_protocol.serialize_error(error)

    def handle(self, request: AwsRequest) -> AwsAnswer:
        request_id = str(uuid.uuid4())
        if request.content_encoding:
            request = self._decoded(request)
        if request.is_cbor:
            return self.handle_cbor(request, request_id)
        if self._is_query(request):
            return self.handle_query(request, request_id)
        return self.handle_json(request, request_id)

    @staticmethod
    def _decoded(request: AwsRequest) -> AwsRequest:
        try:
            return dataclasses.replace(request, body=decoded_body(request), content_encoding="")
        except ValueError as error:
            return dataclasses.replace(request, body=b"", content_encoding="", undecodable=str(error))

    def _call(
        self, endpoint: Endpoint, request: AwsRequest, request_id: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        if self.config.validate:
            validate_input(endpoint.service, operation, params)
        context = self._context(request.authorization, request_id)
        if operation in endpoint.unlocked_operations:
            return endpoint.provider.handle(context, operation, params)
        with self.consistent():
            return endpoint.provider.handle(context, operation, params)

    def handle_json(self, request: AwsRequest, request_id: str) -> AwsAnswer:
        started = time.perf_counter()
        target = request.target
        endpoint = self.by_prefix.get(target.partition(".")[0])
        version = endpoint.json_version if endpoint else "1.1"
        headers = [("Content-Type", json_protocol.content_type(version)), ("x-amzn-RequestId", request_id)]
        operation: str | None = None
        code = ""
        try:
            if endpoint is None or endpoint.target_prefix is None:
                raise json_protocol.UnknownOperationException("")
            operation = json_protocol.operation_from_target(target, endpoint.target_prefix)
            if operation is None or operation not in self.known[endpoint.service]:
                raise json_protocol.UnknownOperationException("")
            if request.undecodable:
                raise json_protocol.SerializationException(request.undecodable)
            params = json_protocol.parse_body(request.content_type, request.body)
            result = self._call(endpoint, request, request_id, operation, params)
            body, status = json_protocol.serialize_result(result), 200
        except AwsError as error:
            body, status, code = json_protocol.serialize_error(error), error.status_code, error.code
            headers += endpoint.query_error_header(error) if endpoint else []
        except Exception:
            log.exception("unexpected failure in %s", target)
            failure = ServerError("Internal failure.")
            body, status, code = json_protocol.serialize_error(failure), 500, "InternalFailure"
            headers += endpoint.query_error_header(failure) if endpoint else []
        log_call(endpoint.service if endpoint else "?", operation or target or "?", status, started, code)
        return status, headers, body

    def handle_cbor(self, request: AwsRequest, request_id: str) -> AwsAnswer:
        started = time.perf_counter()
        headers = self._cbor_headers(request_id)
        route = rpcv2_cbor.operation_path(request.path)
        endpoint = self.by_cbor_name.get(route[0]) if route else None
        operation = route[1] if route else ""
        code = ""
        try:
            if endpoint is None or operation not in self.known[endpoint.service]:
                raise UnknownOperation("")
            if request.smithy_protocol != rpcv2_cbor.PROTOCOL:
                raise rpcv2_cbor.SerializationException(
                    f"The {rpcv2_cbor.PROTOCOL_HEADER} header must be {rpcv2_cbor.PROTOCOL!r}."
                )
            if request.undecodable:
                raise rpcv2_cbor.SerializationException(request.undecodable)
            if request.body and request.mimetype != rpcv2_cbor.CONTENT_TYPE:
                raise rpcv2_cbor.SerializationException(f"The Content-Type must be {rpcv2_cbor.CONTENT_TYPE}.")
            operation_model = service_model(endpoint.service).operation_model(operation)
            params = rpcv2_cbor.parse_body(request.body, operation_model.input_shape)
            result = self._call(endpoint, request, request_id, operation, params)
            body, status = rpcv2_cbor.serialize_result(result, operation_model.output_shape), 200
        except AwsError as error:
            body, status, code = rpcv2_cbor.serialize_error(error), error.status_code, error.code
            headers += endpoint.query_error_header(error) if endpoint else []
        except Exception:
            log.exception("unexpected failure in %s", request.path)
            failure = ServerError("Internal failure.")
            body, status, code = rpcv2_cbor.serialize_error(failure), 500, "InternalFailure"
            headers += endpoint.query_error_header(failure) if endpoint else []
        log_call(endpoint.service if endpoint else "?", operation or request.path, status, started, code)
        return status, headers, body

    def _query_endpoint_for(self, action: str, version: str | None) -> Endpoint | None:
        for candidate in self.query_endpoints:
            service = query_protocol.query_service(candidate.service)
            if action in service.operations and (not version or version == service.api_version):
                return candidate
        return None

    def handle_query(self, request: AwsRequest, request_id: str) -> AwsAnswer:
        started = time.perf_counter()
        code = ""
        caller = read_caller(request.authorization)
        endpoint = self.by_signing_name.get(caller.service or "")
        service = query_protocol.query_service(endpoint.service) if endpoint else None
        action = ""
        try:
            if request.undecodable:
                raise query_protocol.MalformedQueryString(request.undecodable)
            form = query_protocol.read_form(request.body, request.query_string)
            action = query_protocol.action_of(form)
            version = form.get("Version")
            if endpoint is None or service is None:
                endpoint = self._query_endpoint_for(action, version)
                if endpoint is None:
                    raise query_protocol.invalid_action(action, version)
                service = query_protocol.query_service(endpoint.service)
            if action not in service.operations or (version and version != service.api_version):
                raise query_protocol.invalid_action(action, version)
            params = service.parse(action, form, json_values=endpoint.json_values)
            self._imply_queue_url(request, service, action, params)
            result = self._call(endpoint, request, request_id, action, params)
            body, status = service.serialize_result(action, result, request_id), 200
        except AwsError as error:
            body, status = self._query_error(error, service, request_id)
            code = error.code
        except Exception:
            log.exception("unexpected failure in %s", action or "a query request")
            body, status = self._query_error(ServerError("Internal failure."), service, request_id)
            code = "InternalFailure"
        log_call(endpoint.service if endpoint else "?", action or "?", status, started, code)
        return status, [("Content-Type", query_protocol.XML_CONTENT_TYPE), ("x-amzn-RequestId", request_id)], body

    @staticmethod
    def _imply_queue_url(
        request: AwsRequest, service: query_protocol.QueryService, action: str, params: dict[str, Any]
    ) -> None:
        """SQS's query clients post to the queue URL: it is the ``QueueUrl`` they leave out."""
        if request.path == "/" or "QueueUrl" in params:
            return
        input_shape = service.model.operation_model(action).input_shape
        if input_shape is not None and "QueueUrl" in input_shape.members:
            params["QueueUrl"] = f"http://{request.host or '127.0.0.1'}{request.path}"

    def _query_error(
        self, error: AwsError, service: query_protocol.QueryService | None, request_id: str
    ) -> tuple[bytes, int]:
        if service is None:
            service = query_protocol.query_service(self.query_endpoints[0].service)
        return service.serialize_error(error, request_id)
