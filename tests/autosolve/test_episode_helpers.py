"""Helpers the sweep uses around decide: candidates, who spoke last, what the store records."""

from __future__ import annotations

from datetime import date

from mappings import Team
from tests.autosolve.helpers import agent_comment, end_user_comment, ny, snapshot
from triggers.autosolve import (
    AutoSolveConfig,
    EpisodeState,
    LastPublicComment,
    Outcome,
    conflict,
    decide,
    last_public_comment,
    next_state,
)
from triggers.model import Comment

SERVICE_USER = 1
AGENT = 900
REQUESTER = 500


def test_listed_tickets_exempt_or_not_awaiting_are_never_written(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """The sweep decides every listed ticket: exempt or other-status ones get no actions."""
    due_now = ny(2026, 12, 4, 2)
    comment = agent_comment(ny(2026, 11, 25, 10))
    assert decide(snapshot(), comment, all_media, config, due_now, None).actions
    for ticket, outcome in (
        (snapshot(tags=frozenset({"no_autosolve"})), Outcome.EXEMPT),
        (snapshot(priority="urgent"), Outcome.EXEMPT),
        (snapshot(custom_status="open_cx", status="open"), Outcome.SKIP),
    ):
        result = decide(ticket, comment, all_media, config, due_now, None)
        assert (result.decision, result.actions) == (outcome, ())


def test_last_public_comment_ignores_private_notes_and_cxlayers_own_reminders() -> None:
    """The clock start is the agent's comment, not the later note or cxlayer's reminder."""
    comments = [
        Comment(REQUESTER, True, ny(2026, 11, 24, 9)),
        Comment(AGENT, True, ny(2026, 11, 25, 10), author_is_agent=True),
        Comment(AGENT, False, ny(2026, 11, 26, 10), author_is_agent=True),
        Comment(SERVICE_USER, True, ny(2026, 12, 1, 2), author_is_agent=True),
    ]
    assert last_public_comment(reversed(comments), [SERVICE_USER]) == LastPublicComment(
        created_at=ny(2026, 11, 25, 10), author_id=AGENT, author_is_agent=True
    )


def test_last_public_comment_sees_the_requester_reply_and_handles_none() -> None:
    """A requester reply after the agent is the last public comment; no public one gives None."""
    comments = [
        Comment(AGENT, True, ny(2026, 11, 25, 10), author_is_agent=True),
        Comment(REQUESTER, True, ny(2026, 11, 25, 10)),  # same instant, listed later: wins
    ]
    last = last_public_comment(comments, [SERVICE_USER])
    assert last is not None and (last.author_id, last.author_is_agent) == (REQUESTER, False)
    assert last_public_comment([Comment(AGENT, False, ny(2026, 11, 25, 10))], []) is None


def test_next_state_records_the_reminder_for_its_episode(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """After a reminder the store knows it; the next decide in that episode sends none."""
    clock = agent_comment(ny(2026, 11, 25, 10))
    remind = decide(snapshot(), clock, all_media, config, ny(2026, 12, 2, 2), None)
    assert remind.decision is Outcome.REMIND
    state = next_state(remind, None, ny(2026, 12, 2, 2, 1))
    assert state == EpisodeState(
        clock_start=ny(2026, 11, 25, 10), reminded_at=ny(2026, 12, 2, 2, 1), due=date(2026, 12, 3)
    )
    later = decide(snapshot(), clock, all_media, config, ny(2026, 12, 3, 2), state)
    assert later.decision is Outcome.SKIP
    assert next_state(later, state, ny(2026, 12, 3, 2, 1)) == state


def test_next_state_starts_fresh_for_a_new_episode_and_ends_when_waiting_on_us(
    all_media: Team, config: AutoSolveConfig
) -> None:
    """A new clock start forgets the old reminder; a requester reply ends the record;
    conflicts and exemptions write nothing, so the record stays as it was."""
    old = EpisodeState(clock_start=ny(2026, 11, 25, 10), reminded_at=ny(2026, 12, 2, 2))
    fresh = decide(
        snapshot(), agent_comment(ny(2026, 12, 2, 11)), all_media, config, ny(2026, 12, 3, 2), old
    )
    assert next_state(fresh, old, ny(2026, 12, 3, 2)) == EpisodeState(
        clock_start=ny(2026, 12, 2, 11), reminded_at=None, due=date(2026, 12, 9)
    )
    waiting = decide(
        snapshot(), end_user_comment(ny(2026, 12, 2, 11)), all_media, config, ny(2026, 12, 3), old
    )
    assert next_state(waiting, old, ny(2026, 12, 3)) is None
    assert next_state(conflict(fresh, "409"), old, ny(2026, 12, 3)) == old
