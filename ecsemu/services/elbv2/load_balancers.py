"""Load balancers. Kind ``elbv2.load_balancer``; id = the ARN's part after ``loadbalancer/``
(``app/<name>/<16 hex>`` or ``net/<name>/<16 hex>``).

Record (the data plane reads it; only the API writes ``spec``, only the data plane ``status``)::

    {"spec": {
        "LoadBalancerArn": str, "LoadBalancerName": str,
        "Type": "application" | "network", "Scheme": "internet-facing" | "internal",
        "IpAddressType": "ipv4" | "dualstack" | "dualstack-without-public-ipv4",
        "VpcId": str, "SecurityGroups": [str],                # [] for an NLB given none
        "AvailabilityZones": [{"ZoneName": str, "SubnetId": str, "LoadBalancerAddresses": []}],
        "DNSName": str, "CanonicalHostedZoneId": str, "CreatedTime": float (epoch seconds),
        "Attributes": {key: value, ...},                     # every attribute, defaults filled
        "Tags": [{"Key": str, "Value": str}]},
     "status": {"State"?: {"Code": "active" | "active_impaired" | "failed", "Reason"?: str}}}

Invariants:
- Names are unique per account and region. Creating a load balancer again with the same name
  and settings answers the existing one (AWS's idempotency); other settings are refused.
- ``State``: CreateLoadBalancer answers ``provisioning`` (as AWS does); afterwards the state is
  the data plane's ``status.State`` when it wrote one, else ``active`` (nothing here takes
  time to provision).
- Deleting a load balancer deletes its listeners and their rules. Deleting one that does not
  exist succeeds.

DNS names
---------
``DNSName`` is ``<name>-<16 hex>.<region>.elb.localhost`` (``internal-`` in front for internal
load balancers): usable from this machine, because names under ``.localhost`` resolve to the
loopback address with systemd-resolved or nss-myhostname, in curl (7.78+) and in browsers (RFC
6761). Where the system resolver does not (plain ``files dns`` in nsswitch), add the name to
``/etc/hosts``, or send requests to ``127.0.0.1:<listener port>`` with the name as ``Host``.
The VPC, subnets and default security group are the emulator's stand-ins (there is no EC2):
deterministic per account and region, or the subnets given.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from ecsemu.context import Scope
from ecsemu.services.elbv2.base import (
    LISTENER,
    LOAD_BALANCER,
    RULE,
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
    status_of,
    with_marker,
)
from ecsemu.services.elbv2.errors import (
    DuplicateLoadBalancerName,
    InvalidConfigurationRequest,
    LoadBalancerNotFound,
    OperationNotPermitted,
    TooManyLoadBalancers,
    ValidationError,
)
from ecsemu.services.elbv2.tags import validate_tags
from ecsemu.state.store import Record

MAX_LOAD_BALANCERS: Final = 50
_NAME: Final = re.compile(r"^[a-zA-Z0-9-]+$")
_ZONE_LETTERS: Final = "abcdef"
_TYPE_PREFIX: Final = {"application": "app", "network": "net"}

# Route 53 hosted zone ids of each region's load balancers (ELB endpoints table); others get
# us-east-1's.
_ALB_ZONES: Final = {
    "us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5", "ca-central-1": "ZQSVJUPU6J1EY", "eu-west-1": "Z32O12XQLNTSW2",
    "eu-west-2": "ZHURV8PSTC4K8", "eu-west-3": "Z3Q77PNBQS71R4", "eu-central-1": "Z215JYRZR1TBD5",
    "eu-north-1": "Z23TAZ6LKFMNIO", "ap-south-1": "ZP97RAFLXTNZK", "ap-northeast-1": "Z14GRHDCWA56QT",
    "ap-southeast-1": "Z1LMS91P8CMLE5", "ap-southeast-2": "Z1GM3OXH4ZPM65",
}  # fmt: skip
_NLB_ZONES: Final = {
    "us-east-1": "Z26RNL4JYFTOTI", "us-east-2": "ZLMOA37VPKANP", "us-west-1": "Z24FKFUX50B4VW",
    "us-west-2": "Z18D5FSROUN65G", "eu-west-1": "Z2IFOLAFXWLO4F", "eu-west-2": "ZD4D7Y8KGAS4G",
    "eu-west-3": "Z1CMS0P5QUZ6D5", "eu-central-1": "Z3F0SRJ5LGBH90", "eu-north-1": "Z1UDT6IFJ4EJM",
    "ap-south-1": "ZVDDRBQ08TROA", "ap-northeast-1": "Z31USIVHYNEOWT", "ap-southeast-2": "ZCT6FZBF4DROD",
}  # fmt: skip

_BOOL: Final = ("true", "false")
# Every attribute of each type with its default; the validator of its values.
APPLICATION_ATTRIBUTES: Final = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}
NETWORK_ATTRIBUTES: Final = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "deletion_protection.enabled": "false",
    "dns_record.client_routing_policy": "any_availability_zone",
    "ipv6.deny_all_igw_traffic": "false",
    "load_balancing.cross_zone.enabled": "false",
    "zonal_shift.config.enabled": "false",
}
_RANGES: Final = {"idle_timeout.timeout_seconds": (1, 4000), "client_keep_alive.seconds": (60, 604800)}
_CHOICES: Final = {
    "routing.http.desync_mitigation_mode": ("monitor", "defensive", "strictest"),
    "routing.http.xff_header_processing.mode": ("append", "preserve", "remove"),
    "dns_record.client_routing_policy": (
        "availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone",
    ),
}  # fmt: skip


def default_attributes(lb_type: str) -> dict[str, str]:
    return dict(APPLICATION_ATTRIBUTES if lb_type == "application" else NETWORK_ATTRIBUTES)


def _stand_in(prefix: str, scope: Scope, *parts: str) -> str:
    """A deterministic EC2-looking id for the emulator's stand-in VPC, subnets and groups."""
    digest = hashlib.sha256(":".join((scope.account_id, scope.region, *parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def default_vpc_id(scope: Scope) -> str:
    return _stand_in("vpc", scope, "default-vpc")


def _check_name(name: str) -> None:
    if len(name) > 32:
        raise ValidationError(f"The load balancer name '{name}' cannot be longer than '32' characters")
    if not _NAME.match(name):
        raise ValidationError(
            f"The load balancer name '{name}' can only contain characters that are alphanumeric characters and hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise ValidationError(f"The load balancer name '{name}' cannot begin or end with a hyphen")
    if name.lower().startswith("internal-"):
        raise ValidationError(f"The load balancer name '{name}' cannot begin with 'internal-'")


def _zones(call: Call, params: Params, lb_type: str) -> list[dict[str, Any]]:
    subnets = params.get("Subnets")
    mappings = params.get("SubnetMappings")
    if subnets and mappings:
        raise ValidationError("You can specify subnets or subnet mappings, not both")
    if mappings:
        if any(not mapping.get("SubnetId") for mapping in mappings):
            raise ValidationError("A subnet ID must be specified for each subnet mapping")
        entries = [(mapping["SubnetId"], mapping) for mapping in mappings]
    elif subnets:
        entries = [(subnet, {}) for subnet in subnets]
    else:
        entries = [(_stand_in("subnet", call.scope, letter), {}) for letter in _ZONE_LETTERS[:2]]
    ids = [subnet for subnet, _ in entries]
    if len(set(ids)) != len(ids):
        raise ValidationError("A subnet can be specified only once")
    if lb_type == "application" and len(entries) < 2:
        raise ValidationError("At least two subnets in two different Availability Zones must be specified")
    zones = []
    for index, (subnet, mapping) in enumerate(entries):
        addresses = []
        if mapping.get("PrivateIPv4Address"):
            addresses.append({"PrivateIPv4Address": mapping["PrivateIPv4Address"]})
        if mapping.get("AllocationId"):
            addresses.append({"AllocationId": mapping["AllocationId"]})
        zones.append(
            {
                "ZoneName": f"{call.scope.region}{_ZONE_LETTERS[index % len(_ZONE_LETTERS)]}",
                "SubnetId": subnet,
                "LoadBalancerAddresses": addresses,
            }
        )
    return zones


def _dns_name(scope: Scope, name: str, hex_id: str, scheme: str) -> str:
    prefix = "internal-" if scheme == "internal" else ""
    return f"{prefix}{name}-{hex_id}.{scope.region}.elb.localhost".lower()


def render(record: Record, state: str | None = None) -> dict[str, Any]:
    """A load balancer as the API shows it; ``state`` overrides the derived state."""
    spec = spec_of(record)
    shown_state = {"Code": state} if state else status_of(record).get("State") or {"Code": "active"}
    out: dict[str, Any] = {
        "LoadBalancerArn": spec["LoadBalancerArn"],
        "DNSName": spec["DNSName"],
        "CanonicalHostedZoneId": spec["CanonicalHostedZoneId"],
        "CreatedTime": spec["CreatedTime"],
        "LoadBalancerName": spec["LoadBalancerName"],
        "Scheme": spec["Scheme"],
        "VpcId": spec["VpcId"],
        "State": shown_state,
        "Type": spec["Type"],
        "AvailabilityZones": spec["AvailabilityZones"],
        "IpAddressType": spec["IpAddressType"],
    }
    if spec.get("SecurityGroups"):
        out["SecurityGroups"] = spec["SecurityGroups"]
    return out


def _settings(spec: dict[str, Any]) -> tuple[Any, ...]:
    """What must match for a second CreateLoadBalancer of a name to answer the first."""
    return (
        spec["Type"],
        spec["Scheme"],
        spec["IpAddressType"],
        sorted(zone["SubnetId"] for zone in spec["AvailabilityZones"]),
        sorted(spec.get("SecurityGroups", [])),
    )


def find_by_name(call: Call, name: str) -> Record | None:
    for record in call.records(LOAD_BALANCER):
        if spec_of(record)["LoadBalancerName"] == name:
            return record
    return None


@operation("CreateLoadBalancer")
def create_load_balancer(call: Call, params: Params) -> Result:
    name = params["Name"]
    _check_name(name)
    lb_type = params.get("Type") or "application"
    if lb_type not in _TYPE_PREFIX:
        raise OperationNotPermitted(f"Load balancers of type '{lb_type}' are not supported by ecsemu yet.")
    for unsupported in ("CustomerOwnedIpv4Pool", "IpamPools"):
        if params.get(unsupported):
            raise OperationNotPermitted(f"{unsupported} is not supported by ecsemu yet.")
    scheme = params.get("Scheme") or "internet-facing"
    zones = _zones(call, params, lb_type)
    groups = list(dict.fromkeys(params.get("SecurityGroups") or []))
    if not groups and lb_type == "application":
        groups = [_stand_in("sg", call.scope, "default-security-group")]
    tags = validate_tags(params.get("Tags"))
    hex_id = new_hex_id()
    record_id = f"{_TYPE_PREFIX[lb_type]}/{name}/{hex_id}"
    arn = call.arn(LOAD_BALANCER, record_id)
    zone_ids = _ALB_ZONES if lb_type == "application" else _NLB_ZONES
    spec: dict[str, Any] = {
        "LoadBalancerArn": arn,
        "LoadBalancerName": name,
        "Type": lb_type,
        "Scheme": scheme,
        "IpAddressType": params.get("IpAddressType") or "ipv4",
        "VpcId": default_vpc_id(call.scope),
        "SecurityGroups": groups,
        "AvailabilityZones": zones,
        "DNSName": _dns_name(call.scope, name, hex_id, scheme),
        "CanonicalHostedZoneId": zone_ids.get(call.scope.region, zone_ids["us-east-1"]),
        "CreatedTime": call.now,
        "Attributes": default_attributes(lb_type),
        "Tags": tags,
    }
    with call.store.transaction():
        existing = find_by_name(call, name)
        if existing is not None:
            if _settings(spec_of(existing)) != _settings(spec):
                raise DuplicateLoadBalancerName(
                    f"A load balancer with the same name '{name}' exists, but with different settings"
                )
            return {"LoadBalancers": [render(existing)]}
        if sum(1 for record in call.records(LOAD_BALANCER) if spec_of(record)["Type"] == lb_type) >= MAX_LOAD_BALANCERS:
            raise TooManyLoadBalancers("You've reached the limit on the number of load balancers for your AWS account.")
        record = new_record(spec)
        call.put(LOAD_BALANCER, arn, record)
    return {"LoadBalancers": [render(record, state="provisioning")]}


@operation("DescribeLoadBalancers")
def describe_load_balancers(call: Call, params: Params) -> Result:
    require_one_of(params, "LoadBalancerArns", "Names")
    if params.get("LoadBalancerArns"):
        records = require_all(call, LOAD_BALANCER, params["LoadBalancerArns"])
    elif params.get("Names"):
        by_name = {spec_of(record)["LoadBalancerName"]: record for record in call.records(LOAD_BALANCER)}
        names = list(dict.fromkeys(params["Names"]))
        missing = [name for name in names if name not in by_name]
        if missing:
            raise LoadBalancerNotFound(f"Load balancers '[{', '.join(missing)}]' not found")
        records = [by_name[name] for name in names]
    else:
        records = call.records(LOAD_BALANCER)
    page, marker = paginate(records, params)
    return with_marker({"LoadBalancers": [render(record) for record in page]}, marker)


def listeners_of(call: Call, lb_arn: str) -> list[Record]:
    return [record for record in call.records(LISTENER) if spec_of(record)["LoadBalancerArn"] == lb_arn]


def delete_listener_records(call: Call, listener_arns: set[str]) -> None:
    """Delete listeners and every rule of theirs (default rules included)."""
    for record in call.records(RULE):
        rule = spec_of(record)
        if rule["ListenerArn"] in listener_arns:
            call.delete(RULE, rule["RuleArn"])
    for arn in listener_arns:
        call.delete(LISTENER, arn)


@operation("DeleteLoadBalancer")
def delete_load_balancer(call: Call, params: Params) -> Result:
    arn = params["LoadBalancerArn"]
    check_arn(LOAD_BALANCER, arn)
    with call.store.transaction():
        record = call.find(LOAD_BALANCER, arn)
        if record is None:
            return {}
        if spec_of(record)["Attributes"].get("deletion_protection.enabled") == "true":
            raise OperationNotPermitted(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        delete_listener_records(call, {spec_of(listener)["ListenerArn"] for listener in listeners_of(call, arn)})
        call.delete(LOAD_BALANCER, arn)
    return {}


@operation("DescribeLoadBalancerAttributes")
def describe_load_balancer_attributes(call: Call, params: Params) -> Result:
    record = require(call, LOAD_BALANCER, params["LoadBalancerArn"])
    return {"Attributes": attribute_list(spec_of(record)["Attributes"])}


def _check_attribute(key: str, value: str, known: dict[str, str]) -> None:
    if key not in known:
        raise ValidationError(f"Load balancer attribute key '{key}' is not recognized")
    if known[key] in _BOOL and value not in _BOOL:
        raise ValidationError(f"Load balancer attribute '{key}' must be 'true' or 'false'")
    if key in _RANGES:
        low, high = _RANGES[key]
        if not value.isdigit() or not low <= int(value) <= high:
            raise ValidationError(f"Load balancer attribute '{key}' must be an integer between {low} and {high}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ValidationError(f"Load balancer attribute '{key}' must be one of '{', '.join(_CHOICES[key])}'")


@operation("ModifyLoadBalancerAttributes")
def modify_load_balancer_attributes(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LOAD_BALANCER, params["LoadBalancerArn"])
        spec = spec_of(record)
        known = default_attributes(spec["Type"])
        for attribute in params["Attributes"]:
            key, value = attribute.get("Key") or "", attribute.get("Value") or ""
            _check_attribute(key, value, known)
            if key == "load_balancing.cross_zone.enabled" and spec["Type"] == "application" and value != "true":
                raise InvalidConfigurationRequest(
                    "Cross-zone load balancing cannot be disabled for Application Load Balancers"
                )
            spec["Attributes"][key] = value
        call.put(LOAD_BALANCER, spec["LoadBalancerArn"], record)
    return {"Attributes": attribute_list(spec["Attributes"])}


@operation("SetSecurityGroups")
def set_security_groups(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LOAD_BALANCER, params["LoadBalancerArn"])
        spec = spec_of(record)
        groups = list(dict.fromkeys(params["SecurityGroups"]))
        if spec["Type"] == "application" and not groups:
            raise ValidationError("At least one security group must be specified for an Application Load Balancer")
        spec["SecurityGroups"] = groups
        call.put(LOAD_BALANCER, spec["LoadBalancerArn"], record)
    return {"SecurityGroupIds": groups}


@operation("SetSubnets")
def set_subnets(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LOAD_BALANCER, params["LoadBalancerArn"])
        spec = spec_of(record)
        if not params.get("Subnets") and not params.get("SubnetMappings"):
            raise ValidationError("Subnets or subnet mappings must be specified")
        spec["AvailabilityZones"] = _zones(call, params, spec["Type"])
        if params.get("IpAddressType"):
            spec["IpAddressType"] = params["IpAddressType"]
        call.put(LOAD_BALANCER, spec["LoadBalancerArn"], record)
    return {"AvailabilityZones": spec["AvailabilityZones"], "IpAddressType": spec["IpAddressType"]}


@operation("SetIpAddressType")
def set_ip_address_type(call: Call, params: Params) -> Result:
    with call.store.transaction():
        record = require(call, LOAD_BALANCER, params["LoadBalancerArn"])
        spec = spec_of(record)
        spec["IpAddressType"] = params["IpAddressType"]
        call.put(LOAD_BALANCER, spec["LoadBalancerArn"], record)
    return {"IpAddressType": spec["IpAddressType"]}


# The quotas DescribeAccountLimits shows (AWS's defaults); the ones ecsemu enforces are used by
# the modules that check them.
ACCOUNT_LIMITS: Final = {
    "application-load-balancers": 50,
    "network-load-balancers": 50,
    "target-groups": 3000,
    "listeners-per-application-load-balancer": 50,
    "listeners-per-network-load-balancer": 50,
    "rules-per-application-load-balancer": 100,
    "targets-per-application-load-balancer": 1000,
    "targets-per-network-load-balancer": 3000,
    "target-groups-per-application-load-balancer": 100,
    "target-groups-per-action-on-application-load-balancer": 5,
    "target-groups-per-action-on-network-load-balancer": 1,
    "condition-values-per-alb-rule": 5,
    "condition-wildcards-per-alb-rule": 5,
    "certificates-per-application-load-balancer": 25,
    "certificates-per-network-load-balancer": 25,
}


@operation("DescribeAccountLimits")
def describe_account_limits(call: Call, params: Params) -> Result:
    limits = [{"Name": name, "Max": str(value)} for name, value in ACCOUNT_LIMITS.items()]
    page, marker = paginate(limits, params)
    return with_marker({"Limits": page}, marker)
