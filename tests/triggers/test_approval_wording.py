"""What counts as the requester's data maintenance approval in a reply, and what does not.

The labelled corpus (test_approval_corpus.py) measures the classifier; these cases name the
behaviours one by one, with the sentence each answer rests on."""

from __future__ import annotations

import pytest

from mappings import Mappings
from triggers import texts
from triggers.approval import (
    APPROVAL,
    APPROVE,
    CONDITION,
    DECLINE,
    DEFERRAL,
    HEDGE,
    NOTHING,
    OTHERS_WORDS,
    QUESTION,
    REFUSAL,
    UNCLEAR,
    Verdict,
    classify,
)
from triggers.rules.data_maintenance_approval import awaiting_status


@pytest.mark.parametrize(
    ("body", "answer", "why", "sentence"),
    [
        ("I approve.", APPROVE, APPROVAL, "I approve."),
        ("Approved", APPROVE, APPROVAL, "Approved"),
        ("yes", APPROVE, APPROVAL, "yes"),
        ("Hi Sam,\nYep, please go ahead with the change.", APPROVE, APPROVAL, None),
        ("Please proceed.", APPROVE, APPROVAL, "Please proceed."),
        ("OK from my side, go ahead", APPROVE, APPROVAL, "OK from my side, go ahead"),
        ("Approved, no problem at all.", APPROVE, APPROVAL, "Approved, no problem at all."),
        ("No objection from us.", APPROVE, APPROVAL, "No objection from us."),
        ("Oui, allez-y.", APPROVE, APPROVAL, "Oui, allez-y."),
        ("J’approuve la modification.", APPROVE, APPROVAL, "J’approuve la modification."),
        ("C'est bon pour moi, merci.", APPROVE, APPROVAL, "C'est bon pour moi, merci."),
        # Questions, even with approval words in them (the first case).
        (
            "Can you confirm which campaigns this will change?",
            UNCLEAR,
            QUESTION,
            "Can you confirm which campaigns this will change?",
        ),
        ("Yes. Which records will change?", UNCLEAR, QUESTION, "Which records will change?"),
        ("Pouvez-vous confirmer la liste", UNCLEAR, QUESTION, "Pouvez-vous confirmer la liste"),
        # Deferrals, conditions, hedges and someone else's words are never approval.
        (
            "OK, I'll check with my manager and get back to you.",
            UNCLEAR,
            DEFERRAL,
            "OK, I'll check with my manager and get back to you.",
        ),
        ("Je reviens vers vous demain.", UNCLEAR, DEFERRAL, "Je reviens vers vous demain."),
        (
            "Yes, if it only touches Q3.",
            UNCLEAR,
            CONDITION,
            "Yes, if it only touches Q3.",
        ),
        ("Oui, si c'est réversible.", UNCLEAR, CONDITION, "Oui, si c'est réversible."),
        ("Yes, but only the Q3 flights.", UNCLEAR, HEDGE, "Yes, but only the Q3 flights."),
        ("Probably fine, go ahead.", UNCLEAR, HEDGE, "Probably fine, go ahead."),
        ("My manager approved it.", UNCLEAR, OTHERS_WORDS, "My manager approved it."),
        # Refusals and negated approvals, in English and the reply parser's other languages.
        ("No.", DECLINE, REFUSAL, "No."),
        ("I don’t approve this", DECLINE, REFUSAL, "I don’t approve this"),
        ("Yes, but wait until Monday", DECLINE, REFUSAL, "Yes, but wait until Monday"),
        ("Please cancel the request", DECLINE, REFUSAL, "Please cancel the request"),
        (
            "Nein, das ist nicht ok. Bitte nichts ändern.",
            DECLINE,
            REFUSAL,
            "Nein, das ist nicht ok.",
        ),
        ("Non, ne changez rien.", DECLINE, REFUSAL, "Non, ne changez rien."),
        ("Ce n'est pas ok pour nous.", DECLINE, REFUSAL, "Ce n'est pas ok pour nous."),
        ("No estamos de acuerdo.", DECLINE, REFUSAL, "No estamos de acuerdo."),
        ("Não aprovo esta alteração.", DECLINE, REFUSAL, "Não aprovo esta alteração."),
        ("Non approvo la modifica.", DECLINE, REFUSAL, "Non approvo la modifica."),
        ("Nee, niet wijzigen aub.", DECLINE, REFUSAL, "Nee, niet wijzigen aub."),
        ("Nej tak, vent venligst.", DECLINE, REFUSAL, "Nej tak, vent venligst."),
        ("Ei, älkää muuttako mitään.", DECLINE, REFUSAL, "Ei, älkää muuttako mitään."),
        # Nothing that answers.
        ("", UNCLEAR, NOTHING, None),
        ("Thanks", UNCLEAR, NOTHING, None),
    ],
)
def test_reply_wording(body: str, answer: str, why: str, sentence: str | None) -> None:
    """Approval needs an affirmative statement; refusals decline; all else is unclear."""
    verdict = classify(body)
    assert (verdict.answer, verdict.why) == (answer, why)
    if sentence is not None or answer != APPROVE:
        assert verdict.sentence == sentence


def test_quoted_history_is_not_the_reply() -> None:
    """Our own request quoted below a reply ("tell us if you do not want...") is not the
    reply; a colleague's approval quoted under a Danish Outlook header is not the requester's."""
    quoted = texts.DMA_REQUEST_PUBLIC.format(type_name="Data fix/patch").replace("\n", "\n> ")
    assert classify(f"Go ahead.\n\nOn Thu, Nov 26, 2026, Mediaocean wrote:\n> {quoted}") == (
        Verdict(APPROVE, APPROVAL, "Go ahead.")
    )
    assert classify("Approved\n-----Original Message-----\nDo not reply").answer == APPROVE
    assert classify("> I approve\nhmm") == Verdict(UNCLEAR, NOTHING, None)
    colleague = "Please wait.\n\nFra: Ole <ole@kunde.dk>\nSendt: 3. marts 2026\n\nI approve."
    assert classify(colleague) == Verdict(DECLINE, REFUSAL, "Please wait.")


def test_the_request_itself_asks_in_words_the_rule_recognises() -> None:
    """The public request tells requesters to write “I approve”, which is approval."""
    assert "“I approve”" in texts.DMA_REQUEST_PUBLIC
    assert classify("I approve").answer == APPROVE
    assert texts.DMA_REQUEST_MARKER in texts.DMA_REQUEST_PUBLIC


def test_every_reason_for_unclear_has_words_for_agents() -> None:
    assert set(texts.DMA_UNCLEAR_WHY) == {
        QUESTION,
        CONDITION,
        DEFERRAL,
        OTHERS_WORDS,
        HEDGE,
        "negative",
    }


def test_awaiting_status_is_the_guides_awaiting_your_reply(mappings: Mappings) -> None:
    status = awaiting_status(mappings)
    assert (status.value, status.customer_status, status.category) == (
        "awaiting_reply",
        "Awaiting your reply",
        "pending",
    )
