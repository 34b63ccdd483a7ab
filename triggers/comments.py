"""Facts about a ticket's comments that several rules and the auto-solve clock read."""

from __future__ import annotations

from collections.abc import Iterable

from triggers.model import Comment


def latest_public(comments: Iterable[Comment], exclude: Iterable[int] = ()) -> Comment | None:
    """The latest public comment not written by `exclude`; of two at the same instant the
    later-listed one (Zendesk lists comments oldest first)."""
    skip = frozenset(exclude)
    latest: Comment | None = None
    for comment in comments:
        if not comment.public or comment.author_id in skip:
            continue
        if latest is None or comment.created_at >= latest.created_at:
            latest = comment
    return latest
