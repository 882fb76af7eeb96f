"""Scheduled actions' schedules, as Application Auto Scaling writes them: ``at()``, ``rate()``,
``cron()``, each read in a time zone.

Vocabulary
----------
``at(yyyy-mm-ddThh:mm:ss)``
    One run at that wall-clock time in the action's time zone (UTC unless ``Timezone`` says).
``rate(<n> <unit>)``
    Every n minutes / hours / days (``minute``/``minutes``, ``hour``/``hours``,
    ``day``/``days``; n = 1 takes the singular, more the plural, as AWS requires). The first run
    is one period after the schedule's epoch (the action's StartTime, else its creation).
``cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)``
    AWS's six fields (a seventh, seconds, may lead: the User Guide allows it) (EventBridge's syntax): ``*``, ``,`` lists, ``-`` ranges, ``/`` increments,
    ``?`` (any; not in both day fields), ``L`` (last day of
    the month; ``<d>L`` in day-of-week: the last such weekday), ``W`` (nearest weekday to a day of
    the month; ``LW``: last weekday), ``#`` (``<d>#<n>``: the n-th such weekday). Day-of-week is
    1-7 for SUN-SAT, or SUN..SAT; months 1-12 or JAN..DEC; years 1970-2199. EventBridge wants
    ``?`` in one day field; Application Auto Scaling's own guide writes ``30 6 * * 2 *``, so a
    ``*`` beside a specific day is taken too (both day fields must then match).

Time zones (IANA names, read with :mod:`zoneinfo`): a cron's fields and an ``at()``'s time are
wall-clock times in the zone. Across daylight saving changes a wall-clock time that does not exist
(the spring gap) runs at the same instant as the time one hour earlier would in standard
offset, i.e. just after the jump (``zoneinfo``'s ``fold=0`` reading); one that exists twice (the
autumn overlap) runs once, at its first occurrence.

Invariants:
- Parsing is strict: what AWS refuses raises :class:`ScheduleError` (a message for the caller).
- ``latest_run(schedule, after, until)`` is pure: the latest run time in ``(after, until]``
  (epoch seconds), or None. The scheduler calls it with the previous check as ``after``, so a
  run is never done twice and a missed run (the process was down) is done once, late.
- Every search is bounded (at most :data:`MAX_SCAN_DAYS` days of calendar are examined).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_SCAN_DAYS: Final = 400
MIN_YEAR, MAX_YEAR = 1970, 2199
_MONTHS: Final = {name: index for index, name in enumerate(calendar.month_abbr) if name}
_MONTH_NAMES: Final = {name.upper(): index for name, index in _MONTHS.items()}
_DAY_NAMES: Final = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_UNITS: Final = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class ScheduleError(ValueError):
    """A schedule or time zone AWS would refuse; the message says why."""


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (UTC when None); :class:`ScheduleError` for an unknown name."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"Time zone {name} is not supported.") from error


@dataclass(frozen=True, slots=True)
class At:
    """``at(...)``: one wall-clock time."""

    when: datetime  # naive, in the schedule's zone


@dataclass(frozen=True, slots=True)
class Rate:
    """``rate(n unit)``: every ``seconds``."""

    seconds: int


@dataclass(frozen=True, slots=True)
class DayRule:
    """One day-of-month or day-of-week field."""

    any: bool = False  # ``?`` or ``*``
    values: frozenset[int] = frozenset()
    last: bool = False  # ``L`` (day of month) / ``<d>L`` (day of week, with values={d})
    weekday_nearest: int | None = None  # ``<n>W`` (day of month)
    last_weekday: bool = False  # ``LW``
    nth: tuple[int, int] | None = None  # ``<d>#<n>``: (weekday 1-7, n)
    question: bool = False


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: DayRule
    months: frozenset[int]
    days_of_week: DayRule
    years: frozenset[int] | None  # None: every year
    seconds: frozenset[int] = frozenset({0})  # the optional seventh (first) field


Schedule = At | Rate | Cron


def parse(expression: str) -> Schedule:
    """The schedule ``expression`` describes; :class:`ScheduleError` if AWS would refuse it."""
    text = expression.strip()
    matched = re.fullmatch(r"(at|rate|cron)\((.*)\)", text)
    if matched is None:
        raise ScheduleError(f"Unsupported schedule format: {expression}")
    kind, body = matched.group(1), matched.group(2).strip()
    if kind == "at":
        return _parse_at(body, expression)
    if kind == "rate":
        return _parse_rate(body, expression)
    return _parse_cron(body, expression)


def _parse_at(body: str, expression: str) -> At:
    try:
        when = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError as error:
        raise ScheduleError(f"Invalid at expression: {expression}. Expected at(yyyy-mm-ddThh:mm:ss)") from error
    return At(when)


def _parse_rate(body: str, expression: str) -> Rate:
    matched = re.fullmatch(r"(\d{1,9})\s+([a-z]+)", body)
    if matched is None or matched.group(2) not in _UNITS:
        raise ScheduleError(f"Invalid rate expression: {expression}")
    value, unit = int(matched.group(1)), matched.group(2)
    if value < 1:
        raise ScheduleError(f"Invalid rate expression: {expression}. The value must be a positive number")
    if (value == 1) != (not unit.endswith("s")):
        raise ScheduleError(
            f"Invalid rate expression: {expression}. Use '{unit.rstrip('s')}' for 1 and '{unit.rstrip('s')}s' otherwise"
        )
    return Rate(value * _UNITS[unit])


def _parse_cron(body: str, expression: str) -> Cron:
    fields = body.split()
    if len(fields) not in (6, 7):
        raise ScheduleError(f"Invalid cron expression: {expression}. A cron expression has 6 fields")
    try:
        seconds = _values(fields.pop(0), 0, 59, {}) if len(fields) == 7 else frozenset({0})
        minutes = _values(fields[0], 0, 59, {})
        hours = _values(fields[1], 0, 23, {})
        day_of_month = _day_of_month(fields[2])
        months = _values(fields[3], 1, 12, _MONTH_NAMES)
        day_of_week = _day_of_week(fields[4])
        years = None if fields[5] == "*" else _values(fields[5], MIN_YEAR, MAX_YEAR, {})
    except ScheduleError as error:
        raise ScheduleError(f"Invalid cron expression: {expression}. {error}") from None
    if day_of_month.question and day_of_week.question:
        raise ScheduleError(f"Invalid cron expression: {expression}. Day-of-month and day-of-week cannot both be '?'")
    return Cron(minutes, hours, day_of_month, months, day_of_week, years, seconds)


def _number(text: str, low: int, high: int, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleError(f"'{text}' is not a valid value")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"{value} is outside {low}-{high}")
    return value


def _values(field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    """A field of ``*``, numbers, names, ranges, lists and increments."""
    chosen: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            step = _number(step_text, 1, high - low + 1 if high > low else 1, {})
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high, names), _number(last, low, high, names)
            if start > end:
                raise ScheduleError(f"range {base} is backwards")
        else:
            start = _number(base, low, high, names)
            end = high if slash else start
        chosen.update(range(start, end + 1, step))
    return frozenset(chosen)


def _day_of_month(field: str) -> DayRule:
    if field == "?":
        return DayRule(any=True, question=True)
    if field == "*":
        return DayRule(any=True)
    if field == "L":
        return DayRule(last=True)
    if field == "LW":
        return DayRule(last_weekday=True)
    matched = re.fullmatch(r"(\d{1,2})W", field)
    if matched:
        return DayRule(weekday_nearest=_number(matched.group(1), 1, 31, {}))
    return DayRule(values=_values(field, 1, 31, {}))


def _day_of_week(field: str) -> DayRule:
    if field == "?":
        return DayRule(any=True, question=True)
    if field == "*":
        return DayRule(any=True)
    matched = re.fullmatch(r"([0-9A-Za-z]{1,3})L", field)
    if matched:
        return DayRule(values=frozenset({_number(matched.group(1), 1, 7, _DAY_NAMES)}), last=True)
    matched = re.fullmatch(r"([0-9A-Za-z]{1,3})#([1-5])", field)
    if matched:
        return DayRule(nth=(_number(matched.group(1), 1, 7, _DAY_NAMES), int(matched.group(2))))
    return DayRule(values=_values(field, 1, 7, _DAY_NAMES))


# -- matching days ---------------------------------------------------------------------------


def _aws_weekday(day: date) -> int:
    """1 for Sunday … 7 for Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(year: int, month: int, wanted: int) -> int:
    """The weekday (Mon-Fri) nearest to day ``wanted`` of the month, never leaving the month."""
    length = calendar.monthrange(year, month)[1]
    target = min(wanted, length)
    weekday = date(year, month, target).weekday()  # Monday 0 … Sunday 6
    if weekday == 5:  # Saturday: Friday before, or Monday after when the 1st
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before when the month's last day
        return target + 1 if target < length else target - 2
    return target


def _day_of_month_matches(rule: DayRule, day: date) -> bool:
    if rule.any:
        return True
    if rule.last:
        return day.day == _month_length(day)
    if rule.last_weekday:
        return day.day == _nearest_weekday(day.year, day.month, _month_length(day))
    if rule.weekday_nearest is not None:
        return day.day == _nearest_weekday(day.year, day.month, rule.weekday_nearest)
    return day.day in rule.values


def _day_of_week_matches(rule: DayRule, day: date) -> bool:
    if rule.any:
        return True
    weekday = _aws_weekday(day)
    if rule.nth is not None:
        wanted, n = rule.nth
        return weekday == wanted and (day.day - 1) // 7 + 1 == n
    if rule.last:
        return weekday in rule.values and day.day + 7 > _month_length(day)
    return weekday in rule.values


def cron_day_matches(cron: Cron, day: date) -> bool:
    if day.month not in cron.months or (cron.years is not None and day.year not in cron.years):
        return False
    return _day_of_month_matches(cron.days_of_month, day) and _day_of_week_matches(cron.days_of_week, day)


# -- run times -------------------------------------------------------------------------------


def _instant(wall: datetime, tz: ZoneInfo) -> float:
    """Epoch seconds of a naive wall-clock time in ``tz`` (fold=0: see the module docstring)."""
    return wall.replace(tzinfo=tz, fold=0).timestamp()


def _wall(instant: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(instant, UTC).astimezone(tz).replace(tzinfo=None)


def latest_run(
    schedule: Schedule, after: float, until: float, *, tz: ZoneInfo | None = None, epoch: float = 0.0
) -> float | None:
    """The latest time the schedule runs in ``(after, until]``, or None.

    ``epoch`` anchors a ``rate()`` (its runs are ``epoch + k * period``, k ≥ 1)."""
    if until <= after:
        return None
    zone_info = tz or ZoneInfo("UTC")
    if isinstance(schedule, At):
        instant = _instant(schedule.when, zone_info)
        return instant if after < instant <= until else None
    if isinstance(schedule, Rate):
        periods = int((until - epoch) // schedule.seconds)
        if periods < 1:
            return None
        instant = epoch + periods * schedule.seconds
        return instant if instant > after else None
    return _latest_cron(schedule, after, until, zone_info)


def _latest_cron(cron: Cron, after: float, until: float, tz: ZoneInfo) -> float | None:
    last_day = _wall(until, tz).date()
    first_day = max(_wall(after, tz).date(), last_day - timedelta(days=MAX_SCAN_DAYS))
    day = last_day
    while day >= first_day:
        if cron_day_matches(cron, day):
            for instant in sorted(_instants(cron, day, tz), reverse=True):
                if after < instant <= until:
                    return instant
                if instant <= after:
                    return None
        day -= timedelta(days=1)
    return None


def _instants(cron: Cron, day: date, tz: ZoneInfo) -> list[float]:
    """The day's run times (a matching day: at most 24 x 60 x 60 of them)."""
    return [
        _instant(datetime(day.year, day.month, day.day, hour, minute, second), tz)
        for hour in cron.hours
        for minute in cron.minutes
        for second in cron.seconds
    ]


def next_run(schedule: Schedule, after: float, *, tz: ZoneInfo | None = None, epoch: float = 0.0) -> float | None:
    """The first run strictly after ``after`` (within :data:`MAX_SCAN_DAYS` for a cron), or None."""
    zone_info = tz or ZoneInfo("UTC")
    if isinstance(schedule, At):
        instant = _instant(schedule.when, zone_info)
        return instant if instant > after else None
    if isinstance(schedule, Rate):
        periods = max(int((after - epoch) // schedule.seconds) + 1, 1)
        return epoch + periods * schedule.seconds
    day = _wall(after, zone_info).date()
    for _ in range(MAX_SCAN_DAYS):
        if cron_day_matches(schedule, day):
            later = [instant for instant in _instants(schedule, day, zone_info) if instant > after]
            if later:
                return min(later)
        day += timedelta(days=1)
    return None
