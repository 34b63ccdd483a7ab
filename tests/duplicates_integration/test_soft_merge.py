"""Soft merge at auto_threshold through the webhook path, and `duplicates undo` reversing it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import store
from duplicates import detection as dup
from duplicates.models import DupSoftMerge, DupSuppressedPair
from triggers.duplicates import texts as dup_texts
from triggers.model import FIELD_DUPLICATE_OF, FIELD_RESOLUTION_TYPE

from .conftest import FLAG_THRESHOLD, Desk

pytestmark = pytest.mark.integration

SUBJECT = "Cannot approve the March insertion order"
BODY = "Approving insertion order 8812 for March gives an error: approval service unavailable."
AGAIN = "Approving the March insertion order 8812 still gives the approval service error."
AUTO_THRESHOLD = 0.5


@pytest.fixture
def duplicates_settings() -> dict[str, Any]:
    return {"flag_threshold": FLAG_THRESHOLD, "auto_threshold": AUTO_THRESHOLD}


def open_pair(desk: Desk) -> tuple[int, int]:
    original = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    duplicate = desk.open_ticket(desk.rita, f"Re: {SUBJECT}", AGAIN, ccs=(desk.carl.id,))
    desk.process_events()
    # The worker's scheduler runs this every minute; here it runs once, now.
    [finished] = dup.finish_soft_merges(desk.app)
    assert finished.done, finished
    assert dup.finish_soft_merges(desk.app) == []  # nothing left to do
    desk.process_events()
    return original, duplicate


def test_soft_merge_solves_the_duplicate_points_the_requester_and_moves_ccs(
    served_desk: Desk,
) -> None:
    desk = served_desk
    original, duplicate = open_pair(desk)

    merged = desk.ticket(duplicate)
    assert merged["status"] == "solved"
    assert desk.field_value(duplicate, FIELD_RESOLUTION_TYPE) == dup.RESOLUTION_DUPLICATE
    assert desk.field_value(duplicate, FIELD_DUPLICATE_OF) == original
    assert {dup.TAG_SOFT_MERGED, dup_texts.TAG_POSSIBLE_DUPLICATE} <= set(merged["tags"])
    assert desk.service_comments(duplicate, public=True) == [
        dup.SOFT_MERGE_PUBLIC.format(original_id=original)
    ]
    [note] = [n for n in desk.service_comments(duplicate, public=False) if "Soft merge" in n]
    assert f"duplicates undo {duplicate}" in note
    assert dup_texts.NOTE_HEADER in note  # the candidates and matching sentences too

    kept = desk.ticket(original)
    assert kept["status"] != "solved"
    assert desk.carl.id in kept["email_cc_ids"]
    assert any(
        f"Ticket #{duplicate} from the same requester was solved as a duplicate" in n
        and f"user {desk.carl.id}" in n
        for n in desk.service_comments(original, public=False)
    )
    with store.session(desk.app) as session:
        record = session.get(DupSoftMerge, duplicate)
    assert record is not None
    assert (record.original_id, record.native, record.added_cc_ids) == (
        original,
        False,
        [desk.carl.id],
    )
    assert record.previous_category == "new"
    assert record.score >= AUTO_THRESHOLD


def test_undo_reopens_clears_the_link_and_removes_the_added_ccs(served_desk: Desk) -> None:
    desk = served_desk
    original, duplicate = open_pair(desk)
    assert desk.ticket(duplicate)["status"] == "solved"

    result = desk.app.test_cli_runner().invoke(args=["duplicates", "undo", str(duplicate)])
    assert result.exit_code == 0, result.output
    assert f"#{duplicate}: reopened as Open – with CX" in result.output
    desk.process_events()  # our own updates' webhooks change nothing more

    reopened = desk.ticket(duplicate)
    assert reopened["status"] == "open"  # it was New; Zendesk never goes back to New
    assert desk.field_value(duplicate, FIELD_RESOLUTION_TYPE) is None
    assert desk.field_value(duplicate, FIELD_DUPLICATE_OF) is None
    assert dup.TAG_SOFT_MERGED not in reopened["tags"]
    assert dup_texts.TAG_POSSIBLE_DUPLICATE not in reopened["tags"]
    assert desk.carl.id not in desk.ticket(original)["email_cc_ids"]
    assert any(
        n.startswith("Soft merge undone") for n in desk.service_comments(duplicate, public=False)
    )
    assert any(
        f"soft merge of #{duplicate} into this ticket was undone" in n
        for n in desk.service_comments(original, public=False)
    )
    with store.session(desk.app) as session:
        record = session.get(DupSoftMerge, duplicate)
        pairs = [
            (p.low_id, p.high_id, p.source) for p in session.scalars(select(DupSuppressedPair))
        ]
    assert record is not None and record.undone_at is not None
    assert pairs == [(original, duplicate, "undo")]
    assert dup.feedback_counts(desk.app)["soft_merges_undone"] == 1

    again = desk.app.test_cli_runner().invoke(args=["duplicates", "undo", str(duplicate)])
    assert again.exit_code == 0 and "already undone" in again.output


def test_undo_of_a_ticket_cxlayer_never_merged_is_a_clear_error(desk: Desk) -> None:
    result = desk.app.test_cli_runner().invoke(args=["duplicates", "undo", "4242"])
    assert result.exit_code == 1
    assert "ticket 4242 was not soft-merged by cxlayer" in result.output
    assert desk.writes() == {}


def test_undo_after_an_agent_reopened_keeps_their_status_and_still_unlinks(
    served_desk: Desk,
) -> None:
    desk = served_desk
    original, duplicate = open_pair(desk)
    desk.as_agent(duplicate, status="pending")
    desk.process_events()

    result = dup.undo_soft_merge(desk.app, duplicate)

    assert not result.reopened
    assert result.reason.startswith("not solved by cxlayer any more (status left as is)")
    assert result.removed_cc_ids == (desk.carl.id,)
    assert desk.ticket(duplicate)["status"] == "pending"
    assert desk.field_value(duplicate, FIELD_DUPLICATE_OF) is None
    assert desk.field_value(duplicate, FIELD_RESOLUTION_TYPE) is None
    assert desk.carl.id not in desk.ticket(original)["email_cc_ids"]
