"""The console's tables: mapping versions (the mappings in force) and admins' duplicate verdicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store import Base, UTCDateTime, utcnow


class MappingVersion(Base):
    """One saved version of the four mapping files; the highest id is in force everywhere.

    `files` is {file name: TOML text}; `diff` a unified diff against the previous version;
    `problems` the validation result when it was saved (empty: valid; only valid ones are kept).
    """

    __tablename__ = "mapping_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[Any] = mapped_column(JSON)
    diff: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[Any] = mapped_column(JSON, default=list)


class DuplicateVerdict(Base):
    """An admin's verdict on a flagged pair in the console: duplicate or not."""

    __tablename__ = "console_duplicate_verdict"

    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    candidate_id: Mapped[int] = mapped_column(BigInteger)
    verdict: Mapped[str] = mapped_column(String(20))  # duplicate | not_duplicate
    author: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
