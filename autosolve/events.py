"""What webhook events mean for the auto-solve clock: deciders the event handler runs beside
the router (registered by `autosolve.init_app`).

Both deciders read the same facts the sweep reads (`triggers.clock`): every comment of the
ticket, kept as first seen, folded by maxima, so the events of one update give the same result
in any order and when delivered twice, and cxlayer's own notes or an agent's internal note
never count as "who spoke last".

- `reply_after_auto_solve` records the ticket's comments as clock facts and, after an
  auto-solve, clears the auto-solve resolution type and tags when an end user replied;
- `auto_solve_clock_started` applies the clock's decision at once: shows "Auto-solve due" with
  the note announcing reminder and solve when a clock starts, clears it (with the "clock
  stopped" note when an end user spoke) when it stops or the ticket leaves "Awaiting your
  reply". Reminders and solves stay the nightly sweep's (its budget, report and undo).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

from autosolve.models import SweepEpisode
from autosolve.sweep import clock_facts, record_comment, stored_facts
from mappings import current_mappings
from triggers import autosolve_texts
from triggers.autosolve import (
    AutoSolveConfig,
    EpisodeState,
    Outcome,
    after_requester_reply,
    clock_reads_comments,
    webhook_actions,
)
from triggers.autosolve import decide as autosolve_decide
from triggers.clock import ClockFacts
from triggers.model import (
    STATUS_CHANGED,
    Decision,
    TicketEvent,
    TicketSnapshot,
)

__all__ = [
    "auto_solve_clock_started",
    "needs_comments",
    "reply_after_auto_solve",
    "ticket_facts",
]

RULE_CLOCK = "auto_solve_clock"


def ticket_facts(app: Flask, session: Any, snapshot: TicketSnapshot) -> ClockFacts:
    """Record the snapshot's comments (first sighting wins) and fold everything known."""
    for comment in snapshot.comments:
        record_comment(
            app,
            session,
            snapshot.id,
            comment.author_id,
            comment.public,
            comment.created_at,
            comment.author_is_agent,
            comment.body,
            comment.via,
            comment.via_rel,
        )
    facts = stored_facts(session, [snapshot.id]).get(snapshot.id, [])
    roles = {c.author_id: c.author_is_agent for c in snapshot.comments}
    return clock_facts(snapshot, facts, roles)


def _config(app: Flask) -> AutoSolveConfig:
    with app.app_context():
        mappings = current_mappings()
    return AutoSolveConfig.from_settings(app.config["CXLAYER"].get("sweep", {}), mappings)


def needs_comments(app: Flask, snapshot: TicketSnapshot, event: TicketEvent) -> bool:
    """Whether the event handler reads the ticket's comments for the clock on an event other
    than a comment: on a person's status change, where the clock's decision can depend on
    them (`clock_reads_comments`), so that it is taken from the comments whichever event of
    one update arrives first. Other events leave the facts to the comment events."""
    if event.by_service or event.kind != STATUS_CHANGED:
        return False
    return clock_reads_comments(snapshot, _config(app))


def _episode(session: Any, ticket_id: int) -> EpisodeState | None:
    row = session.get(SweepEpisode, ticket_id)
    if row is None:
        return None
    return EpisodeState(row.clock_start, row.reminded_at, row.due, bool(row.undone))


def reply_after_auto_solve(
    app: Flask, session: Any, snapshot: TicketSnapshot, event: TicketEvent
) -> Decision | None:
    """Keep the clock's facts from every event's comments; after an auto-solve, an end user's
    reply clears the auto-solve resolution type and tags."""
    facts = ticket_facts(app, session, snapshot)
    if event.by_service:
        return None
    return after_requester_reply(snapshot, facts)


def auto_solve_clock_started(
    app: Flask, session: Any, snapshot: TicketSnapshot, event: TicketEvent
) -> Decision | None:
    """The clock's decision now, minus what only the nightly sweep does (remind, solve)."""
    if event.by_service:
        return None
    settings = app.config["CXLAYER"]
    with app.app_context():
        mappings = current_mappings()
    config = AutoSolveConfig.from_settings(settings.get("sweep", {}), mappings)
    facts = ticket_facts(app, session, snapshot)
    team = mappings.team_for_group(snapshot.group)
    result = autosolve_decide(
        snapshot,
        facts,
        team,
        config,
        datetime.now(UTC),
        _episode(session, snapshot.id),
        reopened_by_end_user=_by_end_user(snapshot, event),
    )
    actions = webhook_actions(result, snapshot)
    if not actions:
        return None
    reason = result.reason
    if result.decision is not Outcome.WAITING_ON_US and result.due is not None:
        reason = autosolve_texts.CLOCK_STARTED_REASON
    return Decision(rule=RULE_CLOCK, reason=reason, actions=actions)


def _by_end_user(snapshot: TicketSnapshot, event: TicketEvent) -> bool:
    """The change was made by the requester, a CC or an end user who commented."""
    actor = event.actor_id
    if actor is None:
        return False
    if actor == snapshot.requester_id or actor in snapshot.collaborator_ids:
        return True
    return any(c.author_id == actor and not c.author_is_agent for c in snapshot.comments)
