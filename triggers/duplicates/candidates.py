"""In-memory index of recent tickets and pure candidate selection (same requester, recent, open)."""

from __future__ import annotations

import bisect
import hashlib
import sys
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triggers.duplicates.normalise import is_auto_reply
from triggers.duplicates.scoring import (
    MAX_BODY_CHARS,
    NO_LINES,
    Features,
    IdfModel,
    candidate_norms,
    term_counts,
)
from triggers.model import FIELD_PRODUCT, TicketSnapshot

# Statuses whose tickets are never candidates: a closed ticket cannot be reopened or linked.
EXCLUDED_STATUSES = frozenset({"closed", "deleted"})
# Text kept per ticket for the "matching sentences" of a note: what the features look at.
MAX_STORED_DESCRIPTION = MAX_BODY_CHARS
# Recently indexed ticket ids kept for `TicketIndex.background` (a few per sample taken).
RECENT_KEPT = 1024


@dataclass(frozen=True, slots=True)
class TicketRow:
    """The columns the duplicate index keeps for a ticket."""

    id: int
    requester_id: int
    organization_id: int | None
    group: str | None
    product: str | None
    status: str
    created_at: datetime
    subject: str
    description: str

    @classmethod
    def from_snapshot(cls, snapshot: TicketSnapshot) -> TicketRow:
        if snapshot.created_at is None:
            raise ValueError(f"ticket {snapshot.id} has no created_at; cannot index it")
        product = snapshot.field(FIELD_PRODUCT)
        return cls(
            id=snapshot.id,
            requester_id=snapshot.requester_id,
            organization_id=snapshot.organization_id,
            group=snapshot.group,
            product=product if isinstance(product, str) else None,
            status=snapshot.status,
            created_at=snapshot.created_at,
            subject=snapshot.subject,
            description=snapshot.description,
        )


def text_digest(description: str) -> int:
    """64-bit blake2b of the stored part of a description: what tells the index that a
    ticket's text did not change without keeping the text (issue 16: memory)."""
    return int.from_bytes(
        hashlib.blake2b(
            description[:MAX_STORED_DESCRIPTION].encode("utf-8", "surrogatepass"), digest_size=8
        ).digest(),
        "little",
    )


def _interned(value: str | None) -> str | None:
    """One object per distinct status, product or group (rows read from the database each
    carry their own copy: ~50 bytes a value a ticket)."""
    return sys.intern(value) if value else value


@dataclass(frozen=True, slots=True)
class IndexedTicket:
    """A ticket as the index keeps it. Its `row.description` is empty unless the index keeps
    descriptions (`TicketIndex(keep_descriptions=True)`); `digest` identifies the text."""

    row: TicketRow
    features: Features
    # An out-of-office, automatic reply or delivery notice: never a candidate (original).
    auto_reply: bool = False
    digest: int = 0  # text_digest(description)
    # Zendesk's metadata said so (`auto_reply_by_metadata`), on this or an earlier upsert: kept
    # when later snapshots carry no comments (duplicates/detection.py stores it in dup_ticket).
    reported_auto_reply: bool = False
    # The ids of the first comment's lines and the subject as the idf model counted them
    # (`IdfModel.learn_lines`), to uncount them when the ticket leaves or changes.
    lines: array[int] = field(default_factory=lambda: NO_LINES)

    def same_text(self, subject: str, description: str) -> bool:
        """Whether the ticket was indexed with this subject and (stored part of) description."""
        return self.row.subject == subject and self.digest == text_digest(description)


def _key(row: TicketRow) -> tuple[float, int]:
    return (row.created_at.timestamp(), row.id)


class TicketIndex:
    """Tickets by id, plus per-requester and per-organization lists sorted by creation time.

    A window lookup is a binary search plus the tickets inside the window, so its cost is
    proportional to the candidates, not to the index. Upserts keep the idf model current.
    The lists are arrays of ticket ids (8 bytes a ticket, not a tuple and a float: ~140 bytes
    less per ticket), ordered by `_sort_key`, which reads the creation time from the ticket.
    """

    def __init__(self, model: IdfModel | None = None, *, keep_descriptions: bool = True) -> None:
        self.model = model if model is not None else IdfModel()
        # False: descriptions are not held in memory (~1 KB a ticket); the callers that need
        # one (a flagged candidate's matching sentences) read it where it is stored.
        self.keep_descriptions = keep_descriptions
        self._tickets: dict[int, IndexedTicket] = {}
        self._by_requester: dict[int, array[int]] = {}
        self._by_organization: dict[int, array[int]] = {}
        # The most recently indexed tickets: the background a new ticket is compared with.
        self._recent: deque[int] = deque(maxlen=RECENT_KEPT)

    def __len__(self) -> int:
        return len(self._tickets)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._tickets

    def __iter__(self) -> Iterator[IndexedTicket]:
        return iter(self._tickets.values())

    def get(self, ticket_id: int) -> IndexedTicket | None:
        return self._tickets.get(ticket_id)

    def _sort_key(self, ticket_id: int) -> tuple[float, int]:
        return _key(self._tickets[ticket_id].row)

    def upsert(self, row: TicketRow, *, auto_reply: bool = False) -> IndexedTicket:
        """Insert or replace a ticket; text features are recomputed only if the text changed.

        `auto_reply`: Zendesk's metadata says the ticket is an automatic reply (see
        `auto_reply_by_metadata`); once said, it stays so for later upserts of the ticket. Its
        text is checked for one either way.
        """
        if row.created_at.tzinfo is None:
            raise ValueError(f"ticket {row.id}: created_at must be timezone-aware")
        description = row.description[:MAX_STORED_DESCRIPTION]
        stored = TicketRow(
            id=row.id,
            requester_id=row.requester_id,
            organization_id=row.organization_id,
            group=_interned(row.group),
            product=_interned(row.product),
            status=_interned(row.status) or row.status,
            created_at=row.created_at,
            subject=row.subject,
            description=description if self.keep_descriptions else "",
        )
        digest = text_digest(description)
        old = self._tickets.get(row.id)
        if old is not None and old.row.subject == stored.subject and old.digest == digest:
            features, lines = old.features, old.lines
        else:
            if old is not None:
                self.model.forget_line_ids(old.lines)
            lines = self.model.learn_lines(description, stored.subject)
            features = self.model.features(
                term_counts(row.subject, row.description, self.model.is_common_line), learn=True
            )
            if old is not None:
                self.model.remove(old.features)
            self.model.add(features)
            candidate_norms(features, self.model)  # warm: the first lookup stays fast
        if old is not None:
            self._unlink(old.row)
        reported = auto_reply or (old is not None and old.reported_auto_reply)
        entry = IndexedTicket(
            stored,
            features,
            reported or is_auto_reply(stored.subject, description),
            digest,
            reported,
            lines,
        )
        self._tickets[row.id] = entry
        if old is None:
            self._recent.append(row.id)
        by_requester = self._by_requester.setdefault(row.requester_id, array("q"))
        bisect.insort(by_requester, row.id, key=self._sort_key)
        if row.organization_id is not None:
            by_organization = self._by_organization.setdefault(row.organization_id, array("q"))
            bisect.insort(by_organization, row.id, key=self._sort_key)
        return entry

    def upsert_many(self, rows: Iterable[TicketRow]) -> int:
        """Upsert each row; then refresh the cached norms the growing corpus made stale, so
        the first lookups after a bulk load (service start, backfill) pay no norm pass."""
        count = 0
        for row in rows:
            self.upsert(row)
            count += 1
        if count:
            self.refresh_norms()
        return count

    def refresh_norms(self) -> None:
        """Recompute the cached norms that moved by more than NORM_REFRESH_SHARE (after a bulk
        load the first tickets' norms were cached when N was small); ~30 µs per ticket."""
        for ticket in self._tickets.values():
            candidate_norms(ticket.features, self.model)

    def remove(self, ticket_id: int) -> bool:
        """Forget a ticket (deleted, or older than the retention the caller keeps)."""
        old = self._tickets.get(ticket_id)
        if old is None:
            return False
        self._unlink(old.row)  # while the ticket is there: the lists' order reads it
        del self._tickets[ticket_id]
        self.model.remove(old.features)
        self.model.forget_line_ids(old.lines)
        return True

    def prune(self, created_before: datetime) -> int:
        """Forget tickets created before a cutoff (the index only needs the recent window)."""
        old = [t.row.id for t in self._tickets.values() if t.row.created_at < created_before]
        for ticket_id in old:
            self.remove(ticket_id)
        return len(old)

    def _unlink(self, row: TicketRow) -> None:
        for table, owner in (
            (self._by_requester, row.requester_id),
            (self._by_organization, row.organization_id),
        ):
            if owner is None:
                continue
            ids = table.get(owner)
            if not ids:
                continue
            i = bisect.bisect_left(ids, _key(row), key=self._sort_key)
            if i < len(ids) and ids[i] == row.id:
                del ids[i]
            if not ids:
                del table[owner]

    def background(self, new: TicketRow, size: int) -> list[IndexedTicket]:
        """Up to `size` recently indexed tickets of other requesters (and not in `new`'s
        organisation): what an unrelated ticket of this account looks like to `new`."""
        found: list[IndexedTicket] = []
        for ticket_id in reversed(self._recent):
            ticket = self._tickets.get(ticket_id)
            if ticket is None or ticket_id == new.id:
                continue
            row = ticket.row
            if row.requester_id == new.requester_id or (
                new.organization_id is not None and row.organization_id == new.organization_id
            ):
                continue
            found.append(ticket)
            if len(found) >= size:
                break
        return found

    def _window(self, ids: array[int], new: TicketRow, window_days: float) -> list[int]:
        end = _key(new)
        start = (new.created_at - timedelta(days=window_days)).timestamp()
        low = bisect.bisect_left(ids, (start, -1), key=self._sort_key)
        # strictly earlier, ties broken by lower id
        high = bisect.bisect_left(ids, end, lo=low, key=self._sort_key)
        return ids[low:high].tolist()

    def candidates(
        self,
        new: TicketRow,
        *,
        window_days: float = 14,
        same_organization: bool = False,
        limit: int | None = None,
    ) -> list[IndexedTicket]:
        """The requester's (and optionally organisation's) open tickets created in the window
        before `new`, newest first, at most `limit` of them."""
        if window_days < 0:
            raise ValueError("window_days must not be negative")
        if new.created_at.tzinfo is None:
            raise ValueError(f"ticket {new.id}: created_at must be timezone-aware")
        none: array[int] = array("q")
        ids = self._window(self._by_requester.get(new.requester_id, none), new, window_days)
        if same_organization and new.organization_id is not None:
            ids = sorted(
                set(ids)
                | set(
                    self._window(
                        self._by_organization.get(new.organization_id, none), new, window_days
                    )
                ),
                key=self._sort_key,
            )
        found: list[IndexedTicket] = []
        for ticket_id in reversed(ids):  # newest first
            ticket = self._tickets[ticket_id]
            if (
                ticket_id != new.id
                and ticket.row.status not in EXCLUDED_STATUSES
                and not ticket.auto_reply
            ):
                found.append(ticket)
                if limit is not None and len(found) >= limit:
                    break
        return found
