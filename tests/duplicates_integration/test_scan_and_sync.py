"""`duplicates scan` backfills flags over existing tickets (dry run writes nothing; a second run
changes nothing); `duplicates sync` reads the incremental export, indexes tickets and notices
a removed tag that no trigger reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import store
from duplicates.detection import CURSOR_STATE, feedback_counts
from duplicates.models import DupFlag, DupSuppressedPair, DupTicket
from triggers.duplicates import texts as dup_texts
from triggers.model import FIELD_DUPLICATE_OF

from .conftest import Desk
from .test_webhook_flags import AGAIN_BODY, AGAIN_SUBJECT, BODY, OTHER_BODY, OTHER_SUBJECT, SUBJECT

pytestmark = pytest.mark.integration


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def history(desk: Desk) -> dict[str, int]:
    """Tickets from before the service: Rita's issue twice, once by Otto, one unrelated."""
    return {
        "original": desk.import_ticket(desk.rita, SUBJECT, BODY, days_ago(10)),
        "unrelated": desk.import_ticket(desk.rita, OTHER_SUBJECT, OTHER_BODY, days_ago(5)),
        "again": desk.import_ticket(desk.rita, AGAIN_SUBJECT, AGAIN_BODY, days_ago(3)),
        "other_requester": desk.import_ticket(desk.otto, SUBJECT, BODY, days_ago(2)),
    }


def run(desk: Desk, *args: str) -> str:
    result = desk.app.test_cli_runner().invoke(args=["duplicates", *args])
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_scan_flags_the_repeat_once_dry_run_writes_nothing_and_a_rerun_is_a_no_op(
    desk: Desk,
) -> None:
    tickets = history(desk)
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    desk.zd.reset_stats()

    dry = run(desk, "scan", "--since", since, "--dry-run")
    assert (
        f"#{tickets['again']}: would flag as a possible duplicate of #{tickets['original']}" in dry
    )
    assert "1 would flag" in dry
    assert desk.writes() == {}
    with store.session(desk.app) as session:
        assert session.get(DupFlag, tickets["again"]) is None

    first = run(desk, "scan", "--since", since)
    assert "Scoring tickets" in first  # the progress bar
    assert (
        f"#{tickets['again']}: flagged as a possible duplicate of #{tickets['original']}" in first
    )
    assert "1 flagged" in first
    assert desk.field_value(tickets["again"], FIELD_DUPLICATE_OF) == tickets["original"]
    assert dup_texts.TAG_POSSIBLE_DUPLICATE in desk.ticket(tickets["again"])["tags"]
    for name in ("original", "unrelated", "other_requester"):
        assert dup_texts.TAG_POSSIBLE_DUPLICATE not in desk.ticket(tickets[name])["tags"], name
    with store.session(desk.app) as session:
        flag = session.get(DupFlag, tickets["again"])
        indexed = set(session.scalars(select(DupTicket.id)))
    assert flag is not None and (flag.source, flag.applied) == ("scan", True)
    assert set(tickets.values()) <= indexed

    desk.zd.reset_stats()
    second = run(desk, "scan", "--since", since)
    assert "0 flagged, 1 already linked" in second
    assert desk.writes() == {}


def test_scan_refuses_a_since_that_is_not_a_date(desk: Desk) -> None:
    result = desk.app.test_cli_runner().invoke(args=["duplicates", "scan", "--since", "lately"])
    assert result.exit_code == 2
    assert "'lately' is not a date" in result.output
    assert desk.writes() == {}


def test_sync_indexes_from_the_export_and_records_a_removed_tag_as_not_a_duplicate(
    served_desk: Desk,
) -> None:
    desk = served_desk
    older = desk.import_ticket(desk.rita, OTHER_SUBJECT, OTHER_BODY, days_ago(4))
    first = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    second = desk.open_ticket(desk.rita, AGAIN_SUBJECT, AGAIN_BODY)
    desk.process_events()
    assert desk.field_value(second, FIELD_DUPLICATE_OF) == first

    # Both of the flag's tags go at once (a macro, a bulk edit): the provisioned trigger for a
    # removed possible_duplicate needs the watch tag, so only the sync sees this. (Keeping the
    # ticket's own status: an agent's update would otherwise take a New ticket to Open, as in
    # Zendesk, and that status change is an event.)
    status = desk.ticket(second)["custom_status_id"]
    desk.as_agent(
        second,
        remove_tags=[dup_texts.TAG_POSSIBLE_DUPLICATE, dup_texts.TAG_FLAG_WATCH],
        custom_status_id=status,
    )
    assert desk.process_events() == 0

    output = run(desk, "sync")
    assert "1 'not a duplicate' recorded" in output
    with store.session(desk.app) as session:
        pairs = [
            (p.low_id, p.high_id, p.source) for p in session.scalars(select(DupSuppressedPair))
        ]
        indexed = set(session.scalars(select(DupTicket.id)))
        cursor = store.get_state(session, CURSOR_STATE)
    assert pairs == [(first, second, "agent")]
    assert {older, first, second} <= indexed  # the import reached the index only via sync
    assert cursor
    assert feedback_counts(desk.app)["not_duplicate_by_agents"] == 1

    again = run(desk, "sync")  # from the saved cursor: nothing new to record
    assert "0 'not a duplicate' recorded" in again
    report = run(desk, "feedback")
    assert "not duplicate by agents" in report and "flags standing" in report
