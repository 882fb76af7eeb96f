"""The scaling clock: AWS time, the wall clock's or compressed (``--scaling-clock N``)."""

from __future__ import annotations

import time

import pytest

from ecsemu.model.clock import ScalingClock


class FakeWall:
    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_factor_one_is_the_wall_clock() -> None:
    wall = FakeWall()
    clock = ScalingClock(1, wall)
    assert clock.now() == wall.at
    wall.at += 123.5
    assert clock.now() == wall.at
    assert clock.real_seconds(60) == 60


def test_the_default_clock_follows_time_time() -> None:
    clock = ScalingClock()
    before = time.time()
    now = clock.now()
    assert before - 1 <= now <= time.time() + 1


def test_factor_sixty_runs_sixty_times_as_fast_from_the_origin() -> None:
    wall = FakeWall()
    origin = wall.at
    clock = ScalingClock(60, wall)
    assert clock.origin == origin
    assert clock.now() == origin  # at the origin it equals the wall clock
    wall.at += 1.0
    assert clock.now() == pytest.approx(origin + 60.0)
    wall.at += 14.0
    assert clock.now() == pytest.approx(origin + 15 * 60.0)  # target tracking's 15-minute scale-in in 15 s
    assert clock.real_seconds(60) == pytest.approx(1.0)
    assert clock.real_seconds(300) == pytest.approx(5.0)


def test_now_never_goes_back_while_the_wall_clock_goes_forward() -> None:
    wall = FakeWall()
    clock = ScalingClock(600, wall)
    seen = []
    for _ in range(20):
        wall.at += 0.25
        seen.append(clock.now())
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert clock.real_seconds(600) == pytest.approx(1.0)


@pytest.mark.parametrize("factor", [0.5, 0, -1, float("nan")])
def test_a_factor_below_one_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="at least as fast as the wall clock"):
        ScalingClock(factor, FakeWall())


def test_now_never_goes_back_even_when_the_wall_clock_is_stepped_back() -> None:
    wall = FakeWall()
    clock = ScalingClock(60, wall)
    wall.at += 10
    before = clock.now()
    wall.at -= 5  # the system clock is corrected backwards
    assert clock.now() >= before
