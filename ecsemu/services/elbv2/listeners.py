"""Listeners. Kind ``elbv2.listener``; id = the ARN's part after ``listener/``
(``app|net/<lb name>/<lb hex>/<16 hex>``).

Record (the data plane reads it; only the API writes ``spec``, only the data plane ``status``)::

    {"spec": {
        "ListenerArn": str, "LoadBalancerArn": str,
        "Port": int,                                 # the port the user asked for, always shown
        "Protocol": "HTTP" | "HTTPS" | "TCP" | "TLS" | "UDP" | "TCP_UDP",
        "DefaultActions": [action],                  # normalized: see elbv2.actions
        "Certificates"?: [{"CertificateArn": str}], "SslPolicy"?: str,   # HTTPS and TLS
        "AlpnPolicy"?: [str],                        # TLS
        "DefaultRuleArn": str,                       # the listener's default rule (elbv2.rule)
        "Attributes"?: {key: value},                 # see elbv2.listener_attributes
        "CreatedTime": float, "Tags": [{"Key": str, "Value": str}]},
     "status": {"BoundPort"?: int, "BoundAddress"?: str, "Error"?: str}}

Invariants:
- One listener per port of a load balancer. Creating one again on a port with the same
  settings answers the existing one (AWS's idempotency); other settings are refused.
- Every listener has exactly one default rule (``IsDefault``) whose actions are the listener's
  ``DefaultActions``: they are stored once, here, and shown by DescribeRules from here.
- The data plane binds ``127.0.0.1:<Port>``, or another free port when that one is taken, and
  records what it bound in ``status.BoundPort``; DescribeListeners still shows ``Port``, and
  only the admin endpoint ``GET /_ecsemu/listeners`` tells the bound port.
- Deleting a listener deletes its rules.
"""

from __future__ import annotations

from typing import Any, Final

from ecsemu.model.listener import default_attributes
from ecsemu.services.elbv2.actions import check_association, normalize_actions
from ecsemu.services.elbv2.base import (
    LISTENER,
    LOAD_BALANCER,
    RULE,
    Call,
    Params,
    Result,
    new_hex_id,
    new_record,
    operation,
    paginate,
    require,
    require_all,
    require_one_of,
    spec_of,
    with_marker,
)
from ecsemu.services.elbv2.errors import (
    DuplicateListener,
    OperationNotPermitted,
    TooManyListeners,
    ValidationError,
)
from ecsemu.services.elbv2.load_balancers import delete_listener_records, listeners_of
from ecsemu.services.elbv2.tags import validate_tags
from ecsemu.state.store import Record

MAX_LISTENERS: Final = 50
DEFAULT_SSL_POLICY: Final = "ELBSecurityPolicy-2016-08"
PROTOCOLS: Final = {"application": ("HTTP", "HTTPS"), "network": ("TCP", "TLS", "UDP", "TCP_UDP")}
_SECURE: Final = ("HTTPS", "TLS")
_SETTINGS: Final = ("Protocol", "DefaultActions", "Certificates", "SslPolicy", "AlpnPolicy")


def render(record: Record) -> dict[str, Any]:
    spec = spec_of(record)
    out: dict[str, Any] = {
        "ListenerArn": spec["ListenerArn"],
        "LoadBalancerArn": spec["LoadBalancerArn"],
        "Port": spec["Port"],
        "Protocol": spec["Protocol"],
    }
    for key in ("Certificates", "SslPolicy"):
        if spec.get(key):
            out[key] = spec[key]
    out["DefaultActions"] = spec["DefaultActions"]
    if spec.get("AlpnPolicy"):
        out["AlpnPolicy"] = spec["AlpnPolicy"]
    return out


def _check_protocol(lb_type: str, protocol: str) -> None:
    allowed = PROTOCOLS[lb_type]
    if protocol not in allowed:
        raise ValidationError(f"Listener protocol '{protocol}' must be one of '{', '.join(allowed)}'")


def _security(params: Params, protocol: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Certificates, SSL policy and ALPN policy of a listener of ``protocol``."""
    current = current or {}
    mutual = params.get("MutualAuthentication")
    if mutual and mutual.get("Mode") not in (None, "off"):
        raise OperationNotPermitted("Mutual TLS authentication is not supported by ecsemu yet.")
    if protocol not in _SECURE:
        return {}
    certificates = params.get("Certificates") or current.get("Certificates")
    if not certificates or not certificates[0].get("CertificateArn"):
        raise ValidationError(f"A certificate must be specified for {protocol} listeners")
    out: dict[str, Any] = {
        "Certificates": [{"CertificateArn": certificate["CertificateArn"]} for certificate in certificates[:1]],
        "SslPolicy": params.get("SslPolicy") or current.get("SslPolicy") or DEFAULT_SSL_POLICY,
    }
    alpn = params.get("AlpnPolicy") or current.get("AlpnPolicy")
    if alpn:
        if protocol != "TLS":
            raise ValidationError("An ALPN policy can be specified only for TLS listeners")
        out["AlpnPolicy"] = alpn
    return out


def _same_port(call: Call, lb_arn: str, port: int, other_than: str | None = None) -> Record | None:
    for record in listeners_of(call, lb_arn):
        spec = spec_of(record)
        if spec["Port"] == port and spec["ListenerArn"] != other_than:
            return record
    return None


def _duplicate(lb_arn: str) -> DuplicateListener:
    return DuplicateListener(f"A listener already exists on this port for this load balancer '{lb_arn}'")


@operation("CreateListener")
def create_listener(call: Call, params: Params) -> Result:
    with call.store.transaction():
        lb = spec_of(require(call, LOAD_BALANCER, params["LoadBalancerArn"]))
        lb_arn, lb_type = lb["LoadBalancerArn"], lb["Type"]
        protocol, port = params.get("Protocol"), params.get("Port")
        if protocol is None:
            raise ValidationError("A listener protocol must be specified")
        if port is None:
            raise ValidationError("A listener port must be specified")
        _check_protocol(lb_type, protocol)
        security = _security(params, protocol)
        actions = normalize_actions(call, params["DefaultActions"], lb_type, protocol)
        tags = validate_tags(params.get("Tags"))
        existing = _same_port(call, lb_arn, port)
        if existing is not None:
            wanted = {"Protocol": protocol, "DefaultActions": actions, **security}
            if {key: spec_of(existing).get(key) for key in _SETTINGS} != {key: wanted.get(key) for key in _SETTINGS}:
                raise _duplicate(lb_arn)
            return {"Listeners": [render(existing)]}
        if len(listeners_of(call, lb_arn)) >= MAX_LISTENERS:
            raise TooManyListeners("You've reached the limit on the number of listeners per load balancer.")
        check_association(call, actions, lb_arn)
        lb_record_id = call.record_id(LOAD_BALANCER, lb_arn)
        listener_id = f"{lb_record_id}/{new_hex_id()}"
        arn = call.arn(LISTENER, listener_id)
        rule_arn = call.arn(RULE, f"{listener_id}/{new_hex_id()}")
        spec: dict[str, Any] = {
            "ListenerArn": arn,
            "LoadBalancerArn": lb_arn,
            "Port": port,
            "Protocol": protocol,
            "DefaultActions": actions,
            **security,
            "DefaultRuleArn": rule_arn,
            "Attributes": default_attributes(protocol),
            "CreatedTime": call.now,
            "Tags": tags,
        }
        record = new_record(spec)
        call.put(LISTENER, arn, record)
        default_rule = {
            "RuleArn": rule_arn,
            "ListenerArn": arn,
            "Priority": "default",
            "IsDefault": True,
            "Conditions": [],
            "CreatedTime": call.now,
            "Tags": [],
        }
        call.put(RULE, rule_arn, new_record(default_rule))
    return {"Listeners": [render(record)]}


@operation("DescribeListeners")
def describe_listeners(call: Call, params: Params) -> Result:
    require_one_of(params, "LoadBalancerArn", "ListenerArns")
    if params.get("ListenerArns"):
        records = require_all(call, LISTENER, params["ListenerArns"])
    elif params.get("LoadBalancerArn"):
        lb = spec_of(require(call, LOAD_BALANCER, params["LoadBalancerArn"]))
        records = listeners_of(call, lb["LoadBalancerArn"])
    else:
        raise ValidationError("You must specify either listener ARNs or a load balancer ARN")
    page, marker = paginate(records, params)
    return with_marker({"Listeners": [render(record) for record in page]}, marker)


@operation("ModifyListener")
def modify_listener(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LISTENER, params["ListenerArn"])
        spec = spec_of(record)
        lb = spec_of(require(call, LOAD_BALANCER, spec["LoadBalancerArn"]))
        protocol = params.get("Protocol") or spec["Protocol"]
        _check_protocol(lb["Type"], protocol)
        port = params.get("Port") or spec["Port"]
        if _same_port(call, lb["LoadBalancerArn"], port, other_than=spec["ListenerArn"]) is not None:
            raise _duplicate(lb["LoadBalancerArn"])
        security = _security(params, protocol, current=spec)
        actions = normalize_actions(call, params.get("DefaultActions") or spec["DefaultActions"], lb["Type"], protocol)
        check_association(call, actions, lb["LoadBalancerArn"])
        for key in ("Certificates", "SslPolicy", "AlpnPolicy"):
            spec.pop(key, None)
        spec.update({"Port": port, "Protocol": protocol, "DefaultActions": actions, **security})
        call.put(LISTENER, spec["ListenerArn"], record)
    return {"Listeners": [render(record)]}


@operation("DeleteListener")
def delete_listener(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LISTENER, params["ListenerArn"])
        delete_listener_records(call, {spec_of(record)["ListenerArn"]})
    return {}
