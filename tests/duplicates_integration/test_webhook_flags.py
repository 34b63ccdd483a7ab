"""Through the real webhook path: the sandbox's triggers post signed webhooks to the running
service, the worker reads the ticket with sync's client, the duplicates decider flags, and
agent feedback on a flag is remembered."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

import store
from duplicates.detection import feedback_counts, index_state, scan
from duplicates.models import DupFlag, DupSuppressedPair, DupTicket
from tests.console.conftest import PASSWORD_HASH, sign_in
from tests.desk import sandbox_settings
from triggers.duplicates import RULE_NAME
from triggers.duplicates import texts as dup_texts
from triggers.model import FIELD_DUPLICATE_OF

from .conftest import Desk

pytestmark = pytest.mark.integration

SUBJECT = "Campaign export to Excel fails with a timeout"
BODY = (
    "Hello team,\n\nWhen I export the Q3 campaign plan to Excel the export spins for a few "
    "minutes and then fails with a timeout error. It worked last week.\n\nThanks,\nRita"
)
AGAIN_SUBJECT = "Re: Excel export of campaign still failing (timeout)"
AGAIN_BODY = (
    "Hi,\n\nthe Q3 campaign plan export to Excel still fails with the timeout error after a "
    "few minutes. Can someone look at this?\n\nRegards,\nRita"
)
OTHER_SUBJECT = "Invoice 4471 shows the wrong vendor"
OTHER_BODY = "The vendor on invoice 4471 should be Acme Outdoor, not Acme Digital."


def notes_flagging(desk: Desk, ticket_id: int) -> list[str]:
    return [
        n
        for n in desk.service_comments(ticket_id, public=False)
        if dup_texts.NOTE_HEADER in n  # may share the comment with other rules' notes
    ]


def test_a_requester_opening_the_same_issue_twice_gets_the_second_flagged_with_a_note(
    served_desk: Desk,
    make_db_app: Callable[..., Flask],  # the store fixture: the console on the same database
) -> None:
    desk = served_desk
    other = desk.open_ticket(desk.rita, OTHER_SUBJECT, OTHER_BODY)
    first = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    second = desk.open_ticket(desk.rita, AGAIN_SUBJECT, AGAIN_BODY)
    desk.process_events()

    flagged = desk.ticket(second)
    assert dup_texts.TAG_POSSIBLE_DUPLICATE in flagged["tags"]
    assert desk.field_value(second, FIELD_DUPLICATE_OF) == first
    [note] = notes_flagging(desk, second)  # once, despite the webhooks our own update fired
    assert f"- #{first} (score " in note
    assert f"#{other}" not in note
    assert dup_texts.NOTE_FOOTER.format(best_id=first) in note
    assert flagged["status"] != "solved"  # a flag never solves
    for untouched in (first, other):
        assert dup_texts.TAG_POSSIBLE_DUPLICATE not in desk.ticket(untouched)["tags"]
        assert notes_flagging(desk, untouched) == []

    with store.session(desk.app) as session:
        flag = session.get(DupFlag, second)
        indexed = set(session.scalars(select(DupTicket.id)))
        audited = list(
            session.scalars(
                select(store.AuditEntry).where(
                    store.AuditEntry.ticket_id == second, store.AuditEntry.rule == RULE_NAME
                )
            )
        )
    assert flag is not None and flag.candidate_id == first and flag.source == "webhook"
    assert {other, first, second} <= indexed
    assert audited, "the handler audits the flag it applied"
    assert {other, first, second} <= {t.row.id for t in index_state(desk.app).index}

    # The flag keeps the evidence its note shows, and the console shows exactly that, read from
    # the flag: the console's process never loads the index to compute it.
    said = [
        [new, old]
        for new, candidate, old in re.findall(r'this ticket: "(.*)"\n\s+#(\d+): "(.*)"', note)
        if int(candidate) == first
    ]
    assert said, note
    assert flag.evidence == said
    console = make_db_app(
        SETTINGS={**sandbox_settings(desk.zd), "admin": {"password_hash": PASSWORD_HASH}}
    )
    client = console.test_client()
    sign_in(client)
    page = client.get("/console/duplicates").text
    shown = re.findall(r"this ticket: <q>(.*?)</q> — #(\d+): <q>(.*?)</q>", page)
    assert shown == [(html.escape(new), str(first), html.escape(old)) for new, old in said]
    assert not index_state(console).loaded


def test_another_requester_with_the_same_text_is_not_flagged(served_desk: Desk) -> None:
    desk = served_desk
    first = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    theirs = desk.open_ticket(desk.otto, SUBJECT, BODY)
    desk.process_events()

    ticket = desk.ticket(theirs)
    assert dup_texts.TAG_POSSIBLE_DUPLICATE not in ticket["tags"]
    assert desk.field_value(theirs, FIELD_DUPLICATE_OF) is None
    assert notes_flagging(desk, theirs) == []
    assert notes_flagging(desk, first) == []
    with store.session(desk.app) as session:
        assert session.get(DupFlag, theirs) is None
        assert session.get(DupTicket, theirs) is not None  # indexed all the same


def test_clearing_duplicate_of_records_not_a_duplicate_and_the_pair_is_never_flagged_again(
    served_desk: Desk,
) -> None:
    desk = served_desk
    first = desk.open_ticket(desk.rita, SUBJECT, BODY)
    desk.process_events()
    second = desk.open_ticket(desk.rita, AGAIN_SUBJECT, AGAIN_BODY)
    desk.process_events()
    assert desk.field_value(second, FIELD_DUPLICATE_OF) == first

    # The agent disagrees: clears "Duplicate of" (fires the fields_changed trigger).
    field_id = desk.provisioned.field_id(FIELD_DUPLICATE_OF)
    desk.as_agent(second, custom_fields=[{"id": field_id, "value": None}])
    desk.process_events()

    with store.session(desk.app) as session:
        pairs = list(session.scalars(select(DupSuppressedPair)))
        flag = session.get(DupFlag, second)
    assert [(p.low_id, p.high_id, p.source, p.actor_id) for p in pairs] == [
        (first, second, "agent", desk.agent.id)
    ]
    assert flag is not None and flag.feedback_at is not None
    counts = feedback_counts(desk.app)
    assert counts["not_duplicate_by_agents"] == 1
    assert counts["flags_standing"] == 0

    # A backfill over the same days would otherwise flag #second again: the pair is suppressed.
    desk.zd.reset_stats()
    report = scan(desk.app, store.utcnow().replace(hour=0, minute=0, second=0, microsecond=0))
    assert report.flagged == []
    assert desk.writes() == {}
    assert desk.field_value(second, FIELD_DUPLICATE_OF) is None
    assert len(notes_flagging(desk, second)) == 1  # the original flag's note only
