"""Listener rules. Kind ``elbv2.rule``; id = the ARN's part after ``listener-rule/``
(``app/<lb name>/<lb hex>/<listener hex>/<16 hex>``).

Record (the data plane reads it; only the API writes ``spec``; rules have no status)::

    {"spec": {
        "RuleArn": str, "ListenerArn": str,
        "Priority": int (1 to 50000) | "default", "IsDefault": bool,
        "Conditions": [condition],                   # [] for the default rule
        "Actions"?: [action],                        # normalized (elbv2.actions); absent for
                                                     # the default rule: its actions are the
                                                     # listener's DefaultActions
        "CreatedTime": float, "Tags": [{"Key": str, "Value": str}]},
     "status": {}}

A condition is stored in one form per field (what AWS shows):

* ``host-header`` / ``path-pattern``: ``{"Field", "Values": [...], "HostHeaderConfig" |
  "PathPatternConfig": {"Values": [...]}}`` (both forms, whichever was given);
* ``http-header``: ``{"Field", "HttpHeaderConfig": {"HttpHeaderName", "Values"}}``;
* ``http-request-method``: ``{"Field", "HttpRequestMethodConfig": {"Values"}}``;
* ``query-string``: ``{"Field", "QueryStringConfig": {"Values": [{"Key"?, "Value"}]}}``;
* ``source-ip``: ``{"Field", "SourceIpConfig": {"Values": [cidr]}}``.

Invariants:
- Priorities are unique within a listener; the default rule is evaluated last, the others in
  ascending priority (DescribeRules lists them in that order).
- Rules exist on Application Load Balancer listeners only.
- A rule has 1 to 5 condition values in all; host-header, http-request-method, path-pattern
  and source-ip appear at most once each.
- The default rule can be neither deleted nor given conditions or a priority.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

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
    OperationNotPermitted,
    PriorityInUse,
    TooManyRules,
    ValidationError,
)
from ecsemu.services.elbv2.tags import validate_tags
from ecsemu.state.store import Record

MAX_RULES_PER_LOAD_BALANCER: Final = 100
MAX_CONDITION_VALUES: Final = 5
FIELDS: Final = ("http-header", "http-request-method", "host-header", "path-pattern", "query-string", "source-ip")
_ONCE: Final = ("host-header", "http-request-method", "path-pattern", "source-ip")
_CONFIG_OF: Final = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}
_METHOD: Final = re.compile(r"^[A-Za-z_-]{1,40}$")
_HEADER_NAME: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$")


# --------------------------------------------------------------------------------------------
# Conditions


def _values(condition: dict[str, Any], field: str) -> list[Any]:
    config = condition.get(_CONFIG_OF[field]) or {}
    if config.get("RegexValues") or condition.get("RegexValues"):
        raise OperationNotPermitted("Regular expression conditions are not supported by ecsemu yet.")
    flat = condition.get("Values")
    nested = config.get("Values")
    if flat and field not in ("host-header", "path-pattern"):
        raise ValidationError(
            f"Values cannot be specified for the '{field}' condition field; use '{_CONFIG_OF[field]}'"
        )
    if flat and nested and list(flat) != list(nested):
        raise ValidationError(f"You cannot specify both Values and '{_CONFIG_OF[field]}' with different values")
    values = list(flat or nested or [])
    if not values:
        raise ValidationError(f"A condition value must be specified for the '{field}' condition field")
    for value in values:
        text = value.get("Value", "") if isinstance(value, dict) else value
        if not text or len(text) > 128:
            raise ValidationError(f"Condition value '{text}' must be between 1 and 128 characters long")
    return values


def normalize_condition(condition: dict[str, Any]) -> dict[str, Any]:
    field = condition.get("Field")
    if field not in FIELDS:
        raise ValidationError(f"Condition field '{field}' must be one of '[{', '.join(FIELDS)}]'")
    values = _values(condition, field)
    config_name = _CONFIG_OF[field]
    if field in ("host-header", "path-pattern"):
        return {"Field": field, "Values": values, config_name: {"Values": values}}
    if field == "http-header":
        name = (condition.get(config_name) or {}).get("HttpHeaderName")
        if not name or not _HEADER_NAME.match(name):
            raise ValidationError("A valid HTTP header name must be specified for the 'http-header' condition field")
        return {"Field": field, config_name: {"HttpHeaderName": name, "Values": values}}
    if field == "http-request-method":
        for method in values:
            if not _METHOD.match(method):
                raise ValidationError(f"HTTP request method '{method}' is not valid")
    if field == "query-string":
        pairs = []
        for pair in values:
            if not isinstance(pair, dict) or not pair.get("Value"):
                raise ValidationError("A value must be specified for each query string key/value pair")
            pairs.append({key: pair[key] for key in ("Key", "Value") if pair.get(key) is not None})
        values = pairs
    if field == "source-ip":
        for cidr in values:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as error:
                raise ValidationError(f"The source IP '{cidr}' is not a valid CIDR block") from error
    return {"Field": field, config_name: {"Values": values}}


def normalize_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not conditions:
        raise ValidationError("A rule must have at least one condition")
    normalized = [normalize_condition(condition) for condition in conditions]
    fields = [condition["Field"] for condition in normalized]
    for field in _ONCE:
        if fields.count(field) > 1:
            raise ValidationError(f"A rule can only have one '{field}' condition")
    total = sum(len(condition[_CONFIG_OF[condition["Field"]]]["Values"]) for condition in normalized)
    if total > MAX_CONDITION_VALUES:
        raise ValidationError(f"A rule can only have '{MAX_CONDITION_VALUES}' condition values")
    return normalized


# --------------------------------------------------------------------------------------------
# Rendering and lookups


def rules_of(call: Call, listener_arn: str) -> list[Record]:
    """A listener's rules in evaluation order: by priority, the default rule last."""
    rules = [record for record in call.records(RULE) if spec_of(record)["ListenerArn"] == listener_arn]
    return sorted(rules, key=lambda record: (spec_of(record)["IsDefault"], _priority(record)))


def _priority(record: Record) -> int:
    priority = spec_of(record)["Priority"]
    return priority if isinstance(priority, int) else 0


def render(call: Call, record: Record) -> dict[str, Any]:
    spec = spec_of(record)
    if spec["IsDefault"]:
        listener = call.find(LISTENER, spec["ListenerArn"])
        actions = spec_of(listener)["DefaultActions"] if listener is not None else []
    else:
        actions = spec["Actions"]
    return {
        "RuleArn": spec["RuleArn"],
        "Priority": str(spec["Priority"]),
        "Conditions": spec["Conditions"],
        "Actions": actions,
        "IsDefault": spec["IsDefault"],
    }


def _alb_listener(call: Call, listener_arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    listener = spec_of(require(call, LISTENER, listener_arn))
    lb = spec_of(require(call, LOAD_BALANCER, listener["LoadBalancerArn"]))
    if lb["Type"] != "application":
        raise ValidationError(f"Rules are not supported for listeners with the protocol '{listener['Protocol']}'")
    return listener, lb


def _priority_in_use(priority: int) -> PriorityInUse:
    return PriorityInUse(f"Priority '{priority}' is currently in use")


def _rules_of_load_balancer(call: Call, lb_arn: str) -> int:
    listeners = {
        spec_of(record)["ListenerArn"]
        for record in call.records(LISTENER)
        if spec_of(record)["LoadBalancerArn"] == lb_arn
    }
    return sum(
        1
        for record in call.records(RULE)
        if spec_of(record)["ListenerArn"] in listeners and not spec_of(record)["IsDefault"]
    )


def _refuse_transforms(params: Params) -> None:
    if params.get("Transforms"):
        raise OperationNotPermitted("Rule transforms are not supported by ecsemu yet.")


# --------------------------------------------------------------------------------------------
# Operations


@operation("CreateRule")
def create_rule(call: Call, params: Params) -> Result:
    _refuse_transforms(params)
    with call.store.transaction():
        listener, lb = _alb_listener(call, params["ListenerArn"])
        conditions = normalize_conditions(params["Conditions"])
        actions = normalize_actions(call, params["Actions"], lb["Type"], listener["Protocol"])
        tags = validate_tags(params.get("Tags"))
        priority = params["Priority"]
        if any(spec_of(rule)["Priority"] == priority for rule in rules_of(call, listener["ListenerArn"])):
            raise _priority_in_use(priority)
        if _rules_of_load_balancer(call, lb["LoadBalancerArn"]) >= MAX_RULES_PER_LOAD_BALANCER:
            raise TooManyRules("You've reached the limit on the number of rules per load balancer.")
        check_association(call, actions, lb["LoadBalancerArn"])
        listener_id = call.record_id(LISTENER, listener["ListenerArn"])
        arn = call.arn(RULE, f"{listener_id}/{new_hex_id()}")
        spec = {
            "RuleArn": arn,
            "ListenerArn": listener["ListenerArn"],
            "Priority": priority,
            "IsDefault": False,
            "Conditions": conditions,
            "Actions": actions,
            "CreatedTime": call.now,
            "Tags": tags,
        }
        record = new_record(spec)
        call.put(RULE, arn, record)
    return {"Rules": [render(call, record)]}


@operation("DescribeRules")
def describe_rules(call: Call, params: Params) -> Result:
    require_one_of(params, "ListenerArn", "RuleArns")
    if params.get("RuleArns"):
        records = require_all(call, RULE, params["RuleArns"])
    elif params.get("ListenerArn"):
        listener = spec_of(require(call, LISTENER, params["ListenerArn"]))
        records = rules_of(call, listener["ListenerArn"])
    else:
        raise ValidationError("You must specify either listener ARN or rule ARNs")
    page, marker = paginate(records, params)
    return with_marker({"Rules": [render(call, record) for record in page]}, marker)


@operation("ModifyRule")
def modify_rule(call: Call, params: Params) -> Result:
    _refuse_transforms(params)
    with call.store.transaction():
        record = require(call, RULE, params["RuleArn"])
        spec = spec_of(record)
        listener, lb = _alb_listener(call, spec["ListenerArn"])
        if spec["IsDefault"]:
            if params.get("Conditions"):
                raise ValidationError("Conditions cannot be specified for the default rule")
            if params.get("Actions"):
                actions = normalize_actions(call, params["Actions"], lb["Type"], listener["Protocol"])
                check_association(call, actions, lb["LoadBalancerArn"])
                listener_record = require(call, LISTENER, listener["ListenerArn"])
                spec_of(listener_record)["DefaultActions"] = actions
                call.put(LISTENER, listener["ListenerArn"], listener_record)
            return {"Rules": [render(call, record)]}
        if params.get("Conditions") is not None:
            spec["Conditions"] = normalize_conditions(params["Conditions"])
        if params.get("Actions"):
            spec["Actions"] = normalize_actions(call, params["Actions"], lb["Type"], listener["Protocol"])
            check_association(call, spec["Actions"], lb["LoadBalancerArn"])
        call.put(RULE, spec["RuleArn"], record)
    return {"Rules": [render(call, record)]}


@operation("DeleteRule")
def delete_rule(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, RULE, params["RuleArn"])
        spec = spec_of(record)
        if spec["IsDefault"]:
            raise OperationNotPermitted(f"Default rule '{spec['RuleArn']}' cannot be deleted")
        call.delete(RULE, spec["RuleArn"])
    return {}


@operation("SetRulePriorities")
def set_rule_priorities(call: Call, params: Params) -> Result:
    changes = params["RulePriorities"]
    with call.store.transaction():
        records = []
        for change in changes:
            record = require(call, RULE, change.get("RuleArn"))
            if spec_of(record)["IsDefault"]:
                raise OperationNotPermitted(f"The priority of the default rule '{change['RuleArn']}' cannot be changed")
            if change.get("Priority") is None:
                raise ValidationError("A priority must be specified for each rule")
            records.append((record, change["Priority"]))
        arns = [spec_of(record)["RuleArn"] for record, _ in records]
        if len(set(arns)) != len(arns):
            raise ValidationError("A rule can be specified only once")
        for record, priority in records:
            spec_of(record)["Priority"] = priority
        # Every listener touched must end with unique priorities.
        changed = {spec_of(record)["RuleArn"]: record for record, _ in records}
        for listener_arn in {spec_of(record)["ListenerArn"] for record, _ in records}:
            seen: set[int] = set()
            for rule in rules_of(call, listener_arn):
                current = changed.get(spec_of(rule)["RuleArn"], rule)
                priority = spec_of(current)["Priority"]
                if spec_of(current)["IsDefault"]:
                    continue
                if priority in seen:
                    raise _priority_in_use(priority)
                seen.add(priority)
        for record in changed.values():
            call.put(RULE, spec_of(record)["RuleArn"], record)
    return {"Rules": [render(call, record) for record in changed.values()]}
