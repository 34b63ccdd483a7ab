"""Helpers shared by the auto-solve tests: wall-clock times, tickets, comments, a fake write."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from triggers.autosolve import LastPublicComment
from triggers.model import (
    Action,
    AddTags,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketSnapshot,
)

NEW_YORK = ZoneInfo("America/New_York")
TORONTO = ZoneInfo("America/Toronto")


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in New York (aware)."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def to(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Toronto (aware)."""
    return datetime(year, month, day, hour, minute, tzinfo=TORONTO)


def snapshot(**overrides: Any) -> TicketSnapshot:
    """An All Media ticket awaiting the requester's reply; requester 500, CC 600."""
    values: dict[str, Any] = {
        "id": 101,
        "status": "pending",
        "custom_status": "awaiting_reply",
        "updated_stamp": "2026-11-25T15:00:00Z",
        "requester_id": 500,
        "group": "All Media",
        "priority": "normal",
        "collaborator_ids": (600,),
    }
    values.update(overrides)
    return TicketSnapshot(**values)


def agent_comment(moment: datetime, author_id: int = 900) -> LastPublicComment:
    return LastPublicComment(created_at=moment, author_id=author_id, author_is_agent=True)


def end_user_comment(moment: datetime, author_id: int = 500) -> LastPublicComment:
    return LastPublicComment(created_at=moment, author_id=author_id, author_is_agent=False)


def apply(ticket: TicketSnapshot, actions: tuple[Action, ...], stamp: str) -> TicketSnapshot:
    """What Zendesk holds after one update carrying these actions (a fake of the write)."""
    tags = set(ticket.tags)
    fields = dict(ticket.fields)
    custom_status = ticket.custom_status
    for action in actions:
        if isinstance(action, AddTags):
            tags.update(action.tags)
        elif isinstance(action, RemoveTags):
            tags.difference_update(action.tags)
        elif isinstance(action, SetField):
            fields[action.key] = action.value
        elif isinstance(action, SetCustomStatus):
            custom_status = action.value
    return replace(
        ticket,
        tags=frozenset(tags),
        fields=fields,
        custom_status=custom_status,
        updated_stamp=stamp,
    )
