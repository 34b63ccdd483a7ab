"""Managed-by routing: types another party carries are handed over or explained, once per ticket.

Implements the guide's "Redirect" types: "Enhancement request (managed by Account
Management)" and "Other (managed by Account Management)" — "Account Manager will reach out to
end-user" — are assigned to the Account Management group (any type with `assign_team` in
mappings/resolution_types.toml is handed to that team); "External system (managed by Third
Party)" and the types managed by the Client ("Action required (by client)", "New record (by
client)", "Existing record change (managed by Client)", i.e. `managed_by` third_party or
client) get an internal note explaining who carries the follow-up, and a tag for reports.

Types managed by Account Management without `assign_team` ("Record added/changed (by Account
Management)") describe a change already made: nothing to hand over, so no action here.

Once per ticket: the tag (mo_routed_<team>, mo_managed_by_third_party, mo_managed_by_client)
is the memory, so an agent who moves the ticket back out of the group is not overruled.
"""

from __future__ import annotations

from datetime import datetime

from mappings.model import Mappings
from triggers import texts
from triggers.model import (
    EVENT_KINDS,
    Action,
    AddTags,
    AssignGroup,
    Decision,
    InternalNote,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import Router
from triggers.rules._common import resolution_type

RULE = "managed_by_routing"
ROUTED_TAG_PREFIX = "mo_routed_"
MANAGED_TAGS = {
    "third_party": "mo_managed_by_third_party",
    "client": "mo_managed_by_client",
}
router = Router()


@router.register(*EVENT_KINDS)
def managed_by_routing(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """Assign to the type's team, or explain who carries the follow-up, once."""
    rtype = resolution_type(snapshot, mappings)
    if rtype is None:
        return None
    if rtype.assign_team is not None:
        team = mappings.team(rtype.assign_team)
        tag = ROUTED_TAG_PREFIX + team.key
        if tag in snapshot.tags:
            return None
        actions: list[Action] = []
        template = texts.ROUTED_ALREADY_NOTE
        if snapshot.group != team.zendesk_group:
            actions.append(AssignGroup(team.key))
            template = texts.ROUTED_NOTE
        note = template.format(
            option=rtype.option_name,
            team=team.name,
            group=team.zendesk_group,
            tag=tag,
            definition=rtype.definition,
        )
        actions += [AddTags((tag,)), InternalNote(note)]
        return Decision(
            rule=RULE, reason=texts.ROUTED_REASON.format(team=team.name), actions=tuple(actions)
        )
    managed_tag = MANAGED_TAGS.get(rtype.managed_by)
    if managed_tag is None or managed_tag in snapshot.tags:
        return None
    template = texts.THIRD_PARTY_NOTE if rtype.managed_by == "third_party" else texts.CLIENT_NOTE
    note = template.format(option=rtype.option_name, definition=rtype.definition, tag=managed_tag)
    return Decision(
        rule=RULE,
        reason=texts.MANAGED_REASON.format(managed_by=texts.MANAGED_BY_LABELS[rtype.managed_by]),
        actions=(AddTags((managed_tag,)), InternalNote(note)),
    )
