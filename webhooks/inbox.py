"""The durable inbox: store events, claim them under expiring leases, finish, retry, dead-letter.

Ordering and exclusivity: an event is claimable only if it is the oldest unfinished event of
its ticket (`id` is the receive sequence) and no other event of that ticket is being processed
under a live lease. A failing event therefore holds back its ticket's later events until it
succeeds or is dead-lettered (`failed`), which is what keeps a ticket's events in order.

Coordination between processes uses the database's own locks: on SQLite every transaction is
BEGIN IMMEDIATE (one writer at a time, see store/db.py); on PostgreSQL candidates are locked
with FOR UPDATE SKIP LOCKED and the chosen ticket with a transaction-level advisory lock, then
re-checked with a fresh snapshot, so two workers never hold the same ticket.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

import store
from store import DONE, FAILED, IGNORED, PENDING, PROCESSING, InboxEvent
from triggers.model import TicketEvent

# Advisory-lock namespace for "this ticket is being claimed" on PostgreSQL.
_TICKET_LOCK_NAMESPACE = 742_001
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base · 2^(attempt-1), capped; dead letter after max_attempts."""

    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(
            seconds=min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        )


def add_event(
    sess: Session,
    *,
    invocation_id: str,
    webhook_id: str | None,
    data: dict[str, Any],
    payload: Any,
    ignored: bool = False,
    signature_digest: str | None = None,
) -> int | None:
    """Insert a validated event; None when this invocation id (a redelivery) or this signed
    request (`signature_digest`: a replay under a new invocation id) is already stored."""
    now = store.utcnow()
    values = {
        "invocation_id": invocation_id,
        "webhook_id": webhook_id,
        "ticket_id": data.get("ticket_id"),
        "kind": data["event"],
        "actor_id": data.get("current_user_id"),
        "occurred_at": data.get("updated_at"),
        "payload": payload if isinstance(payload, dict) else {"body": payload},
        "received_at": now,
        "status": IGNORED if ignored else PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "processed_at": now if ignored else None,
        "signature_digest": signature_digest,
    }
    stmt = _INSERT_PG if sess.get_bind().dialect.name == "postgresql" else _INSERT_SQLITE
    # Core execution on the session's connection: the ORM's bulk-insert path cost more than
    # the insert itself on the webhook's hot path.
    inserted: int | None = sess.connection().execute(stmt, values).scalar()
    return inserted


def _insert_ignoring_redeliveries(insert: Any) -> Any:
    return (
        insert(InboxEvent)
        .on_conflict_do_nothing()  # any unique key: invocation id or signature digest
        .returning(InboxEvent.id)
    )


# Built once per dialect (statement construction dominated the endpoint's profile).
_INSERT_PG = _insert_ignoring_redeliveries(pg_insert)
_INSERT_SQLITE = _insert_ignoring_redeliveries(sqlite_insert)

_older = aliased(InboxEvent)
_holder = aliased(InboxEvent)
_now = bindparam("now", type_=store.UTCDateTime())

# Due or abandoned, first unfinished of its ticket, and its ticket not held by anyone.
# "First unfinished" is written as membership in the per-ticket MIN(id) of unfinished rows,
# one pass over a small partial index, so the plan stays cheap even before the table has
# statistics (a correlated NOT EXISTS degraded to a quadratic scan on a fresh PostgreSQL).
# Built once: constructing these expressions costs more than running them.
_CLAIMABLE = and_(
    or_(
        and_(InboxEvent.status == PENDING, InboxEvent.next_attempt_at <= _now),
        and_(InboxEvent.status == PROCESSING, InboxEvent.lease_expires_at <= _now),
    ),
    InboxEvent.id.in_(
        select(func.min(_older.id))
        .where(_older.status.in_((PENDING, PROCESSING)))
        .group_by(_older.ticket_id)
    ),
    ~exists().where(
        _holder.ticket_id == InboxEvent.ticket_id,
        _holder.id != InboxEvent.id,
        _holder.status == PROCESSING,
        _holder.lease_expires_at > _now,
    ),
)
_CANDIDATES = select(InboxEvent).where(_CLAIMABLE).order_by(InboxEvent.id).limit(10)
_CANDIDATES_LOCKED = _CANDIDATES.with_for_update(skip_locked=True, of=InboxEvent)
_STILL_CLAIMABLE = (
    select(func.count())
    .select_from(InboxEvent)
    .where(InboxEvent.id == bindparam("event_id"), _CLAIMABLE)
)
_TICKET_LOCK = text("SELECT pg_try_advisory_xact_lock(:ns, :key)")


def claim(
    sess: Session,
    owner: str,
    lease_seconds: float,
    policy: RetryPolicy,
    now: datetime | None = None,
) -> InboxEvent | None:
    """Lease the next event to process, or None. Commit the session to make the claim stick."""
    now = now or store.utcnow()
    postgres = sess.get_bind().dialect.name == "postgresql"
    query = _CANDIDATES_LOCKED if postgres else _CANDIDATES
    for event in sess.scalars(query, {"now": now}).all():
        if postgres and not _hold_ticket(sess, event, now):
            continue
        if event.status == PROCESSING and event.attempts >= policy.max_attempts:
            # Its last allowed attempt never finished (the worker died): dead-letter it.
            event.status = FAILED
            event.last_error = f"lease of {event.lease_owner} expired on the last attempt"
            event.lease_owner = event.lease_expires_at = None
            event.processed_at = now
            continue
        event.status = PROCESSING
        event.attempts += 1
        event.lease_owner = owner
        event.lease_expires_at = now + timedelta(seconds=lease_seconds)
        sess.flush()
        return event
    return None


def _hold_ticket(sess: Session, event: InboxEvent, now: datetime) -> bool:
    """PostgreSQL: take the ticket's advisory lock, then re-check with a fresh snapshot.

    The candidate query's snapshot may predate another worker's committed claim on the same
    ticket; under the lock (held until commit) a new statement sees every earlier claim.
    """
    key = (event.ticket_id or 0) % 2_147_483_647
    if not sess.execute(_TICKET_LOCK, {"ns": _TICKET_LOCK_NAMESPACE, "key": key}).scalar():
        return False
    if not sess.scalar(_STILL_CLAIMABLE, {"event_id": event.id, "now": now}):
        return False
    sess.refresh(event)
    return True


def renew(sess: Session, event_id: int, owner: str, lease_seconds: float) -> bool:
    """Extend a lease still held by `owner` (long handlers); False if it was lost."""
    result = sess.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id == event_id,
            InboxEvent.lease_owner == owner,
            InboxEvent.status == PROCESSING,
        )
        .values(lease_expires_at=store.utcnow() + timedelta(seconds=lease_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete(sess: Session, event_id: int, owner: str, now: datetime | None = None) -> bool:
    """Mark done if `owner` still holds the lease; False means another worker took it over."""
    result = sess.execute(
        update(InboxEvent)
        .where(
            InboxEvent.id == event_id,
            InboxEvent.lease_owner == owner,
            InboxEvent.status == PROCESSING,
        )
        .values(
            status=DONE,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
            processed_at=now or store.utcnow(),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail(
    sess: Session,
    event_id: int,
    owner: str,
    error: BaseException,
    policy: RetryPolicy,
    *,
    now: datetime | None = None,
    final: bool = False,
) -> str | None:
    """Record a failed attempt: back to pending with backoff, or dead-lettered (`failed`)
    after the policy's last attempt, or at once when `final` (retrying cannot help).

    Returns the new status, or None if `owner` no longer held the lease.
    """
    event = sess.get(InboxEvent, event_id, with_for_update=True, populate_existing=True)
    if event is None or event.lease_owner != owner or event.status != PROCESSING:
        return None
    now = now or store.utcnow()
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    event.last_error = message[:MAX_ERROR_CHARS]
    event.lease_owner = None
    event.lease_expires_at = None
    if final or event.attempts >= policy.max_attempts:
        event.status = FAILED
        event.processed_at = now
    else:
        event.status = PENDING
        event.next_attempt_at = now + policy.delay(event.attempts)
    return event.status


def retry(sess: Session, event_id: int) -> InboxEvent:
    """Requeue a dead-lettered (or done) event for a fresh round of attempts."""
    event = sess.get(InboxEvent, event_id, with_for_update=True)
    if event is None:
        raise LookupError(f"no inbox event {event_id}")
    if event.status in (PENDING, PROCESSING):
        raise ValueError(f"inbox event {event_id} is already {event.status}")
    if event.status == IGNORED:
        raise ValueError(f"inbox event {event_id} is of a kind nobody handles ({event.kind})")
    event.status = PENDING
    event.attempts = 0
    event.next_attempt_at = store.utcnow()
    event.processed_at = None
    event.lease_owner = event.lease_expires_at = None
    return event


def unfinished_count(sess: Session) -> int:
    """Events still to process (pending or in hand), e.g. for health checks and draining."""
    return int(
        sess.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(InboxEvent.status.in_((PENDING, PROCESSING)))
        )
        or 0
    )


def list_events(sess: Session, status: str | None = None, limit: int = 50) -> list[InboxEvent]:
    """Newest first, optionally only one status."""
    query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if status:
        query = query.where(InboxEvent.status == status)
    return list(sess.scalars(query))


def prune(sess: Session, older_than: datetime) -> int:
    """Delete done and ignored events received before `older_than`; dead letters stay.

    The inbox doubles as the redelivery filter, so keep events longer than Zendesk retries.
    """
    result = sess.execute(
        delete(InboxEvent).where(
            InboxEvent.status.in_((DONE, IGNORED)), InboxEvent.received_at < older_than
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def to_ticket_event(event: InboxEvent, service_user_id: int | None) -> TicketEvent:
    """What the rules see; `by_service` when the actor is the service's own Zendesk user."""
    if event.ticket_id is None:
        raise ValueError(f"inbox event {event.id} names no ticket")
    return TicketEvent(
        kind=event.kind,
        ticket_id=event.ticket_id,
        invocation_id=event.invocation_id,
        actor_id=event.actor_id,
        by_service=service_user_id is not None and event.actor_id == service_user_id,
        occurred_at=event.occurred_at,
        payload=dict(event.payload),
    )
