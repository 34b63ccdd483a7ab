"""What counts as the requester's data maintenance approval in a reply, and what does not."""

from __future__ import annotations

import pytest

from mappings import Mappings
from triggers import texts
from triggers.rules.data_maintenance_approval import (
    APPROVE,
    DECLINE,
    UNCLEAR,
    awaiting_status,
    classify_reply,
)


@pytest.mark.parametrize(
    ("body", "verdict", "word"),
    [
        ("I approve.", APPROVE, "approve"),
        ("Approved", APPROVE, "approved"),
        ("yes", APPROVE, "yes"),
        ("Yep, please go ahead with the change", APPROVE, "yep"),
        ("Please proceed.", APPROVE, "proceed"),
        ("OK from my side", APPROVE, "ok"),
        ("Sounds good, thanks!", APPROVE, "sounds good"),
        ("Approved, no problem at all.", APPROVE, "approved"),  # "no problem" is not a refusal
        ("No.", DECLINE, "no"),
        ("Please don't change anything.", DECLINE, "don't"),
        ("I don’t approve this", DECLINE, "don't"),  # typographic apostrophe
        ("I do not approve", DECLINE, "do not"),
        ("Yes, but wait until Monday", DECLINE, "wait"),  # refusal wording wins
        ("Please cancel the request", DECLINE, "cancel"),
        ("I disapprove", DECLINE, "disapprove"),
        ("Which records will change?", UNCLEAR, None),
        ("", UNCLEAR, None),
        ("Thanks", UNCLEAR, None),
    ],
)
def test_reply_wording(body: str, verdict: str, word: str | None) -> None:
    """Clear approval wording is approval; any refusal wording, or none, is left to the agent."""
    assert classify_reply(body) == (verdict, word)


def test_quoted_history_is_ignored() -> None:
    """Our own request quoted below a reply ("tell us if you do not want...") is not the reply."""
    quoted = texts.DMA_REQUEST_PUBLIC.format(type_name="Data fix/patch").replace("\n", "\n> ")
    assert classify_reply(f"Go ahead.\n\nOn Thu, Nov 26, 2026, Mediaocean wrote:\n> {quoted}") == (
        APPROVE,
        "go ahead",
    )
    assert classify_reply("Approved\n-----Original Message-----\nDo not reply") == (
        APPROVE,
        "approved",
    )
    assert classify_reply("> I approve\nhmm") == (UNCLEAR, None)


def test_the_request_itself_asks_in_words_the_rule_recognises() -> None:
    """The public request tells requesters to write “I approve”, which is approval."""
    assert "“I approve”" in texts.DMA_REQUEST_PUBLIC
    assert classify_reply("I approve") == (APPROVE, "approve")
    assert texts.DMA_REQUEST_MARKER in texts.DMA_REQUEST_PUBLIC


def test_awaiting_status_is_the_guides_awaiting_your_reply(mappings: Mappings) -> None:
    status = awaiting_status(mappings)
    assert (status.value, status.customer_status, status.category) == (
        "awaiting_reply",
        "Awaiting your reply",
        "pending",
    )
