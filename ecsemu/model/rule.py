"""The listener rule record, and the actions and conditions of rules and listeners: kind
``elbv2.rule``, id the ARN's part after ``listener-rule/``
(``app/<lb name>/<lb hex>/<listener hex>/<16 hex>``).

Stored as JSON with ELBv2's member names (rules have no status)::

    {"spec": {                                   # written by the ELBv2 API only
        "RuleArn": str, "ListenerArn": str,
        "Priority": int (1 to 50000) | "default", "IsDefault": bool,
        "Conditions": [condition],               # [] for the default rule
        "Actions"?: [action],                    # absent for the default rule: its actions
                                                 # are the listener's DefaultActions
        "CreatedTime": float, "Tags": [{"Key": str, "Value": str}]},
     "status": {}}

An action is stored normalized, one form per type:

* ``{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn", "Weight"}],
  "TargetGroupStickinessConfig": {"Enabled": false}}, "TargetGroupArn"?: arn}`` —
  ``TargetGroupArn`` only when exactly one group is forwarded to; weights default to 1;
* ``{"Type": "redirect", "RedirectConfig": {"Protocol", "Port", "Host", "Path", "Query",
  "StatusCode"}}``;
* ``{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode", "ContentType"?,
  "MessageBody"?}}``; ``Order`` is kept when given.

A condition is stored in the form AWS shows: ``host-header`` / ``path-pattern`` with ``Values``
and/or ``HostHeaderConfig`` / ``PathPatternConfig``; ``http-header`` with ``HttpHeaderConfig``
(``HttpHeaderName``, ``Values``); ``http-request-method`` with ``HttpRequestMethodConfig``;
``query-string`` with ``QueryStringConfig`` (``Values``: ``[{"Key"?, "Value"}]``); ``source-ip``
with ``SourceIpConfig``.

Vocabulary: a target group is *associated* with a load balancer when one of its listeners
forwards to it (by default action or by rule); see :mod:`ecsemu.model.load_balancing`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

KIND: Final = "elbv2.rule"


@dataclass(frozen=True, slots=True)
class Forward:
    weights: tuple[tuple[str, int], ...]  # (target group ARN, weight), in the stored order


@dataclass(frozen=True, slots=True)
class Redirect:
    status_code: str
    protocol: str = "#{protocol}"
    host: str = "#{host}"
    port: str = "#{port}"
    path: str = "/#{path}"
    query: str = "#{query}"


@dataclass(frozen=True, slots=True)
class FixedResponse:
    status_code: int
    content_type: str = "text/plain"
    body: str = ""


Action = Forward | Redirect | FixedResponse


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition: ``field`` as AWS names it; ``values`` its values (for ``query-string``,
    ``(key or None, value)`` pairs); ``header`` the header's name for ``http-header``."""

    field: str
    values: tuple[str, ...] = ()
    header: str = ""
    pairs: tuple[tuple[str | None, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    arn: str
    listener_arn: str
    priority: int | None  # None for the default rule
    is_default: bool
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]  # () for the default rule: the listener's DefaultActions apply

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Rule:
        spec = record["spec"]
        is_default = bool(spec.get("IsDefault"))
        return cls(
            arn=str(spec["RuleArn"]),
            listener_arn=str(spec["ListenerArn"]),
            priority=None if is_default else int(spec["Priority"]),
            is_default=is_default,
            conditions=tuple(condition_from_record(c) for c in spec.get("Conditions") or []),
            actions=actions_from_record(spec.get("Actions") or []),
        )


def _values(condition: Mapping[str, Any], config: str) -> tuple[str, ...]:
    return tuple((condition.get(config) or {}).get("Values") or condition.get("Values") or [])


def condition_from_record(condition: Mapping[str, Any]) -> Condition:
    field = str(condition.get("Field") or "")
    if field == "host-header":
        return Condition(field, _values(condition, "HostHeaderConfig"))
    if field == "path-pattern":
        return Condition(field, _values(condition, "PathPatternConfig"))
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        return Condition(field, tuple(config.get("Values") or []), header=str(config.get("HttpHeaderName") or ""))
    if field == "http-request-method":
        return Condition(field, tuple((condition.get("HttpRequestMethodConfig") or {}).get("Values") or []))
    if field == "query-string":
        given = (condition.get("QueryStringConfig") or {}).get("Values") or []
        return Condition(field, pairs=tuple((pair.get("Key"), str(pair.get("Value", ""))) for pair in given))
    if field == "source-ip":
        return Condition(field, tuple((condition.get("SourceIpConfig") or {}).get("Values") or []))
    return Condition(field)


def action_from_record(action: Mapping[str, Any]) -> Action:
    kind = action.get("Type")
    if kind == "forward":
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or [{"TargetGroupArn": action["TargetGroupArn"]}]
        return Forward(tuple((str(g["TargetGroupArn"]), int(g.get("Weight", 1))) for g in groups))
    if kind == "fixed-response":
        config = action["FixedResponseConfig"]
        return FixedResponse(
            int(config["StatusCode"]), str(config.get("ContentType") or "text/plain"), str(config.get("MessageBody") or "")
        )
    config = action["RedirectConfig"]
    return Redirect(
        status_code=str(config["StatusCode"]),
        protocol=str(config.get("Protocol", "#{protocol}")),
        host=str(config.get("Host", "#{host}")),
        port=str(config.get("Port", "#{port}")),
        path=str(config.get("Path", "/#{path}")),
        query=str(config.get("Query", "#{query}")),
    )


def actions_from_record(actions: Sequence[Mapping[str, Any]]) -> tuple[Action, ...]:
    """The actions in the order they run (by ``Order``, stable); the last one is terminal."""
    ordered = sorted(actions, key=lambda a: int(a.get("Order", 0)))
    return tuple(action_from_record(action) for action in ordered)
