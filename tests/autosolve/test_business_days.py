"""Business days on team calendars: weekends, US and Canadian holidays, hours, time zones, DST."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from mappings import Mappings, Team
from tests.autosolve.helpers import NEW_YORK, ny, to
from triggers.business_days import (
    add_business_days,
    business_day_end,
    business_days_between,
    holidays_for,
    is_business_day,
)

TOKYO = Team(
    key="tokyo",
    name="Tokyo",
    zendesk_group="Tokyo",
    timezone="Asia/Tokyo",
    days=("mon", "tue", "wed", "thu", "fri"),
    start=time(9, 0),
    end=time(18, 0),
    holiday_country="JP",
)


def test_weekend_days_do_not_count(all_media: Team) -> None:
    """Friday's comment: Saturday and Sunday pass without counting; Monday counts at 19:00."""
    friday = ny(2026, 11, 13, 10)
    assert business_days_between(all_media, friday, ny(2026, 11, 15, 23)) == 0
    assert business_days_between(all_media, friday, ny(2026, 11, 16, 18, 59)) == 0
    assert business_days_between(all_media, friday, ny(2026, 11, 16, 19)) == 1
    assert add_business_days(all_media, friday, 1) == date(2026, 11, 16)


def test_thanksgiving_is_skipped_on_us_team(all_media: Team) -> None:
    """Wednesday before Thanksgiving: Thursday 26 is a holiday, the 5th day is Thursday Dec 3."""
    wednesday = ny(2026, 11, 25, 10)
    assert not is_business_day(all_media, date(2026, 11, 26))
    assert business_days_between(all_media, wednesday, ny(2026, 11, 27, 19)) == 1
    assert add_business_days(all_media, wednesday, 5) == date(2026, 12, 3)
    assert business_days_between(all_media, wednesday, ny(2026, 12, 3, 18, 59)) == 4
    assert business_days_between(all_media, wednesday, ny(2026, 12, 4, 2)) == 5


def test_independence_day_observed_friday_is_skipped(all_media: Team) -> None:
    """July 4th 2026 is a Saturday; the observed Friday July 3rd is not a business day."""
    thursday = ny(2026, 7, 2, 10)
    assert not is_business_day(all_media, date(2026, 7, 3))
    assert add_business_days(all_media, thursday, 1) == date(2026, 7, 6)
    assert business_days_between(all_media, thursday, ny(2026, 7, 6, 2)) == 0


def test_canada_day_counts_for_us_team_but_not_canadian_spot(
    all_media: Team, canadian_spot: Team
) -> None:
    """Wednesday July 1st 2026: a holiday in Ontario, a working day in New York."""
    tuesday = to(2026, 6, 30, 10)
    assert business_days_between(canadian_spot, tuesday, to(2026, 7, 2, 17)) == 1
    assert business_days_between(all_media, tuesday, ny(2026, 7, 2, 19)) == 2
    assert add_business_days(canadian_spot, tuesday, 1) == date(2026, 7, 2)
    assert add_business_days(all_media, tuesday, 1) == date(2026, 7, 1)


def test_ontario_family_day_and_good_friday_on_canadian_spot(
    all_media: Team, canadian_spot: Team
) -> None:
    """Family Day (Feb 16) and Good Friday (Apr 3, Canada only) are skipped by Canadian Spot."""
    assert add_business_days(canadian_spot, to(2026, 2, 13, 10), 1) == date(2026, 2, 17)
    assert add_business_days(canadian_spot, to(2026, 4, 2, 10), 1) == date(2026, 4, 6)
    assert add_business_days(all_media, ny(2026, 4, 2, 10), 1) == date(2026, 4, 3)


def test_holidays_are_cached_per_country_subdivision_and_year() -> None:
    """The calendar for one (country, subdivision, year) is built once and reused."""
    holidays_for.cache_clear()
    first = holidays_for("CA", "ON", 2026)
    assert date(2026, 2, 16) in first  # Family Day
    assert holidays_for("CA", "ON", 2026) is first
    assert date(2026, 2, 16) not in holidays_for("CA", "QC", 2026)
    assert holidays_for.cache_info().hits >= 1


def test_comment_after_hours_starts_counting_next_business_day(all_media: Team) -> None:
    """After 19:00 the day is over: Wednesday is the first day, and it counts at Wednesday 19:00."""
    after_hours = ny(2026, 11, 17, 19, 30)
    during_hours = ny(2026, 11, 17, 18, 59)
    for start in (after_hours, during_hours):
        assert business_days_between(all_media, start, ny(2026, 11, 18, 18, 59)) == 0
        assert business_days_between(all_media, start, ny(2026, 11, 18, 19)) == 1


def test_comment_before_hours_lets_that_day_count(all_media: Team) -> None:
    """A comment at 08:00 or at 09:00 sharp gives the whole day; at 09:01 it does not."""
    end_of_wednesday = ny(2026, 11, 18, 19)
    assert business_days_between(all_media, ny(2026, 11, 18, 8), end_of_wednesday) == 1
    assert business_days_between(all_media, ny(2026, 11, 18, 9), end_of_wednesday) == 1
    assert business_days_between(all_media, ny(2026, 11, 18, 9, 1), end_of_wednesday) == 0


def test_canadian_spot_hours_end_at_five(canadian_spot: Team) -> None:
    """Canadian Spot works 09:00-17:00: a 17:30 comment is after hours, the day ends at 17:00."""
    assert business_days_between(canadian_spot, to(2026, 11, 17, 17, 30), to(2026, 11, 18, 17)) == 1
    assert business_days_between(canadian_spot, to(2026, 11, 17, 16), to(2026, 11, 18, 16, 59)) == 0


def test_spring_forward_moves_end_of_day_in_utc(all_media: Team) -> None:
    """After DST starts (Mar 8 2026) Monday's 19:00 is 23:00 UTC, not midnight UTC."""
    friday = ny(2026, 3, 6, 10)
    assert business_days_between(all_media, friday, datetime(2026, 3, 9, 22, 59, tzinfo=UTC)) == 0
    assert business_days_between(all_media, friday, datetime(2026, 3, 9, 23, 0, tzinfo=UTC)) == 1


def test_fall_back_moves_end_of_day_in_utc(all_media: Team) -> None:
    """After DST ends (Nov 1 2026) Monday's 19:00 is midnight UTC; 23:30 UTC is still 18:30."""
    friday = ny(2026, 10, 30, 10)
    assert business_days_between(all_media, friday, datetime(2026, 11, 2, 23, 30, tzinfo=UTC)) == 0
    assert business_days_between(all_media, friday, datetime(2026, 11, 3, 0, 0, tzinfo=UTC)) == 1
    assert business_day_end(all_media, date(2026, 11, 2)) == datetime(2026, 11, 3, tzinfo=UTC)


def test_days_are_counted_in_the_team_time_zone() -> None:
    """Monday 20:00 UTC is Tuesday 05:00 in Tokyo, before hours: Tuesday counts for that team."""
    start = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)
    tuesday_close_tokyo = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # 18:00 JST
    assert business_days_between(TOKYO, start, tuesday_close_tokyo) == 1
    assert add_business_days(TOKYO, start, 1) == date(2026, 11, 17)
    # The same instants written in another zone give the same answer.
    assert business_days_between(TOKYO, start.astimezone(NEW_YORK), tuesday_close_tokyo) == 1


def test_year_boundary_and_new_years_day(all_media: Team) -> None:
    """Dec 30 2026: Dec 31 counts, Jan 1 2027 (holiday) and the weekend do not, Jan 4 does."""
    start = ny(2026, 12, 30, 10)
    assert add_business_days(all_media, start, 2) == date(2027, 1, 4)
    assert business_days_between(all_media, start, ny(2027, 1, 4, 19)) == 2


def test_end_before_start_is_zero_and_naive_times_are_refused(all_media: Team) -> None:
    """No negative counts; a naive datetime or n < 1 is a clear error."""
    assert business_days_between(all_media, ny(2026, 11, 20, 10), ny(2026, 11, 10, 10)) == 0
    with pytest.raises(ValueError, match="time-zone-aware"):
        business_days_between(all_media, datetime(2026, 11, 20, 10), ny(2026, 11, 30))
    with pytest.raises(ValueError, match="at least 1"):
        add_business_days(all_media, ny(2026, 11, 20, 10), 0)


def test_unknown_holiday_country_is_a_clear_error() -> None:
    """A country the holidays package does not know is reported, not silently ignored."""
    with pytest.raises(ValueError, match="no holiday calendar"):
        holidays_for("XX", None, 2026)


def _walk(team: Team, start: datetime, end: datetime) -> int:
    """Reference count: a day-by-day walk of the definition."""
    day = start.astimezone(business_day_end(team, date(2026, 1, 1)).tzinfo).date() - timedelta(1)
    count = 0
    while business_day_end(team, day) <= end:
        window_start = datetime.combine(day, team.start, tzinfo=business_day_end(team, day).tzinfo)
        if window_start >= start and is_business_day(team, day):
            count += 1
        day += timedelta(1)
    return count


@pytest.mark.parametrize("team_key", ["all_media", "canadian_spot"])
def test_count_and_due_date_agree_with_the_definition(mappings: Mappings, team_key: str) -> None:
    """Seeded random clock starts over two years: the fast count equals a day-by-day walk, and
    the due date of n days is exactly when the count reaches n."""
    team = mappings.team(team_key)
    rng = random.Random(6)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(150):
        start = origin + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        assert business_days_between(team, start, end) == _walk(team, start, end)
        n = rng.randrange(1, 8)
        closes = business_day_end(team, add_business_days(team, start, n))
        assert business_days_between(team, start, closes) == n
        assert business_days_between(team, start, closes - timedelta(seconds=1)) == n - 1
