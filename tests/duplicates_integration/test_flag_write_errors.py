"""Zendesk refusing the flag's write (409 conflict, 5xx) through the real webhook path.

A refused write leaves audit rows that are not applied. The flag's absence on the ticket is
then not an agent's "not a duplicate": the event is decided again (409) or retried (5xx), the
flag is written exactly once, and no rejection is counted against precision. (Found by trying
it: a refused write used to be read as an agent removing the flag.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

import store
from duplicates.detection import feedback_counts
from duplicates.models import DupFlag, DupSuppressedPair
from store.models import InboxEvent
from triggers.duplicates import RULE_NAME
from triggers.duplicates import texts as dup_texts
from triggers.model import FIELD_DUPLICATE_OF

from .conftest import Desk
from .test_webhook_flags import AGAIN_BODY, AGAIN_SUBJECT, BODY, SUBJECT, notes_flagging

pytestmark = pytest.mark.integration


def _retries_due_now(desk: Desk) -> None:
    """Events waiting for a retry's backoff become due (the test does not wait minutes)."""
    with store.session(desk.app) as session:
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.status == store.PENDING)
            .values(next_attempt_at=store.utcnow() - timedelta(seconds=1))
        )


@pytest.mark.parametrize("status", [409, 500, 503])
def test_a_refused_flag_write_is_retried_not_read_as_an_agent_rejection(
    served_desk: Desk, status: int
) -> None:
    desk = served_desk
    first = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    second = desk.open_ticket(desk.rita, AGAIN_SUBJECT, AGAIN_BODY)
    # Reads pass; the first write to the new ticket is refused.
    desk.zd.set_faults(
        error_rate=1.0, status=status, paths=[f"/api/v2/tickets/{second}"], methods=["PUT"], times=1
    )
    try:
        desk.process_events()
    finally:
        desk.zd.clear_faults()
    for _ in range(4):
        _retries_due_now(desk)
        if desk.process_events() == 0:
            break

    assert dup_texts.TAG_POSSIBLE_DUPLICATE in desk.ticket(second)["tags"]
    assert desk.field_value(second, FIELD_DUPLICATE_OF) == first
    assert len(notes_flagging(desk, second)) == 1
    assert not [n for n in desk.service_comments(second, public=False) if "Not a duplicate" in n]
    with store.session(desk.app) as session:
        assert list(session.scalars(select(DupSuppressedPair))) == []
        flag = session.get(DupFlag, second)
        assert flag is not None and flag.feedback_at is None
        states = [
            row.state
            for row in session.scalars(
                select(store.AuditEntry).where(
                    store.AuditEntry.ticket_id == second, store.AuditEntry.rule == RULE_NAME
                )
            )
        ]
        assert store.APPLIED in states and store.INTENDED not in states
    counts = feedback_counts(desk.app)
    assert counts["not_duplicate_by_agents"] == 0
    assert counts["flags_standing"] == 1
