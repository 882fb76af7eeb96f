"""Which wire protocols each provider is answered in, and under which names.

Vocabulary
----------
provider
    One AWS service's ``handle(context, operation, params) -> dict``. ``service`` is botocore's
    name for it (and its ``api_shapes/`` document's).
JSON provider
    Has ``target_prefix`` and ``json_version``: answered in AWS JSON by ``X-Amz-Target``. Its
    params and results are in the JSON protocol's values (timestamps as epoch seconds, blobs
    as base64 text), and so they stay whatever protocol carried the request.
query provider
    Has ``signing_name`` (the service of its SigV4 credential scope) and no ``target_prefix``:
    answered only in the query protocol, with the query parser's values (ELBv2).
endpoint
    A provider with every protocol it is answered in:

    * AWS JSON, when it has ``target_prefix``;
    * Smithy RPC v2 CBOR under ``cbor_service_name``: the provider's attribute, else the
      model's ``targetPrefix`` when the model lists ``smithy-rpc-v2-cbor`` (CloudWatch);
    * the query protocol under ``signing_name``: the provider's attribute, else the model's
      ``signingName``/``endpointPrefix`` when the model lists ``query`` (CloudWatch:
      ``monitoring``) or ``legacy_query`` knows its query era (SQS: ``sqs``).

    ``query_compatible`` (model ``awsQueryCompatible``): its JSON and CBOR errors carry
    ``x-amzn-query-error``. ``unlocked_operations`` (the provider's attribute): operations
    called outside the per-call store snapshot, because they wait (long polling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ecsemu.context import RequestContext
from ecsemu.errors import AwsError
from ecsemu.protocol import service_models
from ecsemu.protocol.legacy_query import legacy_query_model


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


AnyProvider = JsonProvider | QueryProvider


@dataclass(frozen=True)
class Endpoint:
    provider: AnyProvider
    service: str
    target_prefix: str | None = None
    json_version: str = "1.1"
    cbor_service_name: str | None = None
    signing_name: str | None = None
    query_compatible: bool = False
    query_codes: Mapping[str, str] = field(default_factory=dict)
    unlocked_operations: frozenset[str] = frozenset()

    @property
    def json_values(self) -> bool:
        """Whether the provider takes and gives the JSON protocol's values."""
        return self.target_prefix is not None

    def query_code(self, error: AwsError) -> str:
        """``error``'s query-era code: its ``query_code``, else the model's, else its code."""
        return error.query_code or self.query_codes.get(error.code) or error.code

    def query_error_header(self, error: AwsError) -> list[tuple[str, str]]:
        """``x-amzn-query-error: <query code>;Sender|Receiver`` for a query-compatible service."""
        if not self.query_compatible:
            return []
        return [("x-amzn-query-error", f"{self.query_code(error)};{'Sender' if error.sender_fault else 'Receiver'}")]


def endpoint_of(provider: AnyProvider) -> Endpoint:
    service = provider.service
    target_prefix: str | None = getattr(provider, "target_prefix", None)
    signing_name: str | None = getattr(provider, "signing_name", None)
    cbor_service_name: str | None = getattr(provider, "cbor_service_name", None)
    unlocked = frozenset(getattr(provider, "unlocked_operations", ()))
    if target_prefix is None:
        return Endpoint(provider, service, signing_name=signing_name, unlocked_operations=unlocked)
    metadata = service_models.service_model(service).metadata
    protocols = service_models.wire_protocols(service)
    if cbor_service_name is None and "smithy-rpc-v2-cbor" in protocols:
        cbor_service_name = str(metadata.get("targetPrefix") or target_prefix)
    if signing_name is None and ("query" in protocols or legacy_query_model(service) is not None):
        signing_name = str(metadata.get("signingName") or metadata.get("endpointPrefix") or service)
    compatible = service_models.is_query_compatible(service)
    return Endpoint(
        provider,
        service,
        target_prefix=target_prefix,
        json_version=str(getattr(provider, "json_version", "1.1")),
        cbor_service_name=cbor_service_name,
        signing_name=signing_name,
        query_compatible=compatible,
        query_codes=service_models.query_codes(service) if compatible else {},
        unlocked_operations=unlocked,
    )
