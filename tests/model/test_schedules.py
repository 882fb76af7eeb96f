"""Schedules: AWS's at() / rate() / cron() syntax, time zones and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ecsemu.model import schedules
from ecsemu.model.schedules import At, Cron, Rate, ScheduleError, latest_run, next_run, parse


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def local(zone: str, *parts: int) -> float:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).timestamp()  # type: ignore[misc]


def test_at_runs_once_at_its_wall_clock_time() -> None:
    schedule = parse("at(2026-03-01T10:30:00)")
    assert isinstance(schedule, At)
    moment = utc(2026, 3, 1, 10, 30)
    assert latest_run(schedule, moment - 60, moment) == moment
    assert latest_run(schedule, moment, moment + 3600) is None  # already run
    paris = schedules.zone("Europe/Paris")
    assert latest_run(schedule, 0, utc(2027, 1, 1), tz=paris) == local("Europe/Paris", 2026, 3, 1, 10, 30)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)],
)
def test_rate_units(expression: str, seconds: int) -> None:
    assert parse(expression) == Rate(seconds)


def test_rate_runs_on_periods_from_its_epoch() -> None:
    schedule = parse("rate(5 minutes)")
    assert latest_run(schedule, 1000, 1000 + 299, epoch=1000) is None
    assert latest_run(schedule, 1000, 1000 + 300, epoch=1000) == 1300
    assert latest_run(schedule, 1300, 1000 + 1000, epoch=1000) == 1900  # late: the latest run once
    assert next_run(schedule, 1300, epoch=1000) == 1600


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "rate(5 weeks)", "rate(five minutes)",
        "cron(0 10 * * *)", "cron(0 10 ? * ? *)", "cron(60 10 * * ? *)", "cron(0 24 * * ? *)",
        "cron(0 10 32 * ? *)", "cron(0 10 ? 13 MON *)", "cron(0 10 ? * 8 *)", "cron(0 10 ? * MON-SUN2 *)",
        "at(2026-13-01T00:00:00)", "at(2026-01-01 00:00:00)", "every(5 minutes)", "cron(0 10 * * ? 1969)", "",
    ],
)  # fmt: skip
def test_refused_expressions(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse(expression)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="Time zone Mars/Olympus is not supported"):
        schedules.zone("Mars/Olympus")


def test_cron_every_day_at_ten_utc() -> None:
    schedule = parse("cron(0 10 * * ? *)")
    assert isinstance(schedule, Cron)
    assert latest_run(schedule, utc(2026, 5, 1), utc(2026, 5, 3, 12)) == utc(2026, 5, 3, 10)
    assert latest_run(schedule, utc(2026, 5, 3, 10), utc(2026, 5, 3, 12)) is None
    assert next_run(schedule, utc(2026, 5, 3, 10)) == utc(2026, 5, 4, 10)


def test_cron_increments_ranges_and_weekday_names() -> None:
    schedule = parse("cron(0/5 8-17 ? * MON-FRI *)")
    saturday = utc(2026, 5, 2, 12)  # 2 May 2026 is a Saturday
    assert next_run(schedule, saturday) == utc(2026, 5, 4, 8, 0)  # Monday 08:00
    assert next_run(schedule, utc(2026, 5, 4, 17, 55)) == utc(2026, 5, 5, 8, 0)
    assert next_run(schedule, utc(2026, 5, 4, 9, 1)) == utc(2026, 5, 4, 9, 5)


def test_cron_takes_a_star_beside_a_specific_day_as_the_user_guide_writes_it() -> None:
    assert next_run(parse("cron(30 6 * * 2 *)"), utc(2026, 5, 1)) == utc(2026, 5, 4, 6, 30)
    assert next_run(parse("cron(0 10 * * * *)"), utc(2026, 5, 1)) == utc(2026, 5, 1, 10)


def test_cron_day_of_week_numbers_are_sunday_first() -> None:
    schedule = parse("cron(30 6 ? * 2 *)")  # 2 is Monday (1 = SUN)
    assert next_run(schedule, utc(2026, 5, 1)) == utc(2026, 5, 4, 6, 30)  # Monday 4 May


def test_cron_last_day_and_weekday_rules() -> None:
    assert next_run(parse("cron(0 0 L * ? *)"), utc(2026, 2, 1)) == utc(2026, 2, 28)
    assert next_run(parse("cron(0 0 L * ? *)"), utc(2028, 2, 1)) == utc(2028, 2, 29)
    # 15W: 15 Aug 2026 is a Saturday -> Friday 14th
    assert next_run(parse("cron(0 0 15W * ? *)"), utc(2026, 8, 1)) == utc(2026, 8, 14)
    # 1W: 1 Aug 2026 is a Saturday -> Monday 3rd (never leaves the month)
    assert next_run(parse("cron(0 0 1W * ? *)"), utc(2026, 7, 31, 1)) == utc(2026, 8, 3)
    # LW: the last weekday of May 2026 (31st is a Sunday) is Friday 29th
    assert next_run(parse("cron(0 0 LW * ? *)"), utc(2026, 5, 1)) == utc(2026, 5, 29)
    # 6L: the last Friday of May 2026 is the 29th
    assert next_run(parse("cron(0 0 ? * 6L *)"), utc(2026, 5, 1)) == utc(2026, 5, 29)
    # 3#2: the second Tuesday of June 2026 is the 9th
    assert next_run(parse("cron(0 0 ? * 3#2 *)"), utc(2026, 6, 1)) == utc(2026, 6, 9)


def test_cron_years_and_months() -> None:
    schedule = parse("cron(0 12 1 JAN,JUL ? 2027-2028)")
    assert next_run(schedule, utc(2026, 5, 1)) == utc(2027, 1, 1, 12)
    assert next_run(schedule, utc(2027, 1, 1, 12)) == utc(2027, 7, 1, 12)
    assert next_run(schedule, utc(2028, 7, 1, 12)) is None


def test_cron_in_a_time_zone() -> None:
    schedule = parse("cron(0 9 * * ? *)")
    tokyo = schedules.zone("Asia/Tokyo")
    assert next_run(schedule, utc(2026, 4, 30, 12), tz=tokyo) == utc(2026, 5, 1, 0)  # 09:00 JST = 00:00 UTC


def test_cron_across_daylight_saving_keeps_wall_clock_time() -> None:
    schedule = parse("cron(0 9 * * ? *)")
    new_york = schedules.zone("America/New_York")
    # 2026-03-08: clocks go forward; 09:00 EST on the 7th is 14:00 UTC, 09:00 EDT on the 9th is 13:00 UTC
    assert next_run(schedule, utc(2026, 3, 7), tz=new_york) == utc(2026, 3, 7, 14)
    assert next_run(schedule, utc(2026, 3, 8, 14), tz=new_york) == utc(2026, 3, 9, 13)


def test_cron_in_the_spring_gap_runs_once_just_after_the_jump() -> None:
    schedule = parse("cron(30 2 * * ? *)")
    new_york = schedules.zone("America/New_York")
    run = next_run(schedule, utc(2026, 3, 8, 0), tz=new_york)  # 02:30 does not exist on 8 March
    assert run == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert next_run(schedule, run, tz=new_york) == utc(2026, 3, 9, 6, 30)


def test_cron_in_the_autumn_overlap_runs_once() -> None:
    schedule = parse("cron(30 1 * * ? *)")
    new_york = schedules.zone("America/New_York")
    first = next_run(schedule, utc(2026, 11, 1, 0), tz=new_york)  # 01:30 happens twice on 1 November
    assert first == utc(2026, 11, 1, 5, 30)  # the first (EDT)
    assert next_run(schedule, first, tz=new_york) == utc(2026, 11, 2, 6, 30)
    assert latest_run(schedule, first, utc(2026, 11, 1, 7), tz=new_york) is None


def test_cron_with_a_seconds_field() -> None:
    schedule = parse("cron(30 0 10 * * ? *)")
    assert next_run(schedule, utc(2026, 5, 1)) == utc(2026, 5, 1, 10, 0, 30)
    assert latest_run(schedule, utc(2026, 5, 1), utc(2026, 5, 1, 10, 0, 29)) is None


def test_latest_run_scans_a_bounded_window() -> None:
    schedule = parse("cron(0 0 30 2 ? *)")  # 30 February: never
    assert latest_run(schedule, 0, utc(2030, 1, 1)) is None
    assert next_run(schedule, 0) is None
