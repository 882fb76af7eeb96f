"""Metric math: parsing, arithmetic on series and scalars, SUM/AVG/MIN/MAX, METRICS(), FILL."""

from __future__ import annotations

import pytest

from ecsemu.model import metric_math
from ecsemu.model.metric_math import Context, MathError, Named, evaluate, parse, series_result

M1 = {0.0: 1.0, 60.0: 2.0, 120.0: 3.0}
M2 = {0.0: 10.0, 120.0: 30.0}
CONTEXT = Context({"m1": M1, "m2": M2}, [Named("m1", "Errors", M1), Named("m2", "Requests", M2)], [0.0, 60.0, 120.0])


def run(expression: str) -> object:
    return evaluate(parse(expression), CONTEXT)


def test_arithmetic_with_precedence_and_series_meeting_on_common_timestamps() -> None:
    assert run("1 + 2 * 3") == 7.0
    assert run("-(2 ^ 3)") == -8.0
    assert run("m1 * 2") == {0.0: 2.0, 60.0: 4.0, 120.0: 6.0}
    assert run("100 * m1 / m2") == {0.0: 10.0, 120.0: 10.0}
    assert run("m1 / 0") == {}


def test_functions() -> None:
    assert run("SUM(m1)") == 6.0
    assert run("AVG([m1, m2])") == {0.0: 5.5, 60.0: 2.0, 120.0: 16.5}
    assert run("MAX(METRICS())") == {0.0: 10.0, 60.0: 2.0, 120.0: 30.0}
    assert run('SUM(METRICS("Err"))') == M1
    assert run("FILL(m2, 0)") == {0.0: 10.0, 60.0: 0.0, 120.0: 30.0}
    assert run("FILL(m2, REPEAT)") == {0.0: 10.0, 60.0: 10.0, 120.0: 30.0}
    assert run("FILL(m2, LINEAR)") == {0.0: 10.0, 60.0: 20.0, 120.0: 30.0}
    assert run("ABS(m1 - 2)") == {0.0: 1.0, 60.0: 0.0, 120.0: 1.0}
    assert series_result(run("SUM(m1)"), CONTEXT) == {0.0: 6.0, 60.0: 6.0, 120.0: 6.0}


def test_comparisons_logic_and_if() -> None:
    """``errors / IF(jobs > 0, jobs, 1)`` is the idiom of alarms on a rate (Terraform modules use it)."""
    assert run("m1 >= 2") == {0.0: 0.0, 60.0: 1.0, 120.0: 1.0}
    assert run("1 + 1 == 2") == 1.0  # arithmetic binds tighter than comparison
    assert run("m1 > 1 AND m1 < 3") == {0.0: 0.0, 60.0: 1.0, 120.0: 0.0}
    assert run("NOT m1 != 1 || m1 == 3") == {0.0: 1.0, 60.0: 0.0, 120.0: 1.0}
    assert run("m1 / IF(m1 > 1, m1, 1) * 100") == {0.0: 100.0, 60.0: 100.0, 120.0: 100.0}
    assert run("IF(m1 > 1, m1)") == {60.0: 2.0, 120.0: 3.0}
    assert run("IF(m1 > 1, m1, m2)") == {0.0: 10.0, 60.0: 2.0, 120.0: 3.0}
    assert run("IF(0, m1)") == {}


@pytest.mark.parametrize(
    "expression", ["IF(m1)", "IF([m1], 1)", "m1 >", "m1 = 2", "", "m1 +", "M1", "NOPE(m1)", "(m1", "m1 $ 2", "m9"]
)
def test_bad_expressions(expression: str) -> None:
    with pytest.raises(MathError):
        run(expression)


def test_references() -> None:
    assert metric_math.references(parse("m1 + SUM([e2, m3]) * 2")) == {"m1", "e2", "m3"}
