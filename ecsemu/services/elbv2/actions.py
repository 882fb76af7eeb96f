"""Listener and rule actions, and which load balancers use which target groups.

Vocabulary
----------
action
    What a listener's default rule or a rule does with a request, as the API shows it. Stored
    normalized, so the data plane reads one form:

    * ``{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": a,
      "Weight": 1}, ...], "TargetGroupStickinessConfig": {"Enabled": false}},
      "TargetGroupArn": a}`` — ``TargetGroupArn`` only when exactly one target group is
      forwarded to (AWS shows both forms then); weights default to 1.
    * ``{"Type": "redirect", "RedirectConfig": {"Protocol", "Port", "Host", "Path", "Query",
      "StatusCode"}}`` — the parts not given are AWS's defaults (``#{protocol}``, ``#{port}``,
      ``#{host}``, ``/#{path}``, ``#{query}``).
    * ``{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode", "ContentType"?,
      "MessageBody"?}}``.
    * ``Order`` is kept when given.
association
    A target group is associated with a load balancer when one of its listeners forwards to
    it, by default action or by rule. It is derived from the listener and rule records each
    time (never stored), so it cannot go stale.

Invariants:
- A target group is associated with at most one load balancer (AWS:
  ``TargetGroupAssociationLimit``).
- Authentication and JWT validation actions are not emulated: they are refused, never
  silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from ecsemu.model import load_balancing
from ecsemu.model.rule import actions_from_record
from ecsemu.services.elbv2.base import TARGET_GROUP, Call, require, spec_of
from ecsemu.services.elbv2.errors import (
    IncompatibleProtocols,
    OperationNotPermitted,
    TargetGroupAssociationLimit,
    TooManyActions,
    ValidationError,
)

Action = dict[str, Any]

TERMINAL_TYPES: Final = ("forward", "redirect", "fixed-response")
_UNSUPPORTED_TYPES: Final = ("authenticate-oidc", "authenticate-cognito", "jwt-validation")
_FIXED_RESPONSE_STATUS: Final = re.compile(r"^(2|4|5)\d\d$")
_FIXED_RESPONSE_CONTENT_TYPES: Final = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
_REDIRECT_DEFAULTS: Final = {
    "Protocol": "#{protocol}",
    "Port": "#{port}",
    "Host": "#{host}",
    "Path": "/#{path}",
    "Query": "#{query}",
}
MAX_TARGET_GROUPS_PER_ACTION: Final = 5

# Which target group protocols a listener protocol may forward to.
_COMPATIBLE: Final = {
    "HTTP": ("HTTP", "HTTPS"),
    "HTTPS": ("HTTP", "HTTPS"),
    "TCP": ("TCP", "TCP_UDP"),
    "TLS": ("TCP", "TLS"),
    "UDP": ("UDP", "TCP_UDP"),
    "TCP_UDP": ("TCP_UDP",),
}


def normalize_actions(call: Call, actions: list[Action], lb_type: str, listener_protocol: str) -> list[Action]:
    """``actions`` checked and put in the stored form; the target groups they forward to exist."""
    if not actions:
        raise ValidationError("At least one action must be specified")
    for action in actions:
        if action["Type"] in _UNSUPPORTED_TYPES:
            raise OperationNotPermitted(f"The action type '{action['Type']}' is not supported by ecsemu yet.")
    if len(actions) > 1:
        if any(action.get("Order") is None for action in actions):
            raise ValidationError(
                "An action order must be specified for every action when there is more than one action"
            )
        raise TooManyActions("A rule can only have one terminal action ('forward', 'redirect' or 'fixed-response')")
    allowed = TERMINAL_TYPES if lb_type == "application" else ("forward",)
    normalized = []
    for action in actions:
        kind = action["Type"]
        if kind not in allowed:
            raise ValidationError(f"Action type '{kind}' must be one of '{', '.join(allowed)}'")
        if kind == "forward":
            out = _forward(call, action, lb_type, listener_protocol)
        elif kind == "redirect":
            out = _redirect(action)
        else:
            out = _fixed_response(action)
        if action.get("Order") is not None:
            out["Order"] = action["Order"]
        normalized.append(out)
    return normalized


def _forward(call: Call, action: Action, lb_type: str, listener_protocol: str) -> Action:
    single = action.get("TargetGroupArn")
    config = action.get("ForwardConfig") or {}
    groups = config.get("TargetGroups") or []
    if single and groups and [group.get("TargetGroupArn") for group in groups] != [single]:
        raise ValidationError("You cannot specify a target group ARN and a forward config with different target groups")
    if not single and not groups:
        raise ValidationError("A target group ARN must be specified for a 'forward' action")
    if not groups:
        groups = [{"TargetGroupArn": single}]
    if any(not group.get("TargetGroupArn") for group in groups):
        raise ValidationError("A target group ARN must be specified for each target group of a forward config")
    if len(groups) > MAX_TARGET_GROUPS_PER_ACTION or (lb_type == "network" and len(groups) > 1):
        limit = MAX_TARGET_GROUPS_PER_ACTION if lb_type == "application" else 1
        raise ValidationError(f"A forward action can have at most '{limit}' target groups")
    arns = [group.get("TargetGroupArn") for group in groups]
    if len(set(arns)) != len(arns):
        raise ValidationError("A target group can be specified only once in a forward action")
    weighted = []
    for group in groups:
        arn = group["TargetGroupArn"]
        target_group = spec_of(require(call, TARGET_GROUP, arn))
        protocol = target_group.get("Protocol")
        if protocol not in _COMPATIBLE.get(listener_protocol, ()):
            raise IncompatibleProtocols(
                f"The listener and its associated target group '{arn}' have incompatible protocols"
            )
        weight = group.get("Weight")
        weighted.append({"TargetGroupArn": arn, "Weight": 1 if weight is None else weight})
    stickiness = dict(config.get("TargetGroupStickinessConfig") or {"Enabled": False})
    stickiness.setdefault("Enabled", False)
    if stickiness["Enabled"] and "DurationSeconds" not in stickiness:
        raise ValidationError("A stickiness duration must be specified when target group stickiness is enabled")
    out: Action = {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": weighted, "TargetGroupStickinessConfig": stickiness},
    }
    if len(weighted) == 1:
        out["TargetGroupArn"] = weighted[0]["TargetGroupArn"]
    return out


def _redirect(action: Action) -> Action:
    config = action.get("RedirectConfig")
    if not config:
        raise ValidationError("A redirect config must be specified for a 'redirect' action")
    protocol = config.get("Protocol")
    if protocol is not None and protocol not in ("HTTP", "HTTPS", "#{protocol}"):
        raise ValidationError(f"Redirect protocol '{protocol}' must be one of 'HTTP, HTTPS, #{{protocol}}'")
    filled = {key: config.get(key) or default for key, default in _REDIRECT_DEFAULTS.items()}
    if not filled["Path"].startswith("/"):
        raise ValidationError("The redirect path must start with a '/'")
    return {"Type": "redirect", "RedirectConfig": {**filled, "StatusCode": config["StatusCode"]}}


def _fixed_response(action: Action) -> Action:
    config = action.get("FixedResponseConfig")
    if not config:
        raise ValidationError("A fixed response config must be specified for a 'fixed-response' action")
    status = config["StatusCode"]
    if not _FIXED_RESPONSE_STATUS.match(status):
        raise ValidationError(f"Fixed response status code '{status}' must match the pattern '^(2|4|5)\\d\\d$'")
    content_type = config.get("ContentType")
    if content_type is not None and content_type not in _FIXED_RESPONSE_CONTENT_TYPES:
        raise ValidationError(
            f"Fixed response content type '{content_type}' must be one of '{', '.join(_FIXED_RESPONSE_CONTENT_TYPES)}'"
        )
    out = {"StatusCode": status}
    for key in ("ContentType", "MessageBody"):
        if config.get(key) is not None:
            out[key] = config[key]
    return {"Type": "fixed-response", "FixedResponseConfig": out}


def target_group_load_balancers(call: Call) -> dict[str, list[str]]:
    """Each associated target group's ARN → the load balancers whose listeners use it."""
    return load_balancing.LoadBalancingFacts(call.store, call.scope).target_group_load_balancers()


def check_association(call: Call, actions: Iterable[Action], lb_arn: str) -> None:
    """Refuse to forward to a target group that another load balancer already uses."""
    users = target_group_load_balancers(call)
    taken = [arn for arn in load_balancing.forwarded(actions_from_record(list(actions))) if any(lb != lb_arn for lb in users.get(arn, []))]
    if taken:
        raise TargetGroupAssociationLimit(
            f"The following target groups cannot be associated with more than one load balancer: {', '.join(taken)}"
        )
