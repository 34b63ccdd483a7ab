"""Writes to Zendesk announced in the audit first, so a crash cannot leave a change unrecorded.

The webhook handler and the sweep announce their own writes (their retries reconcile what an
interrupted attempt left); this is the same discipline for the one-shot writes of the sidebar's
buttons, the duplicates backfill scan and the soft-merge undo:

1. the audit rows are committed as `intended` ("write under way"), with any local fact the
   change stands on, in one transaction;
2. the write runs;
3. the rows are settled `applied` with the write's outcome, or `not_applied` when the write
   surely did not happen (a 409 before the first update; a permanent 4xx). Any other failure
   (a crash, a timeout, a 5xx after retries) leaves them `intended`: whether Zendesk applied
   the change is not known, and the audit says so rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy.orm import Session

import store
from sync.http import TicketConflict, ZendeskApiError
from triggers.router import AuditRecord

T = TypeVar("T")

UNDER_WAY = "write under way"
CONFLICT_RESULT = "not written: the ticket changed first (409)"


@dataclass(frozen=True)
class Intent:
    """One audit row to announce before a write (store.record_audit's fields)."""

    ticket_id: int
    rule: str
    action: str
    reason: str
    before: Any = None
    after: Any = None

    @classmethod
    def of(cls, ticket_id: int, record: AuditRecord) -> Intent:
        """A rule's audit record (triggers.router.audit_records) for this ticket."""
        return cls(
            ticket_id, record.rule, record.action, record.reason, record.before, record.after
        )


def announce(
    session: Session,
    intents: Iterable[Intent],
    *,
    invocation_id: str,
    ticket_stamp: str | None = None,
    state: str = store.INTENDED,
    api_result: str = UNDER_WAY,
) -> list[int]:
    """Add the intents' audit rows to `session` (as "intended", "write under way" unless
    told otherwise); their ids, for `store.settle_audit`."""
    return [
        store.record_audit(
            session,
            ticket_id=intent.ticket_id,
            rule=intent.rule,
            action=intent.action,
            reason=intent.reason,
            invocation_id=invocation_id,
            before=intent.before,
            after=intent.after,
            api_result=api_result,
            state=state,
            ticket_stamp=ticket_stamp,
        ).id
        for intent in intents
    ]


def permanent(exc: ZendeskApiError) -> bool:
    """A 4xx other than 409 (conflict) and 429 (rate limit): sending it again cannot help."""
    return 400 <= exc.status < 500 and exc.status not in (409, 429)


def write_audited(
    app: Flask,
    intents: Sequence[Intent],
    write: Callable[[], T],
    *,
    invocation_id: str,
    outcome: Callable[[T], str] = lambda _result: "ok",
    ticket_stamp: str | None = None,
    prepare: Callable[[Session], None] | None = None,
) -> T:
    """Announce `intents`, run `write()`, settle them; returns what `write` returned.

    `prepare(session)` records local facts in the announcing transaction. Raises what `write`
    raises, after settling the rows as not applied when nothing was written (see above).
    """
    with store.session(app) as session:
        if prepare is not None:
            prepare(session)
        ids = announce(session, intents, invocation_id=invocation_id, ticket_stamp=ticket_stamp)
    try:
        result = write()
    except TicketConflict as exc:
        if not exc.after_first_update:
            _settle(app, ids, store.NOT_APPLIED, CONFLICT_RESULT)
        raise
    except ZendeskApiError as exc:
        if permanent(exc):
            _settle(app, ids, store.NOT_APPLIED, f"refused: {exc}")
        raise
    _settle(app, ids, store.APPLIED, outcome(result))
    return result


def _settle(app: Flask, ids: list[int], state: str, api_result: str) -> None:
    if ids:
        with store.session(app) as session:
            store.settle_audit(session, ids, state, api_result)
