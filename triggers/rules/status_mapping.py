"""Status mapping: the custom status agrees with Zendesk's status category; mo_status_* tags follow.

Implements the guide's "Ticket Status" (Open / Awaiting your reply / Fixed – Pending RCA /
Solved) as mappings/statuses.toml models it: each Zendesk category has agent statuses, one of
them the category's default. A ticket whose custom status is unmapped, or belongs to another
category than the ticket's (e.g. put On-hold while its status is the generic "Open – with
CX"), gets the category's default ("Open – with product/development" for On-hold). The ticket
then carries exactly one mo_status_<value> tag, its status's, for views and reports.

Runs last (triggers.rules.RULE_MODULES), so it checks the status the other rules chose, and on
every event kind, including the service's own (`on_service_events`): it is the one
invariant every writer of a ticket must keep, bulk jobs and other cxlayer components included,
and its actions produce a ticket it finds nothing to do on (the fixed point), so running it on
our own events cannot loop.
"""

from __future__ import annotations

from datetime import datetime

from mappings.model import STATUS_TAG_PREFIX, Mappings
from triggers import texts
from triggers.model import (
    EVENT_KINDS,
    Action,
    AddTags,
    Decision,
    InternalNote,
    RemoveTags,
    SetCustomStatus,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import Router

RULE = "status_mapping"
router = Router()


@router.register(*EVENT_KINDS, on_service_events=True)
def status_mapping(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """The category default when the custom status does not fit the category; status tags."""
    known = {s.value: s for s in mappings.statuses}
    current = known.get(snapshot.custom_status or "")
    if current is None and snapshot.foreign_status:
        # A status an admin added in Zendesk outside the mappings: what it means is unknown,
        # so it is never remapped; plan and the sweep report list it as drift.
        return None
    actions: list[Action] = []
    notes: list[str] = []
    reasons: list[str] = []
    target = current
    if current is None or current.category != snapshot.status:
        default = mappings.category_default(snapshot.status)
        if default is None:  # a category mappings do not model (e.g. closed): leave it
            return None
        target = default
        actions.append(SetCustomStatus(default.value))
        if current is None:
            # Zendesk's generic status for the category a person chose: the guide's default
            # for that category is what Zendesk itself gives once provisioning made it the
            # default; no person's choice is undone, so the audit records it, no note.
            reasons.append(texts.STATUS_GENERIC_REASON)
        else:
            notes.append(
                texts.STATUS_SET_NOTE.format(
                    label=default.agent_label,
                    end_user_label=default.end_user_label,
                    category=texts.CATEGORY_LABELS.get(snapshot.status, snapshot.status),
                    why=texts.STATUS_WHY_OTHER_CATEGORY.format(
                        old_label=current.agent_label,
                        old_category=texts.CATEGORY_LABELS.get(current.category, current.category),
                    ),
                )
            )
            reasons.append(texts.STATUS_REASON)
    assert target is not None  # noqa: S101 - narrowed above: current, or the default
    wanted = target.tag
    stale = sorted(t for t in snapshot.tags if t.startswith(STATUS_TAG_PREFIX) and t != wanted)
    if stale:
        actions.append(RemoveTags(tuple(stale)))
    if wanted not in snapshot.tags:
        actions.append(AddTags((wanted,)))
    if not actions:
        return None
    if notes:
        actions.append(InternalNote(" ".join(notes)))
    if not reasons:
        # Tags that mirror the status: bookkeeping, folded into a write that happens anyway.
        return Decision(
            rule=RULE, reason=texts.STATUS_TAGS_REASON, actions=tuple(actions), bookkeeping=True
        )
    return Decision(rule=RULE, reason="; ".join(reasons), actions=tuple(actions))
