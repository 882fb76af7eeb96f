"""Fixtures and builders shared by the ELBv2 API tests (``elbv2``, ``raw_elbv2`` clients)."""

from __future__ import annotations

from typing import Any

import botocore.config
import botocore.session
import pytest
from botocore.exceptions import ClientError
from conftest import REGION, client

from ecsemu.context import Scope

SCOPE = Scope("123456789012", REGION)
SUBNETS = ["subnet-0a1", "subnet-0b2"]
VPC = "vpc-0123456789abcdef0"


@pytest.fixture
def elbv2(endpoint: str) -> Any:
    return client("elbv2", endpoint)


@pytest.fixture
def raw_elbv2(endpoint: str) -> Any:
    """A client that skips boto3's own parameter checks, to reach the server's."""
    return client("elbv2", endpoint, config=botocore.config.Config(parameter_validation=False))


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def make_alb(elbv2: Any, name: str = "web", **kwargs: Any) -> dict[str, Any]:
    created: dict[str, Any] = elbv2.create_load_balancer(Name=name, Subnets=SUBNETS, **kwargs)["LoadBalancers"][0]
    return created


def make_tg(elbv2: Any, name: str = "app", protocol: str = "HTTP", port: int = 80, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("TargetType", "ip")
    created: dict[str, Any] = elbv2.create_target_group(Name=name, Protocol=protocol, Port=port, VpcId=VPC, **kwargs)[
        "TargetGroups"
    ][0]
    return created


def forward(tg_arn: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": tg_arn}]


def make_listener(elbv2: Any, lb_arn: str, tg_arn: str, port: int = 80, protocol: str = "HTTP") -> dict[str, Any]:
    created: dict[str, Any] = elbv2.create_listener(
        LoadBalancerArn=lb_arn, Protocol=protocol, Port=port, DefaultActions=forward(tg_arn)
    )["Listeners"][0]
    return created


def health(elbv2: Any, tg_arn: str, **kwargs: Any) -> list[tuple[str, int, str, str | None]]:
    descriptions = elbv2.describe_target_health(TargetGroupArn=tg_arn, **kwargs)["TargetHealthDescriptions"]
    return [
        (d["Target"]["Id"], d["Target"]["Port"], d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
        for d in descriptions
    ]


def attributes(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}
