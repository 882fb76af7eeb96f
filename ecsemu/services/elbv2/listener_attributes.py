"""Listener attributes: DescribeListenerAttributes, ModifyListenerAttributes.

Stored in the listener's ``spec.Attributes`` (every attribute, defaults filled: see
``ecsemu.model.listener``); a listener written before attributes existed reads as the defaults.

What each attribute does here:
- ``tcp.idle_timeout.seconds`` (NLB listeners, 60-6000, default 350): the data plane closes a
  relayed connection idle that long (``lb.sync`` gives it to the listener).
- ``routing.http.response.server.enabled`` (ALB, default ``true``): the load balancer's own
  responses carry ``Server: awselb/2.0``. Turning it off is refused as not supported yet.
- ``routing.http.response.<header>.header_value`` (ALB): the empty value (no header added) is
  accepted; asking for a header to be added is refused as not supported yet.
- The ``routing.http.request.x_amzn_*.header_name`` attributes rename headers that only mutual
  TLS and TLS termination add, neither of which ecsemu performs: refused as not supported yet.

Invariant: a refused Modify changes nothing (all attributes are checked before any is stored).
"""

from __future__ import annotations

from typing import Final

from ecsemu.model.listener import default_attributes
from ecsemu.services.elbv2.base import LISTENER, Call, Params, Result, attribute_list, operation, require, spec_of
from ecsemu.services.elbv2.errors import OperationNotPermitted, ValidationError

IDLE_TIMEOUT: Final = "tcp.idle_timeout.seconds"
IDLE_TIMEOUT_RANGE: Final = (60, 6000)
SERVER_HEADER: Final = "routing.http.response.server.enabled"
RESPONSE_HEADERS: Final = tuple(
    f"routing.http.response.{name}.header_value"
    for name in (
        "strict_transport_security",
        "access_control_allow_origin",
        "access_control_allow_methods",
        "access_control_allow_headers",
        "access_control_allow_credentials",
        "access_control_expose_headers",
        "access_control_max_age",
        "content_security_policy",
        "x_content_type_options",
        "x_frame_options",
    )
)
REQUEST_HEADER_NAMES: Final = tuple(
    f"routing.http.request.x_amzn_{name}.header_name"
    for name in (
        "mtls_clientcert_serial_number",
        "mtls_clientcert_issuer",
        "mtls_clientcert_subject",
        "mtls_clientcert_validity",
        "mtls_clientcert_leaf",
        "mtls_clientcert",
        "tls_version",
        "tls_cipher_suite",
    )
)
APPLICATION_KEYS: Final = frozenset((SERVER_HEADER, *RESPONSE_HEADERS, *REQUEST_HEADER_NAMES))
NETWORK_KEYS: Final = frozenset((IDLE_TIMEOUT,))


def _unsupported(key: str) -> OperationNotPermitted:
    return OperationNotPermitted(f"The listener attribute '{key}' is not supported by ecsemu yet.")


def checked(protocol: str, key: str, value: str) -> str:
    """``value`` as stored for ``key`` on a listener of ``protocol``, or the error AWS (or, for
    what the data plane cannot do, ecsemu) answers."""
    application = protocol in ("HTTP", "HTTPS")
    if key not in (APPLICATION_KEYS if application else NETWORK_KEYS):
        if key in APPLICATION_KEYS | NETWORK_KEYS:
            kind = "Application" if key in APPLICATION_KEYS else "Network and Gateway"
            raise ValidationError(f"The listener attribute '{key}' is supported only by {kind} Load Balancers")
        raise ValidationError(f"Listener attribute key '{key}' is not recognized")
    if key == IDLE_TIMEOUT:
        low, high = IDLE_TIMEOUT_RANGE
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            raise ValidationError(f"Listener attribute '{key}' must be an integer between {low} and {high}")
        return str(int(value))
    if key == SERVER_HEADER:
        if value not in ("true", "false"):
            raise ValidationError(f"Listener attribute '{key}' must be 'true' or 'false'")
        if value == "false":
            raise _unsupported(key)
        return value
    if key in RESPONSE_HEADERS:
        if value:
            raise _unsupported(key)
        return value
    raise _unsupported(key)


@operation("DescribeListenerAttributes")
def describe_listener_attributes(call: Call, params: Params) -> Result:
    spec = spec_of(require(call, LISTENER, params["ListenerArn"]))
    return {"Attributes": attribute_list(spec.get("Attributes") or default_attributes(spec["Protocol"]))}


@operation("ModifyListenerAttributes")
def modify_listener_attributes(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LISTENER, params["ListenerArn"])
        spec = spec_of(record)
        attributes = dict(spec.get("Attributes") or default_attributes(spec["Protocol"]))
        for attribute in params["Attributes"]:
            key, value = attribute.get("Key") or "", attribute.get("Value") or ""
            attributes[key] = checked(spec["Protocol"], key, value)
        spec["Attributes"] = attributes
        call.put(LISTENER, spec["ListenerArn"], record)
    return {"Attributes": attribute_list(attributes)}
