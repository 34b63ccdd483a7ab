"""Auto-solve reply: an end user's public reply stops the auto-solve clock (triggers.autosolve's rule).

Implements the guide's "Awaiting your reply" promise from the requester's side: once they
answer, the ticket no longer waits on them. The decision itself is auto-solve's
`after_requester_reply` (it clears a set "Auto-solve due" date and the reminder tag, and the
"Auto-solved › No response from user" type once Zendesk has reopened the ticket); this module
only puts it on the router for comment_added events, reading who wrote the latest comment
from the snapshot's comments, which the router has callers fetch for this kind.
"""

from __future__ import annotations

from datetime import datetime

from mappings.model import Mappings
from triggers.autosolve import RULE_REPLY, after_requester_reply
from triggers.model import COMMENT_ADDED, Decision, TicketEvent, TicketSnapshot
from triggers.router import Router

router = Router()


@router.register(COMMENT_ADDED, needs_comments=(COMMENT_ADDED,), name=RULE_REPLY)
def autosolve_reply(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """Auto-solve's requester-reply rule for the latest comment (None when comments were not read)."""
    if not snapshot.comments:
        return None
    # Zendesk lists comments oldest first; of two at one instant the later-listed is newer.
    latest = max(enumerate(snapshot.comments), key=lambda ic: (ic[1].created_at, ic[0]))[1]
    return after_requester_reply(
        snapshot, author_is_agent=latest.author_is_agent, public=latest.public
    )
