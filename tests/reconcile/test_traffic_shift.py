"""How far traffic has moved in blue/green, linear and canary deployments."""

from __future__ import annotations

from ecsemu.reconcile.traffic_shift import bake_over, next_percent


def test_blue_green_moves_everything_at_once() -> None:
    assert next_percent({"strategy": "BLUE_GREEN"}, 0, None, 0.0) == 100


def test_linear_moves_a_step_per_step_bake_time() -> None:
    config = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}
    assert next_percent(config, 0, None, 0.0) == 25
    assert next_percent(config, 25, 100.0, 159.0) == 25
    assert next_percent(config, 25, 100.0, 160.0) == 50
    assert next_percent(config, 75, 0.0, 60.0) == 100
    assert next_percent(config, 100, 0.0, 60.0) == 100


def test_canary_then_the_rest() -> None:
    config = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2}}
    assert next_percent(config, 0, None, 0.0) == 10
    assert next_percent(config, 10, 0.0, 119.0) == 10
    assert next_percent(config, 10, 0.0, 120.0) == 100


def test_the_old_revision_waits_out_the_bake_time() -> None:
    config = {"bakeTimeInMinutes": 1}
    assert not bake_over(config, None, 100.0)
    assert not bake_over(config, 0.0, 59.0)
    assert bake_over(config, 0.0, 60.0)
    assert bake_over({}, 5.0, 5.0)
