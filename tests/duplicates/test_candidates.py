"""Candidate selection from the in-memory index: requester, window, status, organisation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.duplicates.conftest import NOW, row
from triggers.duplicates import TicketIndex, TicketRow
from triggers.model import FIELD_PRODUCT, TicketSnapshot


def _ids(index: TicketIndex, new: TicketRow, **kwargs: object) -> list[int]:
    return [t.row.id for t in index.candidates(new, **kwargs)]  # type: ignore[arg-type]


def test_only_the_requesters_recent_open_tickets_are_candidates(index: TicketIndex) -> None:
    index.upsert(row(20, "a", "a", created_at=NOW - timedelta(days=1)))
    index.upsert(row(21, "b", "b", created_at=NOW - timedelta(days=13, hours=23)))
    index.upsert(row(22, "too old", "c", created_at=NOW - timedelta(days=15)))
    index.upsert(
        row(23, "other requester", "d", requester_id=101, created_at=NOW - timedelta(days=1))
    )
    index.upsert(row(24, "closed", "e", status="closed", created_at=NOW - timedelta(days=2)))
    index.upsert(row(25, "solved", "f", status="solved", created_at=NOW - timedelta(days=2)))
    index.upsert(row(26, "later", "g", created_at=NOW + timedelta(hours=1)))
    new = index.upsert(row(30, "new", "new")).row
    assert _ids(index, new) == [20, 25, 21]  # newest first; solved can still be a duplicate


def test_window_is_a_setting(index: TicketIndex) -> None:
    index.upsert(row(20, "a", "a", created_at=NOW - timedelta(days=3)))
    new = row(30, "new", "new")
    assert _ids(index, new, window_days=2) == []
    assert _ids(index, new, window_days=4) == [20]


def test_the_ticket_itself_is_never_its_own_candidate(index: TicketIndex) -> None:
    new = index.upsert(row(30, "new", "new")).row
    assert _ids(index, new) == []


def test_same_time_ties_go_to_the_lower_id(index: TicketIndex) -> None:
    """Two tickets created in the same second: only the later id sees the earlier as candidate."""
    first = index.upsert(row(40, "x", "x")).row
    second = index.upsert(row(41, "x", "x")).row
    assert _ids(index, second) == [40]
    assert _ids(index, first) == []


def test_organization_tickets_join_only_when_enabled(index: TicketIndex) -> None:
    index.upsert(
        row(
            20,
            "colleague",
            "a",
            requester_id=101,
            organization_id=7,
            created_at=NOW - timedelta(days=1),
        )
    )
    index.upsert(
        row(
            21,
            "other org",
            "b",
            requester_id=102,
            organization_id=8,
            created_at=NOW - timedelta(days=1),
        )
    )
    new = row(30, "new", "new", organization_id=7)
    assert _ids(index, new) == []
    assert _ids(index, new, same_organization=True) == [20]


def test_status_change_is_seen_by_later_lookups(index: TicketIndex) -> None:
    index.upsert(row(20, "a", "a", created_at=NOW - timedelta(days=1)))
    new = row(30, "new", "new")
    assert _ids(index, new) == [20]
    index.upsert(row(20, "a", "a", status="closed", created_at=NOW - timedelta(days=1)))
    assert _ids(index, new) == []
    assert len(index) == 11  # ten background tickets plus this one, not a second copy


def test_requester_change_moves_the_ticket(index: TicketIndex) -> None:
    index.upsert(row(20, "a", "a", created_at=NOW - timedelta(days=1)))
    index.upsert(row(20, "a", "a", requester_id=555, created_at=NOW - timedelta(days=1)))
    assert _ids(index, row(30, "new", "new")) == []
    assert _ids(index, row(31, "new", "new", requester_id=555)) == [20]


def test_text_edit_updates_document_frequencies(index: TicketIndex) -> None:
    index.upsert(row(20, "zebra crossing", "zebra"))
    zebra = index.model.vocabulary["zebra"]
    assert index.model.df[zebra] == 1
    index.upsert(row(20, "giraffe", "giraffe"))
    assert index.model.df[zebra] == 0
    assert index.model.n_docs == 11


def test_remove_forgets_the_ticket(index: TicketIndex) -> None:
    index.upsert(row(20, "a", "a", created_at=NOW - timedelta(days=1)))
    assert index.remove(20) is True
    assert index.remove(20) is False
    assert 20 not in index
    assert _ids(index, row(30, "new", "new")) == []
    assert index.model.n_docs == 10


def test_limit_keeps_the_newest(index: TicketIndex) -> None:
    for i in range(5):
        index.upsert(row(20 + i, "a", "a", created_at=NOW - timedelta(hours=10 - i)))
    assert _ids(index, row(30, "new", "new"), limit=2) == [24, 23]


def test_naive_timestamps_are_refused(index: TicketIndex) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        index.upsert(row(20, "a", "a", created_at=datetime(2026, 3, 1)))
    assert 20 not in index
    with pytest.raises(ValueError, match="timezone-aware"):
        index.candidates(row(21, "a", "a", created_at=datetime(2026, 3, 1)))


def test_rows_from_snapshots_carry_the_product_field() -> None:
    snapshot = TicketSnapshot(
        id=5,
        status="open",
        custom_status=None,
        updated_stamp="2026-03-10T12:00:00Z",
        requester_id=100,
        subject="s",
        description="d",
        organization_id=7,
        created_at=NOW,
        fields={FIELD_PRODUCT: "prisma"},
    )
    assert TicketRow.from_snapshot(snapshot) == row(5, "s", "d", product="prisma")
    with pytest.raises(ValueError, match="created_at"):
        TicketRow.from_snapshot(
            TicketSnapshot(
                id=6, status="open", custom_status=None, updated_stamp="", requester_id=1
            )
        )


def test_prune_drops_tickets_older_than_the_cutoff(index: TicketIndex) -> None:
    index.upsert(row(20, "recent", "a", created_at=NOW - timedelta(days=1)))
    assert index.prune(NOW - timedelta(days=14)) == 10  # the background tickets are 30 days old
    assert [t.row.id for t in index] == [20]
    assert index.model.n_docs == 1
    assert _ids(index, row(30, "new", "new")) == [20]
