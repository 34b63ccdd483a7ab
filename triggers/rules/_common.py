"""Small helpers the rule modules share: resolution type lookups, reopening, comment reading."""

from __future__ import annotations

from datetime import UTC, datetime

from mappings.model import Mappings, ResolutionType, Status
from triggers import texts
from triggers.comments import latest_public
from triggers.model import FIELD_RESOLUTION_TYPE, Comment, TicketSnapshot

SOLVED_CATEGORY = "solved"
OPEN_CATEGORY = "open"


def resolution_type(snapshot: TicketSnapshot, mappings: Mappings) -> ResolutionType | None:
    value = snapshot.field(FIELD_RESOLUTION_TYPE)
    return mappings.resolution_type(value) if isinstance(value, str) else None


def open_status(mappings: Mappings) -> Status:
    """Where a ticket goes when it must not stay solved: the open category's default."""
    status = mappings.category_default(OPEN_CATEGORY)
    if status is None:  # the loader requires a default per category; this is a bug guard
        raise LookupError("mappings/statuses.toml has no default status for 'open'")
    return status


def reopened_text(snapshot: TicketSnapshot, mappings: Mappings) -> str:
    """The REOPENED sentence when the ticket is solved, else ''."""
    if snapshot.status != SOLVED_CATEGORY:
        return ""
    return texts.REOPENED.format(status_label=open_status(mappings).agent_label)


def last_public_comment(snapshot: TicketSnapshot) -> Comment | None:
    """The ticket's latest public comment."""
    return latest_public(snapshot.comments)


def when(moment: datetime) -> str:
    """How a comment's time is written in notes: UTC, minutes."""
    if moment.utcoffset() is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
