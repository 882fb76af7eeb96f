"""Target groups. Kind ``elbv2.target_group``; id = the ARN's part after ``targetgroup/``
(``<name>/<16 hex>``).

Record (the data plane reads it; only the API writes ``spec``, only the data plane ``status``)::

    {"spec": {
        "TargetGroupArn": str, "TargetGroupName": str,
        "Protocol": "HTTP" | "HTTPS" | "TCP" | "TLS" | "UDP" | "TCP_UDP",
        "ProtocolVersion"?: "HTTP1" | "HTTP2" | "GRPC",       # HTTP and HTTPS only
        "Port": int, "VpcId": str, "TargetType": "instance" | "ip", "IpAddressType": "ipv4" | "ipv6",
        "HealthCheckProtocol": "HTTP" | "HTTPS" | "TCP",
        "HealthCheckPort": "traffic-port" | "<port>", "HealthCheckEnabled": bool,
        "HealthCheckIntervalSeconds": int, "HealthCheckTimeoutSeconds": int,
        "HealthyThresholdCount": int, "UnhealthyThresholdCount": int,
        "HealthCheckPath"?: str,                               # HTTP(S) health checks only
        "Matcher"?: {"HttpCode": "200"} | {"GrpcCode": "12"},  # HTTP(S) health checks only
        "CreatedTime": float,
        "Attributes": {key: value, ...},                       # every attribute, defaults filled
        "Tags": [{"Key": str, "Value": str}],
        "Targets": {<target key>: {"Id": str, "Port": int, "AvailabilityZone"?: str,
                                   "RegisteredAt": float, "DeregisteredAt"?: float}}},
     "status": {"Targets": {<target key>: {"State": str, "Reason"?: str, "Description"?: str,
                                           "RegisteredAt": float}}}}

``spec.Targets`` (registrations) and ``status.Targets`` (health) are described in
:mod:`ecsemu.services.elbv2.targets`.

Invariants:
- Names are unique per account and region; creating a target group again with the same name
  and settings answers the existing one (AWS's idempotency), other settings are refused.
- Health check settings are always complete: what was not given is AWS's default for the
  protocol (see :func:`health_check`).
- ``LoadBalancerArns`` is derived from the listeners and rules that forward to the group.
- A target group a listener or rule forwards to cannot be deleted; deleting one that does not
  exist succeeds.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ecsemu.model.target_group import (
    DEFAULT_HEALTH_CHECK_INTERVAL_S,
    DEFAULT_HEALTH_CHECK_TIMEOUT_S,
    DEFAULT_HEALTHY_THRESHOLD,
    DEFAULT_MATCHER,
    DEFAULT_UNHEALTHY_THRESHOLD,
    HTTP_PROTOCOLS,
    default_attributes,
)
from ecsemu.services.elbv2.actions import target_group_load_balancers
from ecsemu.services.elbv2.base import (
    LOAD_BALANCER,
    TARGET_GROUP,
    Call,
    Params,
    Result,
    attribute_list,
    check_arn,
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
    DuplicateTargetGroupName,
    OperationNotPermitted,
    ResourceInUse,
    TargetGroupNotFound,
    TooManyTargetGroups,
    ValidationError,
)
from ecsemu.services.elbv2.tags import validate_tags
from ecsemu.state.store import Record

MAX_TARGET_GROUPS: Final = 3000
NETWORK_PROTOCOLS: Final = ("TCP", "TLS", "UDP", "TCP_UDP")
_NAME: Final = re.compile(r"^[a-zA-Z0-9-]+$")
_HTTP_CODES: Final = re.compile(r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$")
_GRPC_CODES: Final = re.compile(r"^\d{1,2}(-\d{1,2})?(,\d{1,2}(-\d{1,2})?)*$")
_HEALTH_KEYS: Final = (
    "HealthCheckProtocol", "HealthCheckPort", "HealthCheckEnabled", "HealthCheckIntervalSeconds",
    "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount", "HealthCheckPath", "Matcher",
)  # fmt: skip

_BOOL: Final = ("true", "false")
_RANGES: Final = {
    "deregistration_delay.timeout_seconds": (0, 3600),
    "stickiness.lb_cookie.duration_seconds": (1, 604800),
    "stickiness.app_cookie.duration_seconds": (1, 604800),
    "target_health_state.unhealthy.draining_interval_seconds": (0, 360000),
}
_CHOICES: Final = {
    "load_balancing.algorithm.type": ("round_robin", "least_outstanding_requests", "weighted_random"),
    "load_balancing.algorithm.anomaly_mitigation": ("on", "off"),
    "load_balancing.cross_zone.enabled": ("true", "false", "use_load_balancer_configuration"),
}


def _check_name(name: str) -> None:
    if len(name) > 32:
        raise ValidationError(f"Target group name '{name}' cannot be longer than '32' characters")
    if not _NAME.match(name):
        raise ValidationError(
            f"Target group name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise ValidationError(f"Target group name '{name}' cannot begin or end with '-'")


def _check_matcher(matcher: dict[str, Any], protocol: str, version: str | None) -> dict[str, str]:
    if version == "GRPC":
        code = matcher.get("GrpcCode")
        if not code or matcher.get("HttpCode") or not _GRPC_CODES.match(code):
            raise ValidationError("A gRPC code matcher must be values or ranges between 0 and 99, such as '0' or '0-5'")
        return {"GrpcCode": code}
    code = matcher.get("HttpCode")
    if not code or matcher.get("GrpcCode"):
        raise ValidationError("An HTTP code matcher must be specified for HTTP and HTTPS health checks")
    high = 499 if protocol in HTTP_PROTOCOLS else 599
    if not _HTTP_CODES.match(code) or any(not 200 <= int(value) <= high for value in re.split(r"[,-]", code)):
        raise ValidationError(
            f"Health check matcher HTTP code '{code}' must be values or ranges between 200 and {high}"
        )
    return {"HttpCode": code}


def health_check(
    protocol: str, version: str | None, given: dict[str, Any], current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The complete health check settings: ``current`` (if modifying) overlaid with ``given``,
    the rest AWS's defaults for the target group's protocol, all checked.

    Defaults (instance and ip targets): protocol HTTP for HTTP, HTTPS for HTTPS, TCP for the
    Network protocols; port ``traffic-port``; interval 30 s; thresholds 5 healthy, 2
    unhealthy; timeout 5 s for HTTP/HTTPS target groups, and for Network target groups 6 s with
    an HTTP health check, 10 s with TCP or HTTPS; path ``/`` and matcher ``200``
    (``200-399`` for Network target groups; gRPC: ``/AWS.ALB/healthcheck`` and ``12``).
    """
    merged = {key: value for key, value in (current or {}).items() if key in _HEALTH_KEYS}
    merged.update({key: value for key, value in given.items() if key in _HEALTH_KEYS and value is not None})
    check_protocol = merged.get("HealthCheckProtocol") or (protocol if protocol in HTTP_PROTOCOLS else "TCP")
    allowed = HTTP_PROTOCOLS if protocol in HTTP_PROTOCOLS else ("TCP", *HTTP_PROTOCOLS)
    if check_protocol not in allowed:
        raise ValidationError(
            f"Health check protocol '{check_protocol}' is not supported for target groups with the protocol '{protocol}'"
        )
    http_check = check_protocol in HTTP_PROTOCOLS
    if current is not None and current.get("HealthCheckProtocol") in HTTP_PROTOCOLS and not http_check:
        merged.pop("HealthCheckPath", None)  # leaving an HTTP health check drops its HTTP parts
        merged.pop("Matcher", None)
    port = str(merged.get("HealthCheckPort") or "traffic-port")
    if port != "traffic-port" and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise ValidationError(f"Health check port '{port}' must be 'traffic-port' or a port between 1 and 65535")
    if merged.get("HealthCheckEnabled") is False:
        raise ValidationError("Health checks cannot be disabled for target groups with target type 'instance' or 'ip'")
    default_timeout = DEFAULT_HEALTH_CHECK_TIMEOUT_S if protocol in HTTP_PROTOCOLS else 6 if check_protocol == "HTTP" else 10
    settings: dict[str, Any] = {
        "HealthCheckProtocol": check_protocol,
        "HealthCheckPort": port,
        "HealthCheckEnabled": True,
        "HealthCheckIntervalSeconds": merged.get("HealthCheckIntervalSeconds") or DEFAULT_HEALTH_CHECK_INTERVAL_S,
        "HealthCheckTimeoutSeconds": merged.get("HealthCheckTimeoutSeconds") or default_timeout,
        "HealthyThresholdCount": merged.get("HealthyThresholdCount") or DEFAULT_HEALTHY_THRESHOLD,
        "UnhealthyThresholdCount": merged.get("UnhealthyThresholdCount") or DEFAULT_UNHEALTHY_THRESHOLD,
    }
    if settings["HealthCheckTimeoutSeconds"] >= settings["HealthCheckIntervalSeconds"]:
        raise ValidationError("Health check interval must be greater than the timeout.")
    if http_check:
        grpc = version == "GRPC"
        path = merged.get("HealthCheckPath") or ("/AWS.ALB/healthcheck" if grpc else "/")
        if not path.startswith("/"):
            raise ValidationError("Health check path must begin with a '/' character")
        settings["HealthCheckPath"] = path
        default_matcher = (
            {"GrpcCode": "12"} if grpc else {"HttpCode": DEFAULT_MATCHER if protocol in HTTP_PROTOCOLS else "200-399"}
        )
        settings["Matcher"] = _check_matcher(merged.get("Matcher") or default_matcher, protocol, version)
    elif given.get("HealthCheckPath") or given.get("Matcher"):
        raise ValidationError("A health check path and matcher can be specified only for HTTP and HTTPS health checks")
    return settings


def render(record: Record, users: dict[str, list[str]]) -> dict[str, Any]:
    """A target group as the API shows it; ``users`` from :func:`target_group_load_balancers`."""
    spec = spec_of(record)
    out: dict[str, Any] = {
        "TargetGroupArn": spec["TargetGroupArn"],
        "TargetGroupName": spec["TargetGroupName"],
        "Protocol": spec["Protocol"],
        "Port": spec["Port"],
        "VpcId": spec["VpcId"],
    }
    for key in _HEALTH_KEYS:
        if key in spec:
            out[key] = spec[key]
    out["LoadBalancerArns"] = users.get(spec["TargetGroupArn"], [])
    out["TargetType"] = spec["TargetType"]
    if spec.get("ProtocolVersion"):
        out["ProtocolVersion"] = spec["ProtocolVersion"]
    out["IpAddressType"] = spec["IpAddressType"]
    return out


def _settings(spec: dict[str, Any]) -> dict[str, Any]:
    """What must match for a second CreateTargetGroup of a name to answer the first."""
    ignored = ("TargetGroupArn", "CreatedTime", "Attributes", "Tags", "Targets")
    return {key: value for key, value in spec.items() if key not in ignored}


@operation("CreateTargetGroup")
def create_target_group(call: Call, params: Params) -> Result:
    name = params["Name"]
    _check_name(name)
    target_type = params.get("TargetType") or "instance"
    if target_type not in ("instance", "ip"):
        raise OperationNotPermitted(f"Target groups of target type '{target_type}' are not supported by ecsemu yet.")
    protocol = params.get("Protocol")
    if protocol is None:
        raise ValidationError("A protocol must be specified")
    if protocol not in HTTP_PROTOCOLS + NETWORK_PROTOCOLS:
        raise OperationNotPermitted(f"Target groups with the protocol '{protocol}' are not supported by ecsemu yet.")
    if params.get("Port") is None:
        raise ValidationError("A port must be specified")
    if not params.get("VpcId"):
        raise ValidationError("A VPC ID must be specified")
    if params.get("TargetControlPort") is not None:
        raise OperationNotPermitted("TargetControlPort is not supported by ecsemu yet.")
    version = params.get("ProtocolVersion") or None  # "" (Terraform's provider sends it) is no version
    if version is not None:
        if protocol not in HTTP_PROTOCOLS:
            raise ValidationError(
                f"A protocol version cannot be specified for target groups with the protocol '{protocol}'"
            )
        version = version.upper()
        if version not in ("HTTP1", "HTTP2", "GRPC"):
            raise ValidationError(f"Protocol version '{params['ProtocolVersion']}' must be one of 'HTTP1, HTTP2, GRPC'")
    elif protocol in HTTP_PROTOCOLS:
        version = "HTTP1"
    tags = validate_tags(params.get("Tags"))
    hex_id = new_hex_id()
    arn = call.arn(TARGET_GROUP, f"{name}/{hex_id}")
    spec: dict[str, Any] = {
        "TargetGroupArn": arn,
        "TargetGroupName": name,
        "Protocol": protocol,
        "Port": params["Port"],
        "VpcId": params["VpcId"],
        "TargetType": target_type,
        "IpAddressType": params.get("IpAddressType") or "ipv4",
        **health_check(protocol, version, params),
        "CreatedTime": call.now,
        "Attributes": default_attributes(protocol, target_type),
        "Tags": tags,
        "Targets": {},
    }
    if version is not None:
        spec["ProtocolVersion"] = version
    with call.store.transaction():
        existing = find_by_name(call, name)
        if existing is not None:
            if _settings(spec_of(existing)) != _settings(spec):
                raise DuplicateTargetGroupName(
                    f"A target group with the same name '{name}' exists, but with different settings"
                )
            return {"TargetGroups": [render(existing, target_group_load_balancers(call))]}
        if len(call.store.ids(call.scope, TARGET_GROUP)) >= MAX_TARGET_GROUPS:
            raise TooManyTargetGroups("You've reached the limit on the number of target groups for your AWS account.")
        record = new_record(spec)
        call.put(TARGET_GROUP, arn, record)
    return {"TargetGroups": [render(record, {})]}


def find_by_name(call: Call, name: str) -> Record | None:
    for record in call.records(TARGET_GROUP):
        if spec_of(record)["TargetGroupName"] == name:
            return record
    return None


@operation("DescribeTargetGroups")
def describe_target_groups(call: Call, params: Params) -> Result:
    require_one_of(params, "LoadBalancerArn", "TargetGroupArns", "Names")
    users = target_group_load_balancers(call)
    if params.get("TargetGroupArns"):
        records = require_all(call, TARGET_GROUP, params["TargetGroupArns"])
    elif params.get("Names"):
        by_name = {spec_of(record)["TargetGroupName"]: record for record in call.records(TARGET_GROUP)}
        names = list(dict.fromkeys(params["Names"]))
        if any(name not in by_name for name in names):
            raise TargetGroupNotFound("One or more target groups not found")
        records = [by_name[name] for name in names]
    elif params.get("LoadBalancerArn"):
        lb_arn = spec_of(require(call, LOAD_BALANCER, params["LoadBalancerArn"]))["LoadBalancerArn"]
        records = [
            record
            for record in call.records(TARGET_GROUP)
            if lb_arn in users.get(spec_of(record)["TargetGroupArn"], [])
        ]
    else:
        records = call.records(TARGET_GROUP)
    page, marker = paginate(records, params)
    return with_marker({"TargetGroups": [render(record, users) for record in page]}, marker)


@operation("ModifyTargetGroup")
def modify_target_group(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, TARGET_GROUP, params["TargetGroupArn"])
        spec = spec_of(record)
        settings = health_check(spec["Protocol"], spec.get("ProtocolVersion"), params, current=spec)
        for key in _HEALTH_KEYS:
            spec.pop(key, None)
        spec.update(settings)
        call.put(TARGET_GROUP, spec["TargetGroupArn"], record)
        users = target_group_load_balancers(call)
    return {"TargetGroups": [render(record, users)]}


@operation("DeleteTargetGroup")
def delete_target_group(call: Call, params: Params) -> Result:
    arn = params["TargetGroupArn"]
    check_arn(TARGET_GROUP, arn)
    with call.store.transaction():
        if call.find(TARGET_GROUP, arn) is None:
            return {}
        if arn in target_group_load_balancers(call):
            raise ResourceInUse(f"Target group '{arn}' is currently in use by a listener or a rule")
        call.delete(TARGET_GROUP, arn)
    return {}


@operation("DescribeTargetGroupAttributes")
def describe_target_group_attributes(call: Call, params: Params) -> Result:
    record = require(call, TARGET_GROUP, params["TargetGroupArn"])
    return {"Attributes": attribute_list(spec_of(record)["Attributes"])}


def _check_attribute(key: str, value: str, spec: dict[str, Any]) -> None:
    known = default_attributes(spec["Protocol"], spec["TargetType"])
    if key not in known:
        raise ValidationError(f"Target group attribute key '{key}' is not recognized")
    if known[key] in _BOOL and value not in _BOOL:
        raise ValidationError(f"Target group attribute '{key}' must be 'true' or 'false'")
    if key in _RANGES:
        low, high = _RANGES[key]
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValidationError(f"Target group attribute '{key}' must be an integer between {low} and {high}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ValidationError(f"Target group attribute '{key}' must be one of '{', '.join(_CHOICES[key])}'")
    if key == "slow_start.duration_seconds" and (not value.isdigit() or not (value == "0" or 30 <= int(value) <= 900)):
        raise ValidationError("Target group attribute 'slow_start.duration_seconds' must be 0 or between 30 and 900")
    if key == "stickiness.type":
        allowed = ("lb_cookie", "app_cookie") if spec["Protocol"] in HTTP_PROTOCOLS else ("source_ip",)
        if value not in allowed:
            raise ValidationError(f"Stickiness type '{value}' must be one of '{', '.join(allowed)}'")


@operation("ModifyTargetGroupAttributes")
def modify_target_group_attributes(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, TARGET_GROUP, params["TargetGroupArn"])
        spec = spec_of(record)
        for attribute in params["Attributes"]:
            key, value = attribute.get("Key") or "", attribute.get("Value") or ""
            _check_attribute(key, value, spec)
            spec["Attributes"][key] = value
        attributes = spec["Attributes"]
        if (
            attributes.get("stickiness.type") == "app_cookie"
            and attributes.get("stickiness.enabled") == "true"
            and not attributes.get("stickiness.app_cookie.cookie_name")
        ):
            raise ValidationError("An application cookie name must be specified for app_cookie stickiness")
        call.put(TARGET_GROUP, spec["TargetGroupArn"], record)
    return {"Attributes": attribute_list(attributes)}
