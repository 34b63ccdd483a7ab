"""Tables the store owns: the webhook inbox, the audit trail and a small key/value state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.db import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Inbox statuses. `failed` is the dead letter: it no longer blocks its ticket's later events.
PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
IGNORED = "ignored"
FAILED = "failed"
INBOX_STATUSES = (PENDING, PROCESSING, DONE, IGNORED, FAILED)
UNFINISHED = (PENDING, PROCESSING)
_UNFINISHED = text("status IN ('pending', 'processing')")


class InboxEvent(Base):
    """One webhook delivery accepted by the endpoint; `id` is the receive sequence.

    Workers process a ticket's events in `id` order, one at a time, under an expiring lease.
    """

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invocation_id: Mapped[str] = mapped_column(String(200))
    webhook_id: Mapped[str | None] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # sha256 of the signed timestamp + body: a replay under a new invocation id (store_0003).
    signature_digest: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("invocation_id", name="uq_inbox_invocation_id"),
        Index("uq_inbox_signature_digest", "signature_digest", unique=True),
        # Claims only look at unfinished rows: partial indexes keep them small (store_0002).
        Index(
            "ix_inbox_unfinished_id", "id", postgresql_where=_UNFINISHED, sqlite_where=_UNFINISHED
        ),
        Index(
            "ix_inbox_unfinished_ticket",
            "ticket_id",
            "id",
            postgresql_where=_UNFINISHED,
            sqlite_where=_UNFINISHED,
        ),
        Index("ix_inbox_status_id", "status", "id"),
    )

    def __repr__(self) -> str:
        return (
            f"InboxEvent(id={self.id}, invocation_id={self.invocation_id!r}, "
            f"ticket_id={self.ticket_id}, kind={self.kind!r}, status={self.status!r})"
        )


# Audit row states (store_0003). An event's rows are written as `intended` before the Zendesk
# write, in the transaction of the decision; they become `applied` once the write is answered
# (or a retry finds the change on the ticket), `not_applied` when the write never happened or
# was refused (a permanent error: `api_result` has the reason).
INTENDED = "intended"
APPLIED = "applied"
NOT_APPLIED = "not_applied"
AUDIT_STATES = (INTENDED, APPLIED, NOT_APPLIED)


class AuditEntry(Base):
    """One action the service took on a ticket: which rule, for which event, before → after."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger, index=True)
    rule: Mapped[str] = mapped_column(String(200))
    invocation_id: Mapped[str | None] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(100))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    api_result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    state: Mapped[str] = mapped_column(String(20), default=APPLIED, server_default=APPLIED)
    # The ticket's updated_at the decision was made on: a retry that reads the same stamp
    # knows the write never landed.
    ticket_stamp: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_audit_invocation_state", "invocation_id", "state"),)


class StateEntry(Base):
    """Small durable values: cursors, provisioned Zendesk ids, the webhook signing secret."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
