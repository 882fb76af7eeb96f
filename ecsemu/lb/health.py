"""Target health: the state machine and what DescribeTargetHealth reports. Pure, no I/O.

The checker (``ecsemu.lb.healthcheck``) performs one probe per interval and feeds its
:class:`CheckResult` to :func:`advance`; :func:`reported_health` turns the record, plus the
target's registration and its group's use, into the :class:`TargetHealth` the API shows.

State machine (per target)
--------------------------
* ``initial`` until the first verdict: ``healthy_threshold`` consecutive passes make it
  ``healthy`` (the ECS guide: "by default, the load balancer requires five passing health
  checks before it reports that the target container is healthy"), ``unhealthy_threshold``
  consecutive failures make it ``unhealthy``. Before any check has completed the reason is
  ``Elb.RegistrationInProgress``, afterwards ``Elb.InitialHealthChecking``.
* ``healthy`` → ``unhealthy`` after ``unhealthy_threshold`` consecutive failures.
* ``unhealthy`` → ``healthy`` after ``healthy_threshold`` consecutive passes.
* An unhealthy target's reason is its last failure's: ``Target.ResponseCodeMismatch`` (wrong
  HTTP code), ``Target.Timeout`` (no answer within the timeout), ``Target.FailedHealthChecks``
  (connection refused or reset, malformed answer).

Overlays, in order (they do not touch the record)
-------------------------------------------------
* draining (``draining_since`` set): ``draining`` / ``Target.DeregistrationInProgress``;
* the group is not used by any listener: ``unused`` / ``Target.NotInUse`` (no checks run);
* health checks disabled: ``unavailable`` / ``Target.HealthCheckDisabled``.

Descriptions are worded as the ELB documentation's reason-code table words them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ecsemu.lb.model import HealthCheckSpec, TargetHealth

REGISTRATION_IN_PROGRESS = TargetHealth("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
INITIAL_HEALTH_CHECKING = TargetHealth("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTHY = TargetHealth("healthy")
DRAINING = TargetHealth("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
NOT_IN_USE = TargetHealth(
    "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"
)
HEALTH_CHECK_DISABLED = TargetHealth("unavailable", "Target.HealthCheckDisabled", "Health checks are disabled")

RecordState = Literal["initial", "healthy", "unhealthy"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one probe; a failure carries its reason code and description."""

    ok: bool
    reason: str | None = None
    description: str | None = None

    @staticmethod
    def passed() -> CheckResult:
        return CheckResult(True)

    @staticmethod
    def timed_out() -> CheckResult:
        return CheckResult(False, "Target.Timeout", "Request timed out")

    @staticmethod
    def failed() -> CheckResult:
        return CheckResult(False, "Target.FailedHealthChecks", "Health checks failed")

    @staticmethod
    def code_mismatch(status: int) -> CheckResult:
        return CheckResult(False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]")


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """What the checker knows of one target: its state and the current streaks."""

    state: RecordState = "initial"
    checks: int = 0
    consecutive_passes: int = 0
    consecutive_failures: int = 0
    last_failure: CheckResult | None = None


def advance(record: HealthRecord, result: CheckResult, spec: HealthCheckSpec) -> HealthRecord:
    """The record after one more probe result."""
    if result.ok:
        passes = record.consecutive_passes + 1
        state: RecordState = record.state
        if record.state != "healthy" and passes >= spec.healthy_threshold:
            state = "healthy"
        return replace(record, state=state, checks=record.checks + 1, consecutive_passes=passes, consecutive_failures=0)
    failures = record.consecutive_failures + 1
    state = record.state
    if record.state != "unhealthy" and failures >= spec.unhealthy_threshold:
        state = "unhealthy"
    return HealthRecord(state, record.checks + 1, 0, failures, result)


def record_health(record: HealthRecord) -> TargetHealth:
    """The reported health of a registered, checked target of a group in use."""
    if record.state == "healthy":
        return HEALTHY
    if record.state == "unhealthy":
        failure = record.last_failure or CheckResult.failed()
        return TargetHealth("unhealthy", failure.reason, failure.description)
    return INITIAL_HEALTH_CHECKING if record.checks else REGISTRATION_IN_PROGRESS


def reported_health(record: HealthRecord, *, draining: bool, in_use: bool, checks_enabled: bool) -> TargetHealth:
    if draining:
        return DRAINING
    if not in_use:
        return NOT_IN_USE
    if not checks_enabled:
        return HEALTH_CHECK_DISABLED
    return record_health(record)


# --------------------------------------------------------------------------- matcher


@dataclass(frozen=True, slots=True)
class Matcher:
    """Parsed ``Matcher.HttpCode``: inclusive ranges of accepted status codes."""

    ranges: tuple[tuple[int, int], ...]

    def accepts(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.ranges)


def parse_matcher(text: str) -> Matcher:
    """``"200"``, ``"200-299"``, ``"200,302"`` or a mix (``"200,300-399"``); ValueError otherwise."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        item = part.strip()
        low_text, dash, high_text = item.partition("-")
        try:
            low = int(low_text.strip())
            high = int(high_text.strip()) if dash else low
        except ValueError:
            raise ValueError(f"invalid health check matcher {text!r}") from None
        if not (100 <= low <= high <= 599):
            raise ValueError(f"invalid health check matcher {text!r}")
        ranges.append((low, high))
    return Matcher(tuple(ranges))


def judge_status(status: int, matcher: Matcher) -> CheckResult:
    return CheckResult.passed() if matcher.accepts(status) else CheckResult.code_mismatch(status)
