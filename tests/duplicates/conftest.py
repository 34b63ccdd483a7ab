"""Fixtures for duplicate detection: a small account history written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from triggers.duplicates import DuplicateSettings, TicketIndex, TicketRow

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

# Tickets of other requesters: they teach the idf which words are common in this account.
BACKGROUND = [
    ("Cannot log in to the portal", "The login page says my password is wrong after the reset."),
    (
        "Invoice total is wrong",
        "The invoice for February shows a total that does not match the order.",
    ),
    ("Media plan approval stuck", "The approval of our media plan has been pending for two days."),
    ("Export to CSV is empty", "When I export the campaign report to CSV the file has no rows."),
    ("Add a new user", "Please add a new user account for our new planner."),
    ("Report shows old data", "The delivery report still shows last week's numbers."),
    ("Password reset email not received", "I requested a password reset but no email arrived."),
    (
        "Campaign budget not saved",
        "When I change the campaign budget and save, the old value comes back.",
    ),
    ("Change billing address", "Our billing address changed; please update it on the account."),
    ("Slow portal", "The portal takes a minute to load every page since this morning."),
]


def row(
    ticket_id: int,
    subject: str,
    description: str,
    *,
    requester_id: int = 100,
    organization_id: int | None = 7,
    product: str | None = None,
    status: str = "open",
    created_at: datetime | None = None,
) -> TicketRow:
    return TicketRow(
        id=ticket_id,
        requester_id=requester_id,
        organization_id=organization_id,
        group=None,
        product=product,
        status=status,
        created_at=created_at or NOW,
        subject=subject,
        description=description,
    )


@pytest.fixture
def index() -> TicketIndex:
    """An index holding the background tickets of other requesters (ids 1-10)."""
    idx = TicketIndex()
    for i, (subject, description) in enumerate(BACKGROUND, start=1):
        idx.upsert(
            row(i, subject, description, requester_id=900 + i, created_at=NOW - timedelta(days=30))
        )
    return idx


@pytest.fixture
def settings() -> DuplicateSettings:
    return DuplicateSettings(flag_threshold=0.3)
