"""The console's tables: mapping versions (the mappings in force) and failed local sign-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
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


class SigninFailure(Base):
    """A failed break-glass (local) sign-in: counted per account name and per address to lock
    further attempts for a while, in the database so every process and host sees the same."""

    __tablename__ = "console_signin_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(100), index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
