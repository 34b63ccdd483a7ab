"""What webhook events mean for the auto-solve sweep: deciders the event handler runs beside
the router (registered by `autosolve.init_app`).

- `reply_after_auto_solve` keeps the sweep's "who spoke last" record from every comment event,
  and applies the requester-reply rule (clock stopped, auto-solve resolution type cleared);
- `auto_solve_clock_started` shows agents the "Auto-solve due" date, with the note announcing
  the reminder and the solve, as soon as an agent's public comment starts the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

import store
from autosolve.sweep import record_comment
from mappings import current_mappings
from triggers import autosolve_texts
from triggers.autosolve import AutoSolveConfig, Outcome, after_requester_reply, last_public_comment
from triggers.autosolve import decide as autosolve_decide
from triggers.model import COMMENT_ADDED, STATUS_CHANGED, Decision, TicketEvent, TicketSnapshot

__all__ = ["auto_solve_clock_started", "reply_after_auto_solve"]


def reply_after_auto_solve(
    app: Flask, session: Any, snapshot: TicketSnapshot, event: TicketEvent
) -> Decision | None:
    """Who spoke last, for the sweep; and the auto-solve reply rule on a requester's reply."""
    if event.kind != COMMENT_ADDED or not snapshot.comments or event.by_service:
        return None
    latest = max(snapshot.comments, key=lambda c: c.created_at)
    for comment in snapshot.comments:
        record_comment(
            app,
            session,
            snapshot.id,
            comment.author_id,
            comment.public,
            comment.created_at,
            comment.author_is_agent,
        )
    return after_requester_reply(
        snapshot, author_is_agent=latest.author_is_agent, public=latest.public
    )


def auto_solve_clock_started(
    app: Flask, session: Any, snapshot: TicketSnapshot, event: TicketEvent
) -> Decision | None:
    """Show agents the "Auto-solve due" date as soon as an agent's public comment starts the
    clock, rather than at the next nightly sweep (the guide's "Awaiting your reply")."""
    if (
        event.by_service
        or event.kind not in (COMMENT_ADDED, STATUS_CHANGED)
        or not snapshot.comments
    ):
        return None
    settings = app.config["CXLAYER"]
    with app.app_context():
        mappings = current_mappings()
    config = AutoSolveConfig.from_settings(settings.get("sweep", {}), mappings)
    service_id = store.get_state(session, store.SERVICE_USER_ID)
    last = last_public_comment(snapshot.comments, [int(service_id)] if service_id else [])
    team = mappings.team_for_group(snapshot.group)
    result = autosolve_decide(snapshot, last, team, config, datetime.now(UTC), None)
    if result.decision != Outcome.SKIP or not result.actions or result.due is None or last is None:
        return None  # reminders and solves are the nightly sweep's, with its budget and report
    return Decision(
        rule="auto_solve_clock",
        reason=autosolve_texts.CLOCK_STARTED_REASON,
        actions=result.actions,  # the due date and the note announcing reminder and solve
    )
