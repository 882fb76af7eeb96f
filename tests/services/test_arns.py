"""Unit tests of ecsemu.services.ecs.arns: the long ARN format, parsing, and generated ids."""

from __future__ import annotations

import re

import pytest

from ecsemu.context import Scope
from ecsemu.services.ecs import arns

SCOPE = Scope("123456789012", "eu-west-1")


@pytest.mark.parametrize(
    ("resource_type", "resource", "expected"),
    [
        ("cluster", "prod", "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"),
        ("service", "prod/web", "arn:aws:ecs:eu-west-1:123456789012:service/prod/web"),
        ("task", "prod/0123abcd", "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123abcd"),
        ("task-definition", "web:3", "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3"),
        ("capacity-provider", "FARGATE", "arn:aws:ecs:eu-west-1:123456789012:capacity-provider/FARGATE"),
    ],
)
def test_arn_is_the_long_format_and_parses_back(resource_type: str, resource: str, expected: str) -> None:
    text = arns.arn(SCOPE, resource_type, resource)
    assert text == expected
    assert arns.parse(text) == arns.Arn("eu-west-1", "123456789012", resource_type, resource)
    assert arns.is_arn(text)


def test_parse_keeps_every_segment_after_the_type() -> None:
    parsed = arns.parse("arn:aws:ecs:us-east-1:123456789012:task-set/prod/web/ecs-svc/123")
    assert parsed == arns.Arn("us-east-1", "123456789012", "task-set", "prod/web/ecs-svc/123")


@pytest.mark.parametrize(
    "text",
    [
        "prod",  # a name
        "web:3",  # a family:revision
        "arn:aws:s3:::bucket/key",  # not ECS
        "arn:aws:iam::123456789012:role/ecsTaskRole",  # not ECS
        "arn:aws:ecs:us-east-1:123456789012:cluster",  # no resource after the type
        "arn:aws:ecs:us-east-1:cluster/prod",  # too few fields
        "",
    ],
)
def test_parse_refuses_what_is_not_an_ecs_arn(text: str) -> None:
    assert arns.parse(text) is None


def test_parse_works_in_other_partitions() -> None:
    parsed = arns.parse("arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod")
    assert parsed == arns.Arn("cn-north-1", "123456789012", "cluster", "prod")


@pytest.mark.parametrize(
    ("name_or_arn", "expected"),
    [
        ("prod", "prod"),
        ("web:3", "web:3"),
        ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "prod"),
        ("arn:aws:ecs:us-east-1:123456789012:service/prod/web", "web"),
        ("arn:aws:ecs:us-east-1:123456789012:service/web", "web"),  # the short (old) format
        ("arn:aws:ecs:us-east-1:123456789012:task/prod/0123abcd", "0123abcd"),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3", "web:3"),
    ],
)
def test_last_segment_is_the_name_or_id(name_or_arn: str, expected: str) -> None:
    assert arns.last_segment(name_or_arn) == expected


def test_is_arn() -> None:
    assert arns.is_arn("arn:aws:ecs:us-east-1:123456789012:cluster/prod")
    assert not arns.is_arn("prod")
    assert not arns.is_arn("service:arn")


def test_task_ids_are_32_hex_digits_and_unique() -> None:
    ids = {arns.new_task_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"[0-9a-f]{32}", task_id) for task_id in ids)


def test_deployment_ids_look_like_ecs_ones() -> None:
    ids = {arns.new_deployment_id() for _ in range(500)}
    assert len(ids) == 500
    # ECS shows ecs-svc/ and a 19-digit number (no leading zero: it is a number).
    assert all(re.fullmatch(r"ecs-svc/[1-9][0-9]{18}", deployment_id) for deployment_id in ids)


def test_short_ids_are_unique_hex() -> None:
    ids = {arns.new_short_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]+", short_id) for short_id in ids)
