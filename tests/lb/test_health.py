"""The target health state machine, its reasons and descriptions, and the matcher."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsemu.lb.health import (
    CheckResult,
    HealthRecord,
    advance,
    judge_status,
    parse_matcher,
    record_health,
    reported_health,
)
from ecsemu.lb.model import HealthCheckSpec, TargetHealth

from .strategies import health_specs

SPEC = HealthCheckSpec(healthy_threshold=3, unhealthy_threshold=2)


def run(results: list[CheckResult], spec: HealthCheckSpec = SPEC, record: HealthRecord | None = None) -> HealthRecord:
    record = record or HealthRecord()
    for result in results:
        record = advance(record, result, spec)
    return record


OK, FAIL = CheckResult.passed(), CheckResult.failed()


def test_initial_before_any_check_then_initial_health_checking() -> None:
    assert record_health(HealthRecord()) == TargetHealth(
        "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
    )
    assert record_health(run([OK])) == TargetHealth("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
    assert record_health(run([FAIL])).state == "initial"


def test_healthy_after_healthy_threshold_passes() -> None:
    assert run([OK, OK]).state == "initial"
    assert run([OK, OK, OK]).state == "healthy"
    assert record_health(run([OK, OK, OK])) == TargetHealth("healthy")


def test_unhealthy_after_unhealthy_threshold_failures_with_the_last_reason() -> None:
    record = run([OK, OK, OK, CheckResult.code_mismatch(404)])
    assert record.state == "healthy"
    record = advance(record, CheckResult.code_mismatch(500), SPEC)
    assert record_health(record) == TargetHealth(
        "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"
    )
    assert record_health(run([CheckResult.timed_out()] * 2)) == TargetHealth("unhealthy", "Target.Timeout", "Request timed out")
    assert record_health(run([FAIL, FAIL])) == TargetHealth("unhealthy", "Target.FailedHealthChecks", "Health checks failed")


def test_a_pass_resets_the_failure_streak_and_recovery_needs_the_full_threshold() -> None:
    healthy = run([OK] * 3)
    assert run([FAIL, OK, FAIL], record=healthy).state == "healthy"
    unhealthy = run([FAIL, FAIL], record=healthy)
    assert run([OK, OK], record=unhealthy).state == "unhealthy"
    assert run([OK, OK, OK], record=unhealthy).state == "healthy"


@given(health_specs, st.lists(st.booleans(), max_size=40))
def test_state_follows_the_streaks(spec: HealthCheckSpec, outcomes: list[bool]) -> None:
    record = HealthRecord()
    for ok in outcomes:
        before = record.state
        record = advance(record, OK if ok else FAIL, spec)
        if record.state != before:
            # A change of state always comes at exactly the threshold of the streak.
            if record.state == "healthy":
                assert record.consecutive_passes == spec.healthy_threshold
            else:
                assert record.state == "unhealthy"
                assert record.consecutive_failures == spec.unhealthy_threshold
    assert record.checks == len(outcomes)
    tail = outcomes[-max(spec.healthy_threshold, spec.unhealthy_threshold) :]
    if len(tail) >= spec.unhealthy_threshold and not any(tail[-spec.unhealthy_threshold :]):
        assert record.state == "unhealthy"
    if len(tail) >= spec.healthy_threshold and all(tail[-spec.healthy_threshold :]):
        assert record.state == "healthy"


def test_overlays_draining_unused_disabled() -> None:
    healthy = run([OK] * 3)
    assert reported_health(healthy, draining=True, in_use=True, checks_enabled=True) == TargetHealth(
        "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
    )
    assert reported_health(healthy, draining=False, in_use=False, checks_enabled=True) == TargetHealth(
        "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
    )
    assert reported_health(healthy, draining=False, in_use=True, checks_enabled=False) == TargetHealth(
        "unavailable", "Target.HealthCheckDisabled", "Health checks are disabled"
    )
    assert reported_health(healthy, draining=False, in_use=True, checks_enabled=True) == TargetHealth("healthy")


@pytest.mark.parametrize(
    ("matcher", "accepted", "refused"),
    [
        ("200", [200], [201, 302, 500]),
        ("200-299", [200, 204, 299], [199, 300]),
        ("200,302", [200, 302], [201, 301]),
        (" 200 , 300-399 ", [200, 301], [201, 400]),
    ],
)
def test_matcher(matcher: str, accepted: list[int], refused: list[int]) -> None:
    parsed = parse_matcher(matcher)
    assert all(parsed.accepts(s) for s in accepted)
    assert not any(parsed.accepts(s) for s in refused)


@pytest.mark.parametrize("matcher", ["", "abc", "299-200", "200-", "99", "600", "200;302"])
def test_invalid_matchers_are_refused(matcher: str) -> None:
    with pytest.raises(ValueError, match="matcher"):
        parse_matcher(matcher)


def test_judge_status() -> None:
    assert judge_status(200, parse_matcher("200")).ok
    assert judge_status(404, parse_matcher("200")) == CheckResult(
        False, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]"
    )
