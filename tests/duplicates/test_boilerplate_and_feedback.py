"""Boilerplate is never evidence, auto-replies are never flagged, the calibrated score and
the threshold agents' feedback holds (issue 16). Pure functions; the webhook path is tested in
tests/duplicates_integration/test_precision.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.duplicates.conftest import NOW, row
from triggers.duplicates import (
    DuplicateSettings,
    TicketIndex,
    auto_reply_by_metadata,
    decide_new_ticket,
    find_duplicates,
    flag_decision,
)
from triggers.duplicates import normalise as nz
from triggers.duplicates.calibration import BackgroundStats, shipped
from triggers.duplicates.feedback import (
    MIN_JUDGED,
    Judgement,
    threshold_in_use,
    wilson_lower_bound,
)
from triggers.duplicates.scoring import IdfModel, matching_sentences, ticket_sentences
from triggers.model import Comment, TicketSnapshot

DISCLAIMER = (
    "CONFIDENTIALITY NOTICE: This e-mail message, including any attachments, is for the sole "
    "use of the intended recipient(s) and may contain confidential and privileged information "
    "of Acme Media Holdings and its subsidiaries, and any unauthorised review, use, disclosure "
    "or distribution is prohibited.\n"
    "If you have received this message in error, please contact the sender by reply e-mail and "
    "destroy all copies of the original message, including any printed copies of it.\n"
    "Acme Media Holdings Ltd is registered in England and Wales under number 01234567 with its "
    "registered office at 1 Media Square, London."
)


def test_a_long_disclaimer_after_the_closing_is_dropped() -> None:
    body = f"Hello,\n\nThe invoice export is empty.\n\nBest regards,\nRita Requester\n{DISCLAIMER}"
    assert nz.normalise_body(body) == "The invoice export is empty."


def test_a_disclaimer_without_a_closing_is_dropped_too() -> None:
    body = f"The media plan approval is stuck.\n\n{DISCLAIMER}"
    assert nz.normalise_body(body) == "The media plan approval is stuck."


def test_thanks_halfway_through_a_long_message_is_still_kept() -> None:
    body = (
        "The report is empty.\nThanks,\n"
        + "It happens every Monday after the weekly import has finished for all our clients "
        "in the EMEA region.\n" * 3
    )
    assert "EMEA region" in nz.normalise_body(body)


@pytest.mark.parametrize(
    "subject",
    ["Chat with Rita Requester", "Conversation with +1 555 0100", "Offline message from Rita"],
)
def test_channel_subjects_never_count(subject: str) -> None:
    assert nz.is_channel_subject(subject)
    assert nz.normalise_subject(subject) == ""


def test_a_subject_about_chat_is_issue_text() -> None:
    assert not nz.is_channel_subject("Chat widget does not load on the portal")


def test_transcripts_lose_times_speakers_and_the_proactive_greeting() -> None:
    body = (
        "(10:02:11 AM) Acme Support: Hi there! How can we help you today?\n"
        "(10:02:40 AM) Rita Requester: The invoice export is empty\n"
        "(10:03:02 AM) Rita Requester: since this morning"
    )
    assert nz.normalise_body(body) == "The invoice export is empty since this morning"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Automatic reply: Your request #123", "Thank you for your message."),
        ("Out of Office: Re: campaign", "I will be back on Monday."),
        ("Undeliverable: Your request", "Delivery has failed to these recipients or groups."),
        ("Re: export", "I am currently out of the office until 3 March with limited access."),
    ],
)
def test_auto_replies_are_recognised(subject: str, body: str) -> None:
    assert nz.is_auto_reply(subject, body)


def test_a_ticket_about_an_out_of_office_setting_is_not_an_auto_reply() -> None:
    assert not nz.is_auto_reply(
        "How do I set an out-of-office message?", "Where in the portal is that setting?"
    )


def test_auto_replies_are_never_flagged_nor_originals(index: TicketIndex) -> None:
    settings = DuplicateSettings()
    ooo = "Automatic reply: Invoice export empty"
    text = "I am out of the office until Monday. For urgent matters call the desk."
    index.upsert(row(300, ooo, text, created_at=NOW - timedelta(hours=1)))
    second = index.upsert(row(301, ooo, text)).row
    assert find_duplicates(second, index, index.model, settings) == []
    real = index.upsert(row(302, "Invoice export empty", text, created_at=NOW)).row
    assert all(m.candidate_id != 300 for m in find_duplicates(real, index, index.model, settings))


def _snapshot(ticket_id: int, subject: str, body: str, via_rel: str | None) -> TicketSnapshot:
    comment = Comment(author_id=100, public=True, created_at=NOW, body=body, via="email")
    if via_rel is not None:
        comment = replace(comment, via_rel=via_rel)
    return TicketSnapshot(
        id=ticket_id, status="new", custom_status=None, updated_stamp="x", requester_id=100,
        organization_id=7, subject=subject, description=body, created_at=NOW,
        comments=(comment,),
    )  # fmt: skip


def test_auto_replies_by_zendesk_metadata_are_never_flagged_nor_originals(
    index: TicketIndex,
) -> None:
    """A first comment Zendesk recovered as an automatic mail (via source rel auto_vacation /
    auto_mailer) is an auto-reply even when its text does not say so."""
    settings = DuplicateSettings()
    subject, body = "Invoice export empty", "The invoice export for March is empty again."
    index.upsert(row(310, subject, body, created_at=NOW - timedelta(hours=2)))
    plain = _snapshot(311, subject, body, None)
    assert not auto_reply_by_metadata(plain)
    matches, decision = decide_new_ticket(
        _snapshot(312, subject, body, "auto_vacation"), index, settings
    )
    assert matches == [] and decision is None
    stored = index.get(312)
    assert stored is not None and stored.auto_reply  # never anyone's original either
    matches, decision = decide_new_ticket(plain, index, settings)
    assert [m.candidate_id for m in matches] == [310]  # the auto-reply is no candidate
    assert decision is not None


def test_lines_many_tickets_share_are_learned_and_dropped() -> None:
    model = IdfModel()
    template = "Name of your company: {c}\nProduct: Lumina\nDescribe your problem:\n{p}\n"
    for n in range(8):
        model.learn("Web form request", template.format(c=f"Client {n}", p=f"problem {n}"))
    body = template.format(c="Acme", p="The budget field resets")
    assert model.is_common_line("product: lumina")
    assert model.is_common_line("describe your problem:")
    stripped = nz.strip_common_lines(body, model.is_common_line)
    assert "Describe your problem" not in stripped
    assert "Lumina" not in stripped
    assert "The budget field resets" in stripped
    assert "Acme" in stripped  # the value of a common label stays


def test_the_note_shows_the_strongest_evidence_first() -> None:
    model = IdfModel()
    for n in range(20):
        model.learn(f"Ticket {n}", f"Please advise on the issue number {n}.")
    new = ticket_sentences(
        "Export", "Please advise.\nThe Q3 delivery report export to Excel times out."
    )
    old = ticket_sentences(
        "Export", "Please advise.\nExporting the Q3 delivery report to Excel times out."
    )
    pairs = matching_sentences(new, old, model)
    assert pairs and "delivery report" in pairs[0][0]
    assert all(a != "Please advise." for a, _ in pairs[:1])


def test_calibration_rises_with_the_text_and_falls_with_a_busy_background() -> None:
    cal = shipped()
    quiet = cal.background(BackgroundStats(0.01, 0.01, 0.05, 64))
    busy = cal.background(BackgroundStats(0.20, 0.08, 0.45, 64))
    parts = {"all": 0.4, "subject": 0.4, "subject_chars": 0.5}
    low = cal.probability(0.2, {k: v / 2 for k, v in parts.items()}, quiet)
    high = cal.probability(0.4, parts, quiet)
    assert 0.0 < low < high < 1.0
    assert cal.probability(0.4, parts, busy) < high


def test_a_young_account_uses_the_prior_background() -> None:
    cal = shipped()
    assert cal.background(None) == cal.prior
    few = cal.background(BackgroundStats(0.5, 0.0, 0.5, 2))
    assert cal.prior.mean < few.mean < 0.5


def test_wilson_lower_bound() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(20, 20) < 1.0
    assert wilson_lower_bound(95, 100) < 0.95 < wilson_lower_bound(990, 1000)


def test_threshold_stays_until_enough_flags_are_judged() -> None:
    judged = [Judgement(0.6, False)] * (MIN_JUDGED - 1)
    status = threshold_in_use(0.58, 0.95, judged)
    assert status.threshold_in_use == 0.58 and not status.raised


def test_threshold_rises_when_feedback_shows_precision_under_target() -> None:
    judged = [Judgement(0.6 + i * 0.001, False) for i in range(10)]
    judged += [Judgement(0.9, True)] * 30
    status = threshold_in_use(0.58, 0.95, judged)
    assert status.raised
    assert 0.61 <= status.threshold_in_use <= 0.9
    assert status.observed_precision == pytest.approx(30 / 40)
    assert status.lower_bound is not None and status.lower_bound < 0.95
    # At the raised threshold the judged flags were right often enough.
    above = [j for j in judged if j.score >= status.threshold_in_use]
    assert sum(j.confirmed for j in above) / len(above) >= 0.95


def test_threshold_stays_when_agents_confirm_the_flags() -> None:
    status = threshold_in_use(0.58, 0.95, [Judgement(0.7, True)] * 200)
    assert not status.raised and status.threshold_in_use == 0.58


def test_a_bound_under_target_with_right_flags_keeps_the_threshold_and_says_so() -> None:
    """20 of 20 confirmed: the Wilson bound (~0.84) is under 0.95, yet nothing to raise for;
    the reason must not claim a raise that did not happen."""
    status = threshold_in_use(0.59, 0.95, [Judgement(0.9, True)] * 20)
    assert status.lower_bound is not None and status.lower_bound < 0.95
    assert not status.raised and status.threshold_in_use == 0.59
    assert "not raised" in status.reason and "raised until" not in status.reason


def test_flag_adds_the_watch_tag_the_trigger_needs(index: TicketIndex) -> None:
    settings = DuplicateSettings()
    index.upsert(
        row(400, "Delivery report export fails", "The delivery report export times out.",
            created_at=NOW - timedelta(hours=3))
    )  # fmt: skip
    new = index.upsert(
        row(401, "Delivery report export fails", "The delivery report export times out.")
    ).row
    decision = flag_decision(401, find_duplicates(new, index, index.model, settings), settings)
    assert decision is not None
    tags = decision.actions[0]
    assert nz is not None and "cxlayer_duplicate_flag" in tags.tags  # type: ignore[attr-defined]
