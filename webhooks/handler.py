"""The worker's event handler: read the ticket now, let the rules decide, apply once, audit.

Payloads can be stale and events arrive more than once, so the handler never trusts the
payload's state: it reads the ticket, runs the pure rules on that snapshot and writes one safe
update. Re-processing an event is harmless because rules reach a fixed point: on a ticket that
already carries their change they return nothing. A 409 means someone changed the ticket
between our read and our write: read again and decide again (a few times), never force.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import structlog
from flask import Flask

import store
from logs import get_logger
from mappings import current_mappings
from store.models import InboxEvent
from sync import TicketConflict, ZendeskApiError, ZendeskClient, client_for
from triggers.model import (
    COMMENT_ADDED,
    STATUS_CHANGED,
    Decision,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import Router, audit_records, merge_decisions
from triggers.rules import default_router
from webhooks.worker import ticket_event

MAX_CONFLICT_ROUNDS = 3
# Extra deciders beside the router (auto-solve's reply rule, duplicates): same inputs, may
# also keep local records (who spoke last, the duplicate index) in the given session.
Decider = Callable[[Flask, Any, TicketSnapshot, TicketEvent], "Decision | None"]
DECIDERS_EXTENSION = "cxlayer.deciders"

log = get_logger("cxlayer.handler")


@cache
def _router() -> Router:
    return default_router()


def register_decider(app: Flask, decider: Decider) -> None:
    deciders = app.extensions.setdefault(DECIDERS_EXTENSION, [])
    if decider not in deciders:
        deciders.append(decider)


def init_app(app: Flask) -> None:
    """Make `handle_event` the worker's handler. The deciders beside the router are registered
    by `autosolve.init_app` and `duplicates.init_app`: they keep those jobs' local records."""
    from webhooks.worker import set_event_handler  # noqa: PLC0415 - avoid a cycle at import

    set_event_handler(app, handle_event)


def handle_event(app: Flask, event: InboxEvent) -> None:
    """Process one inbox event; exceptions make the worker retry it with backoff."""
    tevent = ticket_event(app, event)
    structlog.contextvars.bind_contextvars(
        ticket_id=tevent.ticket_id, invocation_id=tevent.invocation_id
    )
    try:
        with client_for(app) as client, client.operation(f"event {tevent.kind}"):
            _handle(app, client, tevent)
    finally:
        structlog.contextvars.unbind_contextvars("ticket_id", "invocation_id")


def _handle(app: Flask, client: ZendeskClient, tevent: TicketEvent) -> None:
    with app.app_context():
        mappings = current_mappings()
    router = _router()
    # Comments cost two more calls: read them only where a decision needs who spoke last.
    # Any status change: the auto-solve clock decides from the comments themselves whether an
    # end user spoke, whichever event of one update arrives first (issue 14).
    now_pending = tevent.kind == STATUS_CHANGED and not tevent.by_service
    with_comments = (
        tevent.kind == COMMENT_ADDED
        or now_pending
        or router.needs_comments(tevent.kind, by_service=tevent.by_service)
    )
    for round_number in range(1, MAX_CONFLICT_ROUNDS + 1):
        try:
            snapshot = client.read_snapshot(tevent.ticket_id, with_comments=with_comments)
        except ZendeskApiError as exc:
            if exc.status == 404:
                log.info("ticket gone; event dropped", kind=tevent.kind)
                return
            raise
        now = datetime.now(UTC)
        with store.session(app) as session:
            decisions = router.dispatch(snapshot, tevent, mappings, now)
            # Deciders see the service's own events too (to keep local records current);
            # each returns actions only for events it should act on.
            for decider in app.extensions.get(DECIDERS_EXTENSION, []):
                extra = decider(app, session, snapshot, tevent)
                if extra is not None and extra.actions:
                    decisions.append(extra)
        if not decisions:
            log.info("event processed", kind=tevent.kind, rules=[], changed=False)
            return
        actions = merge_decisions(snapshot, decisions, mappings)
        try:
            result = client.apply_actions(snapshot, actions)
        except TicketConflict:
            log.info("ticket changed under us; deciding again", round=round_number)
            continue
        api_result = f"ok: {len(result.updates)} update(s), now {result.updated_stamp}"
        with store.session(app) as session:
            for record in audit_records(snapshot, decisions, mappings):
                store.record_audit(
                    session,
                    ticket_id=snapshot.id,
                    rule=record.rule,
                    action=record.action,
                    reason=record.reason,
                    invocation_id=tevent.invocation_id,
                    before=record.before,
                    after=record.after,
                    api_result=api_result,
                )
        log.info(
            "event processed",
            kind=tevent.kind,
            rules=[d.rule for d in decisions],
            changed=True,
            updates=len(result.updates),
        )
        return
    raise TicketConflict(tevent.ticket_id)
