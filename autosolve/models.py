"""The auto-solve sweep's tables: runs, per-run ticket decisions, episodes, roles, and the
clock's facts (comments as first seen)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store import Base, UTCDateTime, utcnow

RUN_RUNNING = "running"
RUN_DONE = "done"
RUN_STOPPED = "stopped"  # at its budget: the next run continues
RUN_FAILED = "failed"

WRITE_NONE = "none"  # nothing to write (or a dry run)
WRITE_PENDING = "pending"  # sent or about to be sent; outcome not yet known
WRITE_OK = "ok"
WRITE_CONFLICT = "conflict"
WRITE_ERROR = "error"


class SweepRun(Base):
    """One sweep (dry or real): its budget use, outcome and the report kept in the database."""

    __tablename__ = "sweep_run"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default=RUN_RUNNING)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    examined: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    report: Mapped[Any] = mapped_column(JSON, nullable=True)


class SweepRunTicket(Base):
    """One ticket's decision in one run, what was written, and whether it was undone."""

    __tablename__ = "sweep_run_ticket"

    run_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    team: Mapped[str] = mapped_column(String(100))
    clock_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    business_days_elapsed: Mapped[int | None] = mapped_column(Integer)
    due: Mapped[date | None] = mapped_column(Date)
    previous_status: Mapped[str | None] = mapped_column(String(100))
    write: Mapped[str] = mapped_column(String(20), default=WRITE_NONE)
    write_detail: Mapped[str | None] = mapped_column(Text)
    snapshot_stamp: Mapped[str | None] = mapped_column(String(100))  # the stamp written against
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undo_result: Mapped[str | None] = mapped_column(Text)


class SweepEpisode(Base):
    """What auto-solve remembers of a ticket's waiting episode (triggers.autosolve.EpisodeState)."""

    __tablename__ = "sweep_episode"

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    clock_start: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due: Mapped[date | None] = mapped_column(Date)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)


class SweepUserRole(Base):
    """Whether a Zendesk user is an agent; comment events carry only the author's id."""

    __tablename__ = "sweep_user_role"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    is_agent: Mapped[bool] = mapped_column(Boolean)


class SweepComment(Base):
    """One comment as cxlayer first saw it: the auto-solve clock's facts (triggers.clock).

    Kept as first seen, so an author's role is the one they had when they wrote (an agent
    later made an end user does not turn their old question into a reply). `kind` is a
    `triggers.clock.Speaker` value, or "unknown" while the author's role is not known (export
    events carry only the author's id); `auto_reply` and `merge` are what the body said.
    """

    __tablename__ = "sweep_comment"

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    public: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(30))
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    merge: Mapped[bool] = mapped_column(Boolean, default=False)
