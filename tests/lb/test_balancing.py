"""Target choice: round robin, least outstanding requests, fail open, draining, weights."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from ecsemu.lb.balancing import (
    choose_least_outstanding,
    choose_round_robin,
    choose_weighted,
    deregistration_complete,
    routable_targets,
)
from ecsemu.lb.model import TargetGroupSpec, TargetHealth, TargetSpec

from .strategies import health_states, target_lists

A, B, C = (TargetSpec(id=name, port=8000 + i) for i, name in enumerate("abc"))


def group(*targets: TargetSpec, delay: float = 300.0) -> TargetGroupSpec:
    return TargetGroupSpec(arn="tg", targets=targets, deregistration_delay_s=delay)


def health(tg: TargetGroupSpec, **states: str) -> dict:  # type: ignore[type-arg]
    return {tg.key(t): TargetHealth(states.get(t.id, "healthy")) for t in tg.targets}  # type: ignore[arg-type]


def test_only_healthy_targets_when_some_are() -> None:
    tg = group(A, B, C)
    assert routable_targets(tg, health(tg, b="unhealthy", c="initial")) == (A,)


def test_health_checks_disabled_counts_as_in_service() -> None:
    tg = group(A, B)
    assert routable_targets(tg, health(tg, a="unavailable", b="unhealthy")) == (A,)


def test_fails_open_to_every_registered_target_when_none_is_healthy() -> None:
    tg = group(A, B, C)
    assert routable_targets(tg, health(tg, a="unhealthy", b="initial", c="unhealthy")) == (A, B, C)


def test_draining_targets_never_get_new_requests_even_failing_open() -> None:
    b_draining = TargetSpec(id="b", port=8001, draining_since=1.0)
    tg = group(A, b_draining)
    assert routable_targets(tg, health(tg, a="unhealthy", b="draining")) == (A,)
    assert routable_targets(group(b_draining), {}) == ()


@given(target_lists(), st.data())
def test_never_a_draining_target_and_never_empty_while_one_is_registered(targets: tuple[TargetSpec, ...], data: st.DataObject) -> None:
    tg = group(*targets)
    states = {tg.key(t): TargetHealth(data.draw(health_states)) for t in targets}  # type: ignore[arg-type]
    chosen = routable_targets(tg, states)
    assert all(t.draining_since is None for t in chosen)
    registered = [t for t in targets if t.draining_since is None]
    assert bool(chosen) == bool(registered)
    if any(states[tg.key(t)].state in ("healthy", "unavailable") for t in registered):
        assert all(states[tg.key(t)].state in ("healthy", "unavailable") for t in chosen)


def test_round_robin_goes_in_order() -> None:
    counter, seen = 0, []
    for _ in range(7):
        target, counter = choose_round_robin((A, B, C), counter)
        seen.append(target)
    assert seen == [A, B, C, A, B, C, A]
    assert choose_round_robin((), 5) == (None, 5)


def test_least_outstanding_picks_the_least_loaded_and_rotates_ties() -> None:
    assert choose_least_outstanding((A, B, C), [3, 1, 2], 0)[0] is B
    picks = [choose_least_outstanding((A, B, C), [1, 0, 0], n)[0] for n in range(4)]
    assert picks == [B, C, B, C]
    assert choose_least_outstanding((), [], 0) == (None, 0)


@given(st.lists(st.integers(0, 999), min_size=1, max_size=5))
def test_weighted_choice_is_exact_over_each_cycle(weights: list[int]) -> None:
    total = sum(weights)
    current: tuple[int, ...] = (0,) * len(weights)
    if total == 0:
        assert choose_weighted(weights, current)[0] is None
        return
    picks: Counter[int] = Counter()
    for _ in range(total):
        index, current = choose_weighted(weights, current)
        assert index is not None
        picks[index] += 1
    assert [picks[i] for i in range(len(weights))] == weights
    assert current == (0,) * len(weights)


def test_weighted_choice_interleaves() -> None:
    current: tuple[int, ...] = (0, 0)
    order = []
    for _ in range(4):
        index, current = choose_weighted([3, 1], current)
        order.append(index)
    assert order == [0, 0, 1, 0]


def test_deregistration_completes_when_idle_or_when_the_delay_has_passed() -> None:
    draining = TargetSpec(id="a", port=1, draining_since=100.0)
    tg = group(draining, delay=30.0)
    assert not deregistration_complete(tg, draining, in_flight=2, now=120.0)
    assert deregistration_complete(tg, draining, in_flight=0, now=101.0)
    assert deregistration_complete(tg, draining, in_flight=2, now=130.0)
    assert not deregistration_complete(tg, A, in_flight=0, now=1e9)
