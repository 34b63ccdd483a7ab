"""Time helpers shared by the auto-solve tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
TORONTO = ZoneInfo("America/Toronto")


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in New York (aware)."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def to(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Toronto (aware)."""
    return datetime(year, month, day, hour, minute, tzinfo=TORONTO)
