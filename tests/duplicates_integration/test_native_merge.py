"""Zendesk's native merge, only when an admin opts in: flagged first, merged by the finishing
job while the flag stands; never undoable; an agent's disagreement in between stops it."""

from __future__ import annotations

import time
from typing import Any

import pytest

import store
from duplicates import detection as dup
from duplicates.models import DupSoftMerge
from triggers.model import FIELD_DUPLICATE_OF

from .conftest import FLAG_THRESHOLD, Desk
from .test_soft_merge import AGAIN, BODY, SUBJECT

pytestmark = pytest.mark.integration


@pytest.fixture
def duplicates_settings() -> dict[str, Any]:
    return {"flag_threshold": FLAG_THRESHOLD, "auto_threshold": 0.5, "native_merge": True}


def wait_closed(desk: Desk, ticket_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30  # the merge is a Zendesk job
    while True:
        ticket = desk.ticket(ticket_id)
        if ticket["status"] == "closed" or time.monotonic() > deadline:
            return ticket
        time.sleep(0.05)


def test_native_merge_happens_after_the_flag_and_cannot_be_undone(served_desk: Desk) -> None:
    desk = served_desk
    original = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    duplicate = desk.open_ticket(desk.rita, f"Re: {SUBJECT}", AGAIN)
    desk.process_events()
    assert desk.field_value(duplicate, FIELD_DUPLICATE_OF) == original  # flagged first
    assert desk.ticket(duplicate)["status"] != "closed"

    [finished] = dup.finish_soft_merges(desk.app)
    assert finished.done and "native merge" in finished.reason
    merged = wait_closed(desk, duplicate)
    assert merged["status"] == "closed" and "closed_by_merge" in merged["tags"]
    with store.session(desk.app) as session:
        record = session.get(DupSoftMerge, duplicate)
    assert record is not None and record.native and record.original_done_at is not None

    result = desk.app.test_cli_runner().invoke(args=["duplicates", "undo", str(duplicate)])
    assert result.exit_code == 1
    assert "native merge, which cannot be undone" in result.output


def test_native_merge_is_not_made_once_an_agent_cleared_the_flag(served_desk: Desk) -> None:
    desk = served_desk
    desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    duplicate = desk.open_ticket(desk.rita, f"Re: {SUBJECT}", AGAIN)
    desk.process_events()
    field_id = desk.provisioned.field_id(FIELD_DUPLICATE_OF)
    desk.as_agent(duplicate, custom_fields=[{"id": field_id, "value": None}])
    desk.process_events()
    desk.zd.reset_stats()

    assert dup.finish_soft_merges(desk.app) == []  # cancelled by the feedback
    assert desk.writes() == {}
    with store.session(desk.app) as session:
        record = session.get(DupSoftMerge, duplicate)
    assert record is not None and record.original_done_at is None
    assert record.undo_result == "cancelled: an agent said it is not a duplicate"
    assert desk.ticket(duplicate)["status"] != "closed"
