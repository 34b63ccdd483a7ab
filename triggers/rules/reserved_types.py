"""Reserved types: "Auto-solved › No response from user" is for cxlayer only; "Duplicate" names its ticket.

Implements the guide's resolution types "Auto-solved — No response from user: User failed to
respond to CX and the ticket was auto-solved" (only the auto-solve sweep can know that, so
mappings/resolution_types.toml marks it `reserved_for = "automation"`) and "Duplicate — The
requester has opened multiple tickets on the same issue" (which issue: the "Duplicate of" field).

- A reserved type set by a person (the event's actor is not the service) is cleared with a
  note. If the person solved the ticket with it, the ticket is reopened with the open
  category's default status: a solved ticket must carry a valid resolution type. A solved
  ticket carrying auto-solve's tag (mo_autosolved) was solved by the sweep: left alone, since
  events are processed after the fact and a person's older event may meet the sweep's solve.
- "Duplicate" with an empty "Duplicate of" gets one internal note asking for the ticket;
  tag mo_duplicate_of_requested remembers it was asked, so it is asked once per ticket.
"""

from __future__ import annotations

from datetime import datetime

from mappings.model import Mappings
from triggers import texts
from triggers.autosolve import TAG_SOLVED as AUTOSOLVE_TAG
from triggers.model import (
    FIELD_DUPLICATE_OF,
    FIELD_RESOLUTION_TYPE,
    FIELDS_CHANGED,
    RESOLUTION_TYPE_CHANGED,
    STATUS_CHANGED,
    TICKET_CREATED,
    Action,
    AddTags,
    Decision,
    InternalNote,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import Router
from triggers.rules._common import SOLVED_CATEGORY, open_status, reopened_text, resolution_type

RULE_RESERVED = "reserved_types"
RULE_DUPLICATE = "duplicate_needs_ticket"
AUTOMATION = "automation"
DUPLICATE_VALUE = "mo_res_duplicate"
TAG_DUPLICATE_ASKED = "mo_duplicate_of_requested"
router = Router()


# Only the events that say the type was just set (or arrived with the ticket): the snapshot
# alone cannot tell who set a type, and a later comment on an auto-solved ticket must not
# clear the type the sweep set.
@router.register(TICKET_CREATED, RESOLUTION_TYPE_CHANGED, name=RULE_RESERVED)
def reserved_type_set_by_person(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """Clear a type reserved for automation that a person set."""
    rtype = resolution_type(snapshot, mappings)
    if rtype is None or rtype.reserved_for != AUTOMATION or event.by_service:
        return None
    if snapshot.status == SOLVED_CATEGORY and AUTOSOLVE_TAG in snapshot.tags:
        # The sweep's own solve (it tags the ticket in the same update). A person's event
        # read after the sweep ran sees the sweep's type: it is not the person's to undo.
        return None
    actions: list[Action] = [SetField(FIELD_RESOLUTION_TYPE, None)]
    if snapshot.status == SOLVED_CATEGORY:
        actions.append(SetCustomStatus(open_status(mappings).value))
    note = texts.RESERVED_UNDO_NOTE.format(
        option=rtype.option_name,
        definition=rtype.definition,
        reopened=reopened_text(snapshot, mappings),
    )
    actions.append(InternalNote(note))
    return Decision(rule=RULE_RESERVED, reason=texts.RESERVED_REASON, actions=tuple(actions))


@router.register(
    TICKET_CREATED, RESOLUTION_TYPE_CHANGED, STATUS_CHANGED, FIELDS_CHANGED, name=RULE_DUPLICATE
)
def duplicate_needs_ticket(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """Ask once for the "Duplicate of" ticket when "Duplicate" is set without one."""
    rtype = resolution_type(snapshot, mappings)
    if (
        rtype is None
        or rtype.value != DUPLICATE_VALUE
        or snapshot.field(FIELD_DUPLICATE_OF)
        or TAG_DUPLICATE_ASKED in snapshot.tags
    ):
        return None
    note = texts.DUPLICATE_ASK_NOTE.format(
        option=rtype.option_name, definition=rtype.definition, tag=TAG_DUPLICATE_ASKED
    )
    return Decision(
        rule=RULE_DUPLICATE,
        reason=texts.DUPLICATE_REASON,
        actions=(AddTags((TAG_DUPLICATE_ASKED,)), InternalNote(note)),
    )
