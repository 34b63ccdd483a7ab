"""Auto-solve decisions: who spoke last, business days, exemptions, one reminder per episode."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from mappings import Mappings, Team
from tests.autosolve.helpers import agent_comment, apply, end_user_comment, ny, snapshot, to
from triggers import autosolve_texts as texts
from triggers.autosolve import (
    RESOLUTION_AUTO_SOLVED,
    TAG_REMINDED,
    TAG_SOLVED,
    AutoSolveConfig,
    EpisodeState,
    LastPublicComment,
    Outcome,
    decide,
    listing_cutoff,
)
from triggers.business_days import add_business_days, business_days_between
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_RESOLUTION_TYPE,
    AddTags,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
)

THANKSGIVING_EVE = ny(2026, 11, 25, 10)  # Wednesday; Thursday Nov 26 is Thanksgiving


def test_requester_spoke_last_is_waiting_on_us_and_never_touched(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """The requester's reply stops the clock for good: no actions even weeks later."""
    result = decide(
        snapshot(), end_user_comment(THANKSGIVING_EVE), all_media, config, ny(2027, 1, 15), None
    )
    assert result.decision is Outcome.WAITING_ON_US
    assert result.actions == ()
    assert result.clock_start is None and result.due is None
    assert result.reason == texts.REASON_WAITING_ON_US.format(
        who=texts.WHO_REQUESTER, when="2026-11-25T15:00:00Z"
    )


def test_cc_spoke_last_is_waiting_on_us(all_media: Team, config: AutoSolveConfig) -> None:
    """A CC's public comment counts like the requester's: the ticket waits on the team."""
    result = decide(
        snapshot(),
        end_user_comment(THANKSGIVING_EVE, 600),
        all_media,
        config,
        ny(2027, 1, 15),
        None,
    )
    assert result.decision is Outcome.WAITING_ON_US
    assert texts.WHO_CC in result.reason
    assert result.actions == ()


def test_five_business_days_across_weekend_and_thanksgiving_solves(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """Agent spoke Wed Nov 25; Thanksgiving and the weekend skipped; reminded at the Dec 2
    sweep; solved at the Dec 4 sweep."""
    reminded = EpisodeState(THANKSGIVING_EVE, reminded_at=ny(2026, 12, 2, 2), due=date(2026, 12, 3))
    result = decide(
        snapshot(), agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 12, 4, 2), reminded
    )
    assert result.decision is Outcome.SOLVE
    assert result.business_days_elapsed == 5
    assert result.clock_start == THANKSGIVING_EVE
    assert result.due == date(2026, 12, 3)
    assert result.team == "all_media"
    assert result.previous_status == "awaiting_reply"
    assert result.actions == (
        SetCustomStatus("solved"),
        SetField(FIELD_RESOLUTION_TYPE, RESOLUTION_AUTO_SOLVED),
        PublicComment(texts.SOLVED_PUBLIC.format(clock_start_date="Wednesday, November 25, 2026")),
        AddTags((TAG_SOLVED,)),
        InternalNote(
            texts.SOLVED_NOTE.format(
                elapsed=5,
                team_name="All Media",
                clock_start="Wednesday, November 25, 2026 at 10:00 (America/New_York)",
            )
        ),
    )
    assert result.as_decision().actions == result.actions


def test_one_night_earlier_is_a_reminder_not_a_solve(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """At the Dec 3 sweep (the Dec 2 run missed) 4 business days have passed: remind. The
    reminder promises a date at least solve_after - remind_after business days ahead: Dec 4,
    not the Dec 3 the clock alone would give."""
    result = decide(
        snapshot(), agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 12, 3, 2), None
    )
    assert result.decision is Outcome.REMIND
    assert result.business_days_elapsed == 4
    assert result.actions == (
        PublicComment(
            texts.REMINDER_PUBLIC.format(
                clock_start_date="Wednesday, November 25, 2026",
                due_date="Friday, December 4, 2026",
            )
        ),
        SetField(FIELD_AUTO_SOLVE_DUE, date(2026, 12, 4)),
        AddTags((TAG_REMINDED,)),
        InternalNote(
            texts.REMINDER_NOTE.format(
                elapsed=4,
                team_name="All Media",
                clock_start="Wednesday, November 25, 2026 at 10:00 (America/New_York)",
                due_date="Friday, December 4, 2026",
                exempt_hint=texts.EXEMPT_HINT.format(tag="no_autosolve"),
            )
        ),
    )


def test_same_dates_on_canadian_spot_with_boxing_day_are_not_yet_solved(
    mappings: Mappings, config: AutoSolveConfig
) -> None:
    """Agent spoke Wed Dec 23 2026: by the Jan 1 sweep All Media (Christmas, weekend) is at 5
    days and solves; Canadian Spot also loses Boxing Day (observed Mon Dec 28) and only reminds."""
    comment = agent_comment(to(2026, 12, 23, 10))
    now = ny(2027, 1, 1, 2)
    reminded = EpisodeState(comment.created_at, reminded_at=ny(2026, 12, 30, 2))
    us = decide(snapshot(), comment, mappings.team("all_media"), config, now, reminded)
    ca = decide(
        snapshot(group="Canadian Spot"), comment, mappings.team("canadian_spot"), config, now, None
    )
    assert (us.decision, us.business_days_elapsed, us.due) == (
        Outcome.SOLVE,
        5,
        date(2026, 12, 31),
    )
    assert (ca.decision, ca.business_days_elapsed, ca.due) == (
        Outcome.REMIND,
        4,
        date(2027, 1, 5),  # two business days after the reminder (Jan 1 is a holiday)
    )
    assert ca.team == "canadian_spot"
    assert not any(isinstance(a, SetCustomStatus) for a in ca.actions)


def test_before_remind_after_is_skip_and_shows_the_due_date(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """Not yet due: the only write is the "Auto-solve due" field, so agents see the date."""
    result = decide(
        snapshot(), agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 11, 30, 2), None
    )
    assert result.decision is Outcome.SKIP
    assert result.business_days_elapsed == 1
    assert result.due == date(2026, 12, 3)
    assert result.announced is False
    assert result.actions == (
        SetField(FIELD_AUTO_SOLVE_DUE, date(2026, 12, 3)),
        InternalNote(
            texts.PLAN_NOTE.format(
                due_date="Thursday, December 3, 2026",
                remind_date="Tuesday, December 1, 2026",
                clock_start="Wednesday, November 25, 2026 at 10:00 (America/New_York)",
                remind_after=3,
                solve_after=5,
                team_name=all_media.name,
                exempt_hint=texts.EXEMPT_HINT.format(tag="no_autosolve"),
            )
        ),
    )
    assert result.reason == texts.REASON_NOT_YET.format(
        elapsed=1,
        remind_after=3,
        remind_date="2026-12-01",
        due_date="2026-12-03",
        solve_after=5,
    )


@pytest.mark.parametrize("stored", [date(2026, 12, 3), "2026-12-03"])
def test_skip_writes_nothing_when_due_field_already_shows_the_date(
    all_media: Team, config: AutoSolveConfig, stored: object
) -> None:
    """One write per episode: once the field holds the due date (date or Zendesk string), none."""
    ticket = snapshot(fields={FIELD_AUTO_SOLVE_DUE: stored})
    result = decide(
        ticket, agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 11, 30, 2), None
    )
    assert result.decision is Outcome.SKIP
    assert result.actions == ()


def test_reminder_and_solve_are_announced_once_the_due_date_is_shown(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """The due-date write carries the plan note, so later reminders and solves on a ticket that
    shows that date were announced to agents; on a ticket that never showed it, they were not
    (the sweep then posts its own note)."""
    comment = agent_comment(THANKSGIVING_EVE)
    skip = decide(snapshot(), comment, all_media, config, ny(2026, 11, 30, 2), None)
    shown = apply(snapshot(), skip.actions, "s1")
    reminded = EpisodeState(THANKSGIVING_EVE, reminded_at=ny(2026, 12, 2, 2))
    for now, outcome, state in (
        (ny(2026, 12, 2, 2), Outcome.REMIND, None),
        (ny(2026, 12, 4, 2), Outcome.SOLVE, reminded),
    ):
        announced = decide(shown, comment, all_media, config, now, state)
        unannounced = decide(snapshot(), comment, all_media, config, now, state)
        assert announced.decision is unannounced.decision is outcome
        assert (announced.announced, unannounced.announced) == (True, False)
        # The solve also clears the date it showed (no clock runs on a solved ticket).
        assert [a for a in announced.actions if a != SetField(FIELD_AUTO_SOLVE_DUE, None)] == list(
            unannounced.actions
        )
    stale = apply(snapshot(), (SetField(FIELD_AUTO_SOLVE_DUE, date(2026, 11, 20)),), "s2")
    assert not decide(stale, comment, all_media, config, ny(2026, 12, 4, 2), reminded).announced


def test_second_run_after_reminder_sends_no_second_reminder(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """Run twice (same night and next night): the reminder written to the ticket is seen."""
    comment = agent_comment(THANKSGIVING_EVE)
    first = decide(snapshot(), comment, all_media, config, ny(2026, 12, 2, 2), None)
    assert first.decision is Outcome.REMIND
    written = apply(snapshot(), first.actions, "2026-12-02T07:00:05Z")
    for now in (ny(2026, 12, 2, 2, 5), ny(2026, 12, 3, 2)):
        again = decide(written, comment, all_media, config, now, None)
        assert again.decision is Outcome.SKIP
        assert again.actions == ()
        assert again.reason.startswith("reminder already sent")


def test_episode_state_alone_prevents_a_second_reminder(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """The store's record of this episode's reminder is enough, even without the ticket tag."""
    state = EpisodeState(clock_start=THANKSGIVING_EVE, reminded_at=ny(2026, 12, 2, 2))
    result = decide(
        snapshot(), agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 12, 3, 2), state
    )
    assert result.decision is Outcome.SKIP
    assert all(not isinstance(a, PublicComment) for a in result.actions)


def test_new_agent_comment_starts_a_new_episode_with_its_own_reminder(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """An agent's later comment restarts the clock: the old reminder tag is dropped with the new
    due date, and the new episode gets its own single reminder."""
    first = decide(
        snapshot(), agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 12, 2, 2), None
    )
    ticket = apply(snapshot(), first.actions, "s2")
    old_state = EpisodeState(clock_start=THANKSGIVING_EVE, reminded_at=ny(2026, 12, 2, 2))
    second_comment = agent_comment(ny(2026, 12, 2, 11))
    skip = decide(ticket, second_comment, all_media, config, ny(2026, 12, 3, 2), old_state)
    assert skip.decision is Outcome.SKIP
    assert skip.due == date(2026, 12, 9)
    assert skip.actions[:2] == (
        SetField(FIELD_AUTO_SOLVE_DUE, date(2026, 12, 9)),
        RemoveTags((TAG_REMINDED,)),
    )
    note = skip.actions[2]
    assert isinstance(note, InternalNote)
    assert note.body.startswith("Auto-solve due set to Wednesday, December 9, 2026: ")
    ticket = apply(ticket, skip.actions, "s3")
    remind = decide(ticket, second_comment, all_media, config, ny(2026, 12, 8, 2), old_state)
    assert remind.decision is Outcome.REMIND


def test_reminder_first_when_first_seen_after_solve_after(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """A ticket first evaluated after solve_after days is reminded first (issue 14: never
    solved without a reminder), with a date two business days ahead."""
    result = decide(
        snapshot(), agent_comment(THANKSGIVING_EVE), all_media, config, ny(2027, 2, 1, 2), None
    )
    assert result.decision is Outcome.REMIND
    assert result.due == date(2027, 2, 2)
    assert result.reason.startswith("43 business days without a reply, but no reminder")


@pytest.mark.parametrize(
    ("change", "settings", "words"),
    [
        ({"tags": frozenset({"vip", "no_autosolve"})}, {}, "tag no_autosolve"),
        ({"priority": "urgent"}, {}, "priority urgent"),
        ({"organization_id": 42}, {"exempt_organizations": [42]}, "organization 42"),
        ({"group": "Finance"}, {"exempt_groups": ["Finance"]}, "group Finance"),
        ({"form_id": 7}, {"exempt_forms": ["7"]}, "ticket form 7"),
    ],
)
def test_exempt_tickets_are_never_touched(
    all_media: Team,
    sweep_settings: dict[str, object],
    change: dict[str, object],
    settings: dict[str, object],
    words: str,
) -> None:
    """Each configured exemption wins even over a ticket long past its solve date."""
    config = AutoSolveConfig.from_settings({**sweep_settings, **settings})
    result = decide(
        snapshot(**change),
        agent_comment(THANKSGIVING_EVE),
        all_media,
        config,
        ny(2027, 2, 1, 2),
        None,
    )
    assert result.decision is Outcome.EXEMPT
    assert result.actions == ()
    assert result.reason == texts.REASON_EXEMPT.format(
        what=words.rsplit(" ", 1)[0], value=words.rsplit(" ", 1)[1]
    )
    assert result.due is None


def test_ticket_not_awaiting_reply_is_left_alone(all_media: Team, config: AutoSolveConfig) -> None:
    """Open, solved or unmapped statuses are not the sweep's business."""
    for ticket in (
        snapshot(status="open", custom_status="open_cx"),
        snapshot(status="solved", custom_status="solved"),
        snapshot(custom_status=None),
    ):
        result = decide(
            ticket, agent_comment(THANKSGIVING_EVE), all_media, config, ny(2027, 2, 1), None
        )
        assert (result.decision, result.actions) == (Outcome.SKIP, ())
        assert result.reason.startswith("not awaiting")


def test_no_known_agent_comment_means_no_clock(all_media: Team, config: AutoSolveConfig) -> None:
    """Without a public agent comment there is no clock start: nothing is written."""
    result = decide(snapshot(), None, all_media, config, ny(2027, 2, 1), None)
    assert (result.decision, result.actions, result.reason) == (
        Outcome.SKIP,
        (),
        texts.REASON_NO_AGENT_COMMENT,
    )


def test_cxlayers_own_comment_as_clock_start_is_refused(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """Passing the service's own reminder would restart the clock forever: a clear error."""
    own = LastPublicComment(
        created_at=THANKSGIVING_EVE, author_id=1, author_is_agent=True, by_service=True
    )
    with pytest.raises(ValueError, match="cxlayer's own comment"):
        decide(snapshot(), own, all_media, config, ny(2026, 12, 4), None)


def test_decide_is_deterministic(all_media: Team, config: AutoSolveConfig) -> None:
    """Same inputs, equal decisions (two dry runs at one as-of agree)."""
    args = (
        snapshot(),
        agent_comment(THANKSGIVING_EVE),
        all_media,
        config,
        ny(2026, 12, 3, 2),
        None,
    )
    assert decide(*args) == decide(*args)


def test_config_from_settings_and_mappings(
    sweep_settings: dict[str, object], mappings: Mappings
) -> None:
    """Shipped settings: 3 and 5 days, no_autosolve and urgent exempt; awaiting from mappings."""
    config = AutoSolveConfig.from_settings(sweep_settings, mappings)
    assert (config.remind_after, config.solve_after) == (3, 5)
    assert config.exempt_tags == frozenset({"no_autosolve"})
    assert config.exempt_priorities == frozenset({"urgent"})
    assert config.awaiting_statuses == frozenset({"awaiting_reply"})
    assert AutoSolveConfig.from_settings({}) == AutoSolveConfig(remind_after=3, solve_after=5)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"remind_after": 5, "solve_after": 5}, "must be greater than"),
        ({"remind_after": 0}, "at least 1"),
        ({"remind_after": "3"}, "must be an integer"),
        ({"exempt_organizations": ["acme"]}, "numeric ids"),
        ({"exempt_tags": "no_autosolve"}, "must be a list"),
    ],
)
def test_bad_sweep_settings_are_clear_errors(settings: dict[str, object], message: str) -> None:
    """A misconfigured [sweep] section fails loudly with the key named."""
    with pytest.raises(ValueError, match=message):
        AutoSolveConfig.from_settings(settings)


def test_snapshot_stamp_is_kept_for_the_safe_update(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """The decision carries the stamp of the snapshot it was made on."""
    ticket = replace(snapshot(), updated_stamp="2026-12-01T10:00:00Z")
    result = decide(
        ticket, agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 12, 4, 2), None
    )
    assert result.snapshot_stamp == "2026-12-01T10:00:00Z"


def test_other_end_user_spoke_last_is_waiting_on_us(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """An end user who is neither requester nor CC still leaves the ticket waiting on us."""
    result = decide(
        snapshot(),
        end_user_comment(THANKSGIVING_EVE, 777),
        all_media,
        config,
        ny(2027, 1, 15),
        None,
    )
    assert result.decision is Outcome.WAITING_ON_US
    assert texts.WHO_OTHER_END_USER in result.reason


@pytest.mark.parametrize(
    ("stored", "writes"),
    [
        (ny(2026, 12, 3, 0), False),  # a datetime holding the right date
        ("2026-12-03T00:00:00Z", False),
        ("not a date", True),  # unreadable value: rewritten with the real date
        ("", True),
    ],
)
def test_due_field_values_are_read_leniently(
    all_media: Team, config: AutoSolveConfig, stored: object, writes: bool
) -> None:
    """Whatever form the due field arrives in, a correct date is kept and a wrong one fixed."""
    ticket = snapshot(fields={FIELD_AUTO_SOLVE_DUE: stored})
    result = decide(
        ticket, agent_comment(THANKSGIVING_EVE), all_media, config, ny(2026, 11, 30, 2), None
    )
    assert (result.actions != ()) is writes


def test_config_needs_an_awaiting_status() -> None:
    """Mappings with no "Awaiting your reply" status cannot drive a sweep."""
    with pytest.raises(ValueError, match="Awaiting your reply"):
        AutoSolveConfig(awaiting_statuses=frozenset())
    with pytest.raises(ValueError, match="solve_after must be an integer"):
        AutoSolveConfig(solve_after=5.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be a list"):
        AutoSolveConfig.from_settings({"exempt_forms": "12"})


@pytest.mark.parametrize(
    "as_of",
    [ny(2026, 1, 3, 2), ny(2026, 11, 26, 2), ny(2026, 12, 28, 2), to(2026, 7, 2, 23)],
)
def test_listing_cutoff_bounds_every_ticket_due_a_reminder_or_a_solve(
    mappings: Mappings, config: AutoSolveConfig, as_of: datetime
) -> None:
    """The nightly listing (due date ≤ cutoff) misses no ticket that `decide` would remind or
    solve: checked hour by hour over four weeks of clock starts, on every team's calendar,
    across weekends and US/Canadian holidays."""
    cutoff = listing_cutoff(mappings, config, as_of)
    checked = 0
    for team in mappings.teams:
        start = as_of - timedelta(days=28)
        while start < as_of:
            if business_days_between(team, start, as_of) >= config.remind_after:
                assert add_business_days(team, start, config.solve_after) <= cutoff, (team, start)
                checked += 1
            start += timedelta(hours=1)
    assert checked > 1000


def test_a_later_date_after_a_reminder_is_shown_and_told_to_the_requester(
    mappings: Mappings, config: AutoSolveConfig
) -> None:
    """Reminded with Thursday Dec 3 shown; the ticket moves to a team whose calendar makes it
    later: the new date is shown, agents get a note and the requester a comment; an earlier
    calendar keeps the promised date."""
    from triggers.autosolve import TAG_REMINDED

    shown = snapshot(fields={FIELD_AUTO_SOLVE_DUE: "2026-12-03"}, tags=frozenset({TAG_REMINDED}))
    state = EpisodeState(THANKSGIVING_EVE, reminded_at=ny(2026, 12, 2, 2), due=date(2026, 12, 3))
    later_team = replace(
        mappings.team("all_media"), closed=((date(2026, 12, 3), "Company closure"),)
    )
    moved = decide(
        shown, agent_comment(THANKSGIVING_EVE), later_team, config, ny(2026, 12, 3, 2), state
    )
    assert moved.decision is Outcome.SKIP and moved.due == date(2026, 12, 4)
    assert isinstance(moved.actions[0], PublicComment)
    assert "Friday, December 4, 2026" in moved.actions[0].body
    assert SetField(FIELD_AUTO_SOLVE_DUE, date(2026, 12, 4)) in moved.actions
    assert any(isinstance(a, InternalNote) and "moved from" in a.body for a in moved.actions)
    early = decide(
        shown,
        agent_comment(THANKSGIVING_EVE),
        mappings.team("all_media"),
        config,
        ny(2026, 12, 3, 12),
        state,
    )
    assert early.due == date(2026, 12, 3) and early.actions == ()
