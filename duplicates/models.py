"""The duplicate detector's tables: the local ticket index, flags, "not a duplicate" pairs, soft merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from store import Base, UTCDateTime, utcnow

SOURCE_WEBHOOK = "webhook"
SOURCE_SCAN = "scan"
SOURCE_AGENT = "agent"  # an agent removed the tag or cleared/changed "Duplicate of"
SOURCE_UNDO = "undo"  # an operator undid a soft merge
SOURCE_ADMIN = "admin"  # an admin's verdict in the console


class DupTicket(Base):
    """One recent ticket as the duplicate index keeps it (loaded into memory once per process)."""

    __tablename__ = "dup_ticket"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requester_id: Mapped[int] = mapped_column(BigInteger)
    organization_id: Mapped[int | None] = mapped_column(BigInteger)
    group_name: Mapped[str | None] = mapped_column(String(255))
    product: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")  # capped (MAX_STORED_DESCRIPTION)
    # Zendesk's metadata marked the first comment an automatic reply (auto_reply_by_metadata):
    # such a ticket is never a candidate, also after a restart, when its snapshot had comments
    # only once. Once true, kept (admin_dup_0004).
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When this row was last written: other processes refresh their in-memory index from it.
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DupFlag(Base):
    """cxlayer flagged `ticket_id` as a possible duplicate of `candidate_id`."""

    __tablename__ = "dup_flag"

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    candidate_id: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # False while the event handler has yet to write the flag (it audits it once written).
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    # An agent said "not a duplicate" (tag removed, link cleared) or an operator undid it.
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An agent confirmed it: merged the ticket, or set Resolution type Duplicate on the link.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The matching sentence pairs the flag note showed for this candidate, [[this ticket's
    # sentence, the candidate's sentence], ...] strongest first; None on flags written before
    # admin_dup_0003 (the console computes those).
    evidence: Mapped[Any | None] = mapped_column(JSON)


class DupSuppressedPair(Base):
    """Two tickets that are not duplicates of each other: never flagged together again."""

    __tablename__ = "dup_suppressed_pair"

    low_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    high_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int] = mapped_column(BigInteger)  # where the feedback was seen
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DupSoftMerge(Base):
    """A soft merge (or a native merge) of `ticket_id` into `original_id`, and its undo."""

    __tablename__ = "dup_soft_merge"

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    original_id: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[float] = mapped_column(Float)
    native: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_status: Mapped[str | None] = mapped_column(String(100))  # custom status value
    previous_category: Mapped[str] = mapped_column(String(20))
    planned_cc_ids: Mapped[Any] = mapped_column(JSON, default=list)  # the new ticket's CCs
    added_cc_ids: Mapped[Any] = mapped_column(JSON, default=list)  # CCs added to the original
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the original's side (CCs and note; or the native merge call) was done: the event
    # handler writes only the new ticket, `finish_soft_merges` does the rest afterwards.
    original_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undo_result: Mapped[str | None] = mapped_column(Text)
