"""The persisted index and the decider without Zendesk: rows written by another process reach
this process's memory; a flag the handler never wrote is not mistaken for agent feedback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

import store
from duplicates.cli import FINISH_JOB_ID, PRELOAD_JOB_ID, SYNC_JOB_ID, preload_job
from duplicates.detection import index_state, on_ticket_event
from duplicates.models import DupFlag, DupSuppressedPair, DupTicket
from settings import SettingsError
from triggers.duplicates import RULE_NAME
from triggers.model import (
    COMMENT_ADDED,
    FIELD_DUPLICATE_OF,
    STATUS_CHANGED,
    TICKET_CREATED,
    Comment,
    TicketEvent,
)
from triggers.model import TicketSnapshot as Snap
from webhooks.worker import JOBS_EXTENSION

from .conftest import FLAG_THRESHOLD

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def snap(ticket_id: int, requester: int, subject: str, body: str, hours: float = 0) -> Snap:
    return Snap(
        id=ticket_id,
        status="new",
        custom_status="new",
        updated_stamp="2026-11-20T15:00:00Z",
        requester_id=requester,
        subject=subject,
        description=body,
        created_at=NOW + timedelta(hours=hours),
    )


def event(kind: str, ticket_id: int, *, by_service: bool = False) -> TicketEvent:
    return TicketEvent(
        kind, ticket_id, f"inv-{kind}-{ticket_id}", actor_id=7, by_service=by_service
    )


def make(make_db_app: Callable[..., Flask]) -> Flask:
    return make_db_app(SETTINGS={"duplicates": {"flag_threshold": FLAG_THRESHOLD}})


SUBJECT = "Media plan export to PDF is blank"
BODY = "Exporting the spring media plan to PDF gives an empty document with no rows."
AGAIN = "The PDF export of the spring media plan is still an empty document."


def test_rows_another_process_wrote_reach_this_process_index(
    make_db_app: Callable[..., Flask],
) -> None:
    writer, reader = make(make_db_app), make(make_db_app)  # two processes, one database
    on_ticket_event(writer, snap(1, 50, SUBJECT, BODY), event(STATUS_CHANGED, 1))
    assert (
        on_ticket_event(reader, snap(9, 77, "Unrelated", "text"), event(STATUS_CHANGED, 9)) is None
    )
    assert 1 in index_state(reader).index  # loaded on first use

    on_ticket_event(
        writer, snap(2, 50, "Invoice total wrong", "Total is off by 10"), event(STATUS_CHANGED, 2)
    )
    decision = on_ticket_event(
        reader, snap(3, 50, SUBJECT, AGAIN, hours=2), event(TICKET_CREATED, 3)
    )
    assert 2 in index_state(reader).index  # refreshed from the table
    assert decision is not None and decision.rule == RULE_NAME
    assert "#1 (score" in decision.actions[2].body  # type: ignore[union-attr]


def test_events_by_cxlayer_itself_only_update_the_index(make_db_app: Callable[..., Flask]) -> None:
    app = make(make_db_app)
    on_ticket_event(app, snap(1, 50, SUBJECT, BODY), event(TICKET_CREATED, 1))
    own = on_ticket_event(
        app, snap(2, 50, SUBJECT, AGAIN, hours=1), event(TICKET_CREATED, 2, by_service=True)
    )
    assert own is None
    assert 2 in index_state(app).index
    with store.session(app) as session:
        assert session.get(DupFlag, 2) is None


def test_an_event_that_changes_no_indexed_column_writes_no_row(
    make_db_app: Callable[..., Flask],
) -> None:
    """Most events (a comment, cxlayer's own update) leave the indexed columns as they were:
    the row is not rewritten; a changed subject is, in the table and in another process."""
    writer, reader = make(make_db_app), make(make_db_app)
    on_ticket_event(writer, snap(1, 50, SUBJECT, BODY), event(STATUS_CHANGED, 1))

    def indexed_at() -> datetime:
        with store.session(writer) as session:
            row = session.get(DupTicket, 1)
            assert row is not None
            return row.indexed_at

    first = indexed_at()
    on_ticket_event(writer, snap(1, 50, SUBJECT, BODY), event(STATUS_CHANGED, 1, by_service=True))
    assert indexed_at() == first
    on_ticket_event(writer, snap(1, 50, "Export is blank", BODY), event(STATUS_CHANGED, 1))
    assert indexed_at() > first
    on_ticket_event(reader, snap(9, 77, "Unrelated", "text"), event(STATUS_CHANGED, 9))
    known = index_state(reader).index.get(1)
    assert known is not None and known.row.subject == "Export is blank"


def test_a_flag_the_handler_never_wrote_is_not_taken_for_feedback(
    make_db_app: Callable[..., Flask],
) -> None:
    app = make(make_db_app)
    on_ticket_event(app, snap(1, 50, SUBJECT, BODY), event(TICKET_CREATED, 1))
    new = snap(2, 50, SUBJECT, AGAIN, hours=1)
    assert on_ticket_event(app, new, event(TICKET_CREATED, 2)) is not None

    # The write failed: the ticket has neither tag nor link, and nothing was audited.
    on_ticket_event(app, new, event(STATUS_CHANGED, 2))
    with store.session(app) as session:
        assert list(session.scalars(select(DupSuppressedPair))) == []

    # Written (the handler audited it), then the agent removed the tag but kept the link.
    with store.session(app) as session:
        store.record_audit(session, ticket_id=2, rule=RULE_NAME, action="add_tags", reason="r")
    linked = replace(new, fields={FIELD_DUPLICATE_OF: 1}, tags=frozenset({"vip"}))
    on_ticket_event(app, linked, event(STATUS_CHANGED, 2))
    with store.session(app) as session:
        pairs = [
            (p.low_id, p.high_id, p.source, p.actor_id)
            for p in session.scalars(select(DupSuppressedPair))
        ]
    assert pairs == [(1, 2, "agent", 7)]

    # Never flagged again: the same ticket created again decides nothing.
    assert on_ticket_event(app, replace(new, tags=frozenset()), event(TICKET_CREATED, 2)) is None


def test_merge_finishing_and_index_sync_are_scheduled_and_sync_can_be_switched_off(
    make_app: Callable[..., Flask],
) -> None:
    def job_ids(app: Flask) -> set[str]:
        return {job_id for job_id, _trigger, _func in app.extensions[JOBS_EXTENSION]}

    assert {FINISH_JOB_ID, SYNC_JOB_ID} <= job_ids(make_app())
    off = make_app(SETTINGS={"duplicates": {"sync_minutes": 0}})
    assert FINISH_JOB_ID in job_ids(off) and SYNC_JOB_ID not in job_ids(off)
    with pytest.raises(SettingsError, match="sync_minutes must be a whole number"):
        make_app(SETTINGS={"duplicates": {"sync_minutes": "often"}})


def test_the_index_is_preloaded_at_start_outside_any_write_transaction(
    make_db_app: Callable[..., Flask],
) -> None:
    """A large first load must not happen inside an event's write transaction."""
    writer, worker = make(make_db_app), make(make_db_app)
    on_ticket_event(writer, snap(1, 50, SUBJECT, BODY), event(STATUS_CHANGED, 1))
    assert PRELOAD_JOB_ID in [job_id for job_id, _, _ in worker.extensions[JOBS_EXTENSION]]
    assert not index_state(worker).loaded
    preload_job(worker)
    assert index_state(worker).loaded
    assert 1 in index_state(worker).index


def _recovered_auto_reply(ticket_id: int, requester: int, subject: str, body: str) -> Snap:
    """A ticket whose first comment Zendesk recovered as an automatic mail (via source rel
    `auto_mailer`): what a snapshot read with comments shows (comment events)."""
    first = Comment(
        author_id=requester,
        public=True,
        created_at=NOW,
        body=body,
        via="email",
        via_rel="auto_mailer",
    )
    return replace(snap(ticket_id, requester, subject, body), comments=(first,))


def test_zendesks_auto_reply_flag_is_stored_and_survives_a_restart(
    make_db_app: Callable[..., Flask],
) -> None:
    """Zendesk's metadata is seen only on snapshots with comments; once seen it is kept in
    dup_ticket (later events without comments do not clear it), and a restarted process (a
    new app on the same database) loads it: the ticket is never a candidate."""
    app = make(make_db_app)
    # Created: the snapshot has no comments, so nothing marks it yet.
    on_ticket_event(app, snap(1, 50, SUBJECT, BODY), event(TICKET_CREATED, 1))
    # A comment event reads the comments: Zendesk's metadata says automatic mail.
    on_ticket_event(app, _recovered_auto_reply(1, 50, SUBJECT, BODY), event(COMMENT_ADDED, 1))
    # A later event without comments (a status change) leaves the stored flag as it is.
    on_ticket_event(
        app, replace(snap(1, 50, SUBJECT, BODY), status="open"), event(STATUS_CHANGED, 1)
    )

    def stored() -> bool:
        with store.session(app, readonly=True) as session:
            row = session.get(DupTicket, 1)
            assert row is not None
            return row.auto_reply

    assert stored()
    restarted = make(make_db_app)
    assert (
        on_ticket_event(restarted, snap(2, 50, SUBJECT, AGAIN, hours=2), event(TICKET_CREATED, 2))
        is None
    )
    loaded = index_state(restarted).index.get(1)
    assert loaded is not None and loaded.auto_reply and loaded.reported_auto_reply
    assert stored()

    # The same pair without the metadata is flagged: the flag is what kept ticket 1 out.
    control = make(make_db_app)
    on_ticket_event(control, snap(11, 60, SUBJECT, BODY), event(TICKET_CREATED, 11))
    decision = on_ticket_event(
        control, snap(12, 60, SUBJECT, AGAIN, hours=2), event(TICKET_CREATED, 12)
    )
    assert decision is not None and "#11 (score" in decision.actions[2].body  # type: ignore[union-attr]
