"""Business-day arithmetic on a team's calendar (working days, hours, time zone, public holidays).

The rule, used for auto-solve and shown to requesters as a date:

- A *business day* is a calendar date, in the team's time zone, that is one of the team's
  working days and not a public holiday of the team's country (and subdivision) as the
  `holidays` package lists them, observed days included (Independence Day on a Saturday is
  observed on the Friday before); admins correct that calendar per team in
  `mappings/teams.toml` (`closed`: extra closed dates, `working`: extra working dates, each
  with its name), and the corrections win.
- A business day *counts* once its whole working window (the team's hours, e.g. 09:00-19:00
  local) lies after the clock start and has ended. A comment at 10:00 on a Wednesday therefore
  does not make that Wednesday count (the requester did not get a full working day to answer);
  a comment made after hours, or on a weekend or holiday, starts counting with the next business
  day; a comment made before the day's hours start lets that same day count.
- Windows are built from local wall-clock times, so DST changes move them correctly in UTC.

`add_business_days(team, start, n)` is the date of the business day whose end completes n
counted days: `business_days_between(team, start, end) >= n` exactly when
`end >= business_day_end(team, add_business_days(team, start, n))`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from mappings.model import WEEKDAYS, Team

__all__ = [
    "add_business_days",
    "business_day_end",
    "business_day_start",
    "business_days_between",
    "holidays_for",
    "is_business_day",
]

ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=512)
def holidays_for(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays (observed days included) of one country/subdivision and year; cached."""
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:  # the package's way of saying "unknown country"
        raise ValueError(f"no holiday calendar for country {country!r}: {exc}") from exc
    return frozenset(calendar.keys())


@lru_cache(maxsize=64)
def _weekday_numbers(days: tuple[str, ...]) -> frozenset[int]:
    # Team.weekdays builds a new set on each access; a sweep asks hundreds of thousands of times.
    return frozenset(WEEKDAYS.index(d) for d in days)


def _weekdays(team: Team) -> frozenset[int]:
    return _weekday_numbers(team.days)


def _team_holidays(team: Team, year: int) -> frozenset[date]:
    return holidays_for(team.holiday_country, team.holiday_subdivision, year)


@lru_cache(maxsize=256)
def _corrections(
    closed: tuple[tuple[date, str], ...], working: tuple[tuple[date, str], ...]
) -> tuple[frozenset[date], frozenset[date]]:
    return frozenset(d for d, _ in closed), frozenset(d for d, _ in working)


def _base_business_day(team: Team, day: date) -> bool:
    return day.weekday() in _weekdays(team) and day not in _team_holidays(team, day.year)


def is_business_day(team: Team, day: date) -> bool:
    """True when `day` is one of the team's working days and not one of its public holidays,
    with the admins' corrections (`mappings/teams.toml` `closed` / `working`) on top."""
    closed, working = _corrections(team.closed, team.working)
    if day in working:
        return True
    if day in closed:
        return False
    return _base_business_day(team, day)


def _zone(team: Team) -> ZoneInfo:
    return ZoneInfo(team.timezone)


def business_day_start(team: Team, day: date) -> datetime:
    """When the team's working hours begin on `day` (aware, team time zone)."""
    return datetime.combine(day, team.start, tzinfo=_zone(team))


def business_day_end(team: Team, day: date) -> datetime:
    """When the team's working hours end on `day` (aware, team time zone)."""
    return datetime.combine(day, team.end, tzinfo=_zone(team))


def _require_aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a time-zone-aware datetime, got {moment!r}")


def _first_candidate(team: Team, start: datetime) -> date:
    """The first date whose working window begins at or after `start`."""
    local = start.astimezone(_zone(team)).date()
    return local if business_day_start(team, local) >= start else local + ONE_DAY


def _count_weekdays(team: Team, first: date, last: date) -> int:
    """Working weekdays in [first, last], holidays ignored; arithmetic, not a day-by-day walk."""
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    count = weeks * len(_weekdays(team))
    day = first + timedelta(days=weeks * 7)
    for _ in range(rest):
        count += day.weekday() in _weekdays(team)
        day += ONE_DAY
    return count


def business_days_between(team: Team, start: datetime, end: datetime) -> int:
    """Whole business days of `team` that fully passed after `start` and ended by `end`.

    Both moments must be aware; they may be in any time zone. 0 when `end` is not after `start`.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    if end <= start:
        return 0
    first = _first_candidate(team, start)
    last = end.astimezone(_zone(team)).date()
    if business_day_end(team, last) > end:
        last -= ONE_DAY
    if last < first:
        return 0
    count = _count_weekdays(team, first, last)
    for year in range(first.year, last.year + 1):
        count -= sum(
            1
            for holiday in _team_holidays(team, year)
            if first <= holiday <= last and holiday.weekday() in _weekdays(team)
        )
    closed, working = _corrections(team.closed, team.working)
    for day in closed | working:
        if first <= day <= last and _base_business_day(team, day) != is_business_day(team, day):
            count += 1 if day in working else -1
    return count


def add_business_days(team: Team, start: datetime, n: int) -> date:
    """The date of the n-th business day counted from `start` (n >= 1): the due date.

    The n days have passed at `business_day_end(team, <that date>)`.
    """
    _require_aware("start", start)
    if n < 1:
        raise ValueError(f"n must be at least 1 business day, got {n}")
    if not _weekdays(team):
        raise ValueError(f"team {team.key!r} has no working days")
    day = _first_candidate(team, start)
    counted = 0
    while True:
        if is_business_day(team, day):
            counted += 1
            if counted == n:
                return day
        day += ONE_DAY
