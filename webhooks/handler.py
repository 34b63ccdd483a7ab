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
from sync.audited import Intent, announce, permanent
from triggers.model import (
    COMMENT_ADDED,
    Decision,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import AuditRecord, Router, audit_records, merge_decisions
from triggers.rules import default_router
from webhooks.health import note_zendesk_ok
from webhooks.worker import PermanentFailure, ticket_event

MAX_CONFLICT_ROUNDS = 3
# Extra deciders beside the router (auto-solve's reply rule, duplicates): same inputs, may
# also keep local records (who spoke last, the duplicate index) in the given session.
Decider = Callable[[Flask, Any, TicketSnapshot, TicketEvent], "Decision | None"]
DECIDERS_EXTENSION = "cxlayer.deciders"
# Whether a decider needs the ticket's comments for this event, seen on the ticket read
# without them (it costs two more calls: comments and their authors' roles).
CommentsNeed = Callable[[Flask, TicketSnapshot, TicketEvent], bool]
COMMENTS_NEED_EXTENSION = "cxlayer.deciders.comments_need"
# Zendesk refuses every update of these (a merged ticket is closed).
CLOSED_STATUSES = ("closed", "deleted")

log = get_logger("cxlayer.handler")


@cache
def _router() -> Router:
    return default_router()


def register_decider(
    app: Flask, decider: Decider, needs_comments: CommentsNeed | None = None
) -> None:
    """Run `decider` on every event after the router. It sees the ticket's comments on
    comment events and wherever a rule needs them; `needs_comments` says, from the ticket read
    without them, when it needs them on another event."""
    deciders = app.extensions.setdefault(DECIDERS_EXTENSION, [])
    if decider not in deciders:
        deciders.append(decider)
    needs = app.extensions.setdefault(COMMENTS_NEED_EXTENSION, [])
    if needs_comments is not None and needs_comments not in needs:
        needs.append(needs_comments)


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
        note_zendesk_ok(app)
    finally:
        structlog.contextvars.unbind_contextvars("ticket_id", "invocation_id")


def _handle(app: Flask, client: ZendeskClient, tevent: TicketEvent) -> None:
    with app.app_context():
        mappings = current_mappings()
    router = _router()
    # Comments cost two more calls: read them only where a decision needs who spoke last.
    # Comment events and the router's rules say so from the event; the deciders (the
    # auto-solve clock) from the ticket itself, read first without them.
    with_comments = tevent.kind == COMMENT_ADDED or router.needs_comments(
        tevent.kind, by_service=tevent.by_service
    )
    needs = app.extensions.get(COMMENTS_NEED_EXTENSION, [])
    refused: ZendeskApiError | None = None
    for round_number in range(1, MAX_CONFLICT_ROUNDS + 1):
        try:
            snapshot = client.read_snapshot(tevent.ticket_id, with_comments=with_comments)
            if not with_comments and any(need(app, snapshot, tevent) for need in needs):
                snapshot = client.with_comments(snapshot)
        except ZendeskApiError as exc:
            if exc.status == 404:
                log.info("ticket gone; event dropped", kind=tevent.kind)
                return
            if permanent(exc):
                raise PermanentFailure(f"Zendesk refused to show the ticket: {exc}") from exc
            raise
        if refused is not None and snapshot.status not in CLOSED_STATUSES:
            # Dead-lettered at once: eight more attempts would be refused the same way.
            raise PermanentFailure(f"Zendesk refused the change: {refused}") from refused
        now = datetime.now(UTC)
        with store.session(app) as session:
            decisions = _decide(
                app,
                session,
                router=router,
                snapshot=snapshot,
                tevent=tevent,
                mappings=mappings,
                now=now,
            )
            # Nothing but tags that mirror a status or field: they ride along with the next
            # write that happens anyway (no API call of their own, no note).
            acting = not all(d.bookkeeping for d in decisions)
            records = audit_records(snapshot, decisions, mappings) if acting else []
            # A previous attempt that died after announcing its write is settled first.
            settled = _reconcile(session, tevent, snapshot, records)
            if acting:
                # The audit is written before the write, in the decision's transaction, so a
                # crash cannot leave a change on the ticket without its record.
                intents = announce(
                    session,
                    [Intent.of(snapshot.id, record) for record in records],
                    invocation_id=tevent.invocation_id,
                    ticket_stamp=snapshot.updated_stamp,
                )
        if not acting:
            log.info(
                "event processed",
                kind=tevent.kind,
                rules=[d.rule for d in decisions],
                changed=False,
                **settled,
            )
            return
        actions = merge_decisions(snapshot, decisions, mappings)
        try:
            result = client.apply_actions(snapshot, actions)
        except TicketConflict as exc:
            if not exc.after_first_update:  # nothing was written: the intent is void
                with store.session(app) as session:
                    store.settle_audit(session, intents, store.NOT_APPLIED, CONFLICT_RESULT)
            log.info("ticket changed under us; deciding again", round=round_number)
            continue
        except ZendeskApiError as exc:
            if not permanent(exc):
                raise  # transient: the retry reads the ticket and settles the intent
            with store.session(app) as session:
                store.settle_audit(session, intents, store.NOT_APPLIED, f"refused: {exc}")
            log.error(
                "Zendesk refused the change; not retried",
                kind=tevent.kind,
                rules=[d.rule for d in decisions],
                http_status=exc.status,
                error=str(exc),
            )
            # One more read: a ticket closed (merged) meanwhile completes the event, as any
            # closed ticket does; otherwise the event is dead-lettered with the reason.
            refused = exc
            continue
        api_result = f"ok: {len(result.updates)} update(s), now {result.updated_stamp}"
        with store.session(app) as session:
            store.settle_audit(session, intents, store.APPLIED, api_result)
        log.info(
            "event processed",
            kind=tevent.kind,
            rules=[d.rule for d in decisions],
            changed=True,
            updates=len(result.updates),
        )
        return
    raise TicketConflict(tevent.ticket_id)


CONFLICT_RESULT = "not written: the ticket changed first (409); decided again"
NOT_LANDED = "not written: the attempt stopped before Zendesk applied it"
CONFIRMED = "confirmed on retry: the ticket shows the change"


def _decide(
    app: Flask,
    session: Any,
    *,
    router: Router,
    snapshot: TicketSnapshot,
    tevent: TicketEvent,
    mappings: Any,
    now: datetime,
) -> list[Decision]:
    """Every decision on the snapshot: the router's and the deciders' (none on a closed ticket)."""
    decisions = router.dispatch(snapshot, tevent, mappings, now)
    # Deciders see the service's own events too (to keep local records current);
    # each returns actions only for events it should act on.
    for decider in app.extensions.get(DECIDERS_EXTENSION, []):
        extra = decider(app, session, snapshot, tevent)
        if extra is not None and extra.actions:
            decisions.append(extra)
    if snapshot.status in CLOSED_STATUSES and decisions:
        # Zendesk refuses any update of a closed (or merged) ticket: nothing to decide.
        log.info("ticket closed; nothing decided", rules=[d.rule for d in decisions])
        return []
    return decisions


def _reconcile(
    session: Any, tevent: TicketEvent, snapshot: TicketSnapshot, records: list[AuditRecord]
) -> dict[str, int]:
    """Settle the intents a dead attempt left: the ticket says whether its write landed.

    Unchanged since the intent's snapshot (same updated_at): it did not. Changed, and the rule
    no longer wants that action: the change is on the ticket, so the intent is confirmed.
    Changed, and the rule still wants it: it did not land (or was undone), so not applied.
    """
    intents = store.open_intents(session, tevent.invocation_id)
    if not intents:
        return {}
    wanted = {(r.rule, r.action, repr(r.after)) for r in records}
    confirmed, void = [], []
    for intent in intents:
        still_wanted = (intent.rule, intent.action, repr(intent.after)) in wanted
        if intent.ticket_stamp == snapshot.updated_stamp or still_wanted:
            void.append(intent.id)
        else:
            confirmed.append(intent.id)
    store.settle_audit(session, confirmed, store.APPLIED, CONFIRMED)
    store.settle_audit(session, void, store.NOT_APPLIED, NOT_LANDED)
    log.warning(
        "previous attempt's write reconciled", confirmed=len(confirmed), not_applied=len(void)
    )
    return {"reconciled": len(intents)}
