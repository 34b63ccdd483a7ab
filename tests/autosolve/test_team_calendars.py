"""Team calendars admins correct in mappings/teams.toml: extra closed and working dates (issue 14)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autosolve.report import build_report, render_html
from mappings import Mappings, load_mappings
from mappings.loader import DEFAULT_DIR, MappingError
from triggers.business_days import (
    add_business_days,
    business_day_end,
    business_days_between,
    is_business_day,
)

CLOSED = """
closed = [
  { date = 2026-12-24, name = "Company closure" },
  { date = "2026-12-31", name = "Company closure" },
]
working = [{ date = 2026-11-27, name = "Black Friday desk" }]
"""


def _teams_with(tmp_path: Path, extra: str) -> Path:
    target = tmp_path / "mappings"
    target.mkdir()
    for name in ("statuses.toml", "resolution_types.toml", "teams.toml", "products.toml"):
        shutil.copy(DEFAULT_DIR / name, target / name)
    teams = target / "teams.toml"
    text = teams.read_text()
    anchor = 'holidays = { country = "US" }\n'
    teams.write_text(text.replace(anchor, anchor + extra, 1))  # the first team: All Media
    return target


def test_corrections_load_and_move_the_business_days(tmp_path: Path) -> None:
    team = load_mappings(_teams_with(tmp_path, CLOSED)).team("all_media")
    assert team.closed == (
        (date(2026, 12, 24), "Company closure"),
        (date(2026, 12, 31), "Company closure"),
    )
    assert team.working == ((date(2026, 11, 27), "Black Friday desk"),)
    assert not is_business_day(team, date(2026, 12, 24))
    assert is_business_day(team, date(2026, 11, 27))
    # Agent asked Tuesday Dec 22 at 10:00: Dec 23, (24 closed, 25 Christmas), 28, 29, 30.
    asked = datetime(2026, 12, 22, 15, tzinfo=UTC)
    assert add_business_days(team, asked, 5) == date(2027, 1, 4)  # Dec 31 closed, Jan 1 too
    plain = load_mappings().team("all_media")
    assert add_business_days(plain, asked, 5) == date(2026, 12, 30)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (
            'closed = [{ date = 2026-12-24, name = "A" }]\nworking = [{ date = 2026-12-24, name = "B" }]\n',
            "2026-12-24 is listed twice (also in closed)",
        ),
        ('closed = [{ date = "24/12/2026", name = "A" }]\n', 'closed "A" › date (line 16)'),
        ('closed = [{ date = 2026-12-24, name = "" }]\n', "closed[0] › name (line 16)"),
        ("closed = [{ date = 2026-12-24 }]\n", "Missing data for required field"),
    ],
)
def test_a_bad_correction_is_refused_with_one_precise_message(
    tmp_path: Path, extra: str, words: str
) -> None:
    with pytest.raises(MappingError) as excinfo:
        load_mappings(_teams_with(tmp_path, extra))
    problems = [str(p) for p in excinfo.value.problems]
    assert any("teams.toml" in p and words in p for p in problems), problems


def test_the_report_and_forecast_show_the_corrections(tmp_path: Path) -> None:
    mappings = load_mappings(_teams_with(tmp_path, CLOSED))
    report = build_report(
        "dry-x",
        datetime(2026, 12, 20, tzinfo=UTC),
        True,
        [],
        api_calls=0,
        examined=0,
        changed=0,
        teams=mappings.teams,
    )
    assert report["calendar_corrections"] == [
        {"team": "all_media", "date": "2026-11-27", "name": "Black Friday desk", "kind": "working"},
        {"team": "all_media", "date": "2026-12-24", "name": "Company closure", "kind": "closed"},
        {"team": "all_media", "date": "2026-12-31", "name": "Company closure", "kind": "closed"},
    ]
    page = render_html(report)
    assert "all_media: 2026-12-24 closed (Company closure)" in page


DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    closed=st.lists(DAYS, max_size=6),
    working=st.lists(DAYS, max_size=6),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 10, 1)),
    span=st.integers(min_value=0, max_value=60),
)
def test_counting_with_corrections_matches_a_day_by_day_walk(
    mappings: Mappings, closed: list[date], working: list[date], start: datetime, span: int
) -> None:
    """business_days_between's arithmetic equals walking the days with is_business_day."""
    working = [d for d in working if d not in closed]
    team = replace(
        mappings.team("canadian_spot"),
        closed=tuple((d, "closed") for d in sorted(set(closed))),
        working=tuple((d, "working") for d in sorted(set(working))),
    )
    begin = start.replace(tzinfo=UTC)
    end = begin + timedelta(days=span, hours=7)
    walked = 0
    day = begin.astimezone(business_day_end(team, begin.date()).tzinfo).date() - timedelta(days=1)
    while day <= end.date() + timedelta(days=1):
        window_start = business_day_end(team, day).replace(
            hour=team.start.hour, minute=team.start.minute
        )
        if (
            is_business_day(team, day)
            and window_start >= begin
            and business_day_end(team, day) <= end
        ):
            walked += 1
        day += timedelta(days=1)
    assert business_days_between(team, begin, end) == walked
