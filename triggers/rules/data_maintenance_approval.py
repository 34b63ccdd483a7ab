"""Data maintenance approval: data changes marked "*May require data maintenance approval from
client" wait for the requester's recorded approval before the ticket may be solved.

Implements the guide's footnote on "Record added/changed (by Mediaocean CX/Implementation)",
"Record added/changed (by Account Management)" and "Defect › Data fix/patch"
(`requires_data_maintenance_approval` in mappings/resolution_types.toml), with the status
"Awaiting your reply: Mediaocean requires information or confirmation from the ticket requestor".

Approval is *recorded* when the "Data maintenance approved" field is ticked or the ticket has
tag mo_dma_approved (the tag is this rule's own record; unticking the field does not withdraw
an approval the requester gave by reply: remove the tag as well for that).

- A person sets such a type (or solves with it) without recorded approval, and approval has
  not been asked for: status "Awaiting your reply", tag mo_dma_requested, a public comment
  asking the requester to approve (naming the type) and a note. A solve is thereby undone.
- Asked already, still no approval, and the ticket is solved again: back to "Awaiting your
  reply" with a note (the requester is not asked twice).
- Asked already (tag set) but, on a comment_added event (comments are read for those), the
  request is missing from the ticket's comments: posted again.
  This repairs an update cut short between its first half (status, tag, note) and its second
  (the public comment), which sync/ sends separately because Zendesk takes one comment per update.
- The requester's public reply on a ticket tagged mo_dma_requested (only on comment_added
  events, and only when it is the latest public comment, so it answers our request) is read by
  `triggers.approval.classify`: only the new text (no quoted history, signature or footer), and
  *approval* needs an affirmative statement about the change ("I approve", "yes, go ahead",
  "oui, allez-y"); questions, conditions, deferrals, hedges, someone else's words and negated
  approvals never are. Approval ticks the field, adds tag mo_dma_approved and a note quoting
  the sentence it rests on. A refusal or an unclear reply records nothing: a note quoting the
  sentence (if any) asks the agent to read it, tag mo_dma_not_approved remembers that the note
  was written (one note until an approval arrives).
- An agent ticks the field: tag mo_dma_approved is added with a note.
Only the requester's own replies count; replies by CCs or other end users are left to agents.
"""

from __future__ import annotations

from datetime import datetime

from mappings.model import Mappings, Status
from triggers import texts
from triggers.approval import APPROVE, DECLINE, Verdict, classify
from triggers.autosolve import AWAITING_CUSTOMER_STATUS
from triggers.model import (
    COMMENT_ADDED,
    EVENT_KINDS,
    FIELD_DATA_MAINTENANCE_APPROVED,
    Action,
    AddTags,
    Decision,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import Router
from triggers.rules._common import SOLVED_CATEGORY, last_public_comment, resolution_type, when

RULE = "data_maintenance_approval"
TAG_REQUESTED = "mo_dma_requested"
TAG_APPROVED = "mo_dma_approved"
TAG_NOT_APPROVED = "mo_dma_not_approved"

router = Router()


def _not_approved_note(verdict: Verdict, option: str, moment: str) -> str:
    """The note for a reply that is not approval, quoting the sentence it rests on."""
    if verdict.answer == DECLINE:
        return texts.DMA_DECLINED_NOTE.format(option=option, when=moment, sentence=verdict.sentence)
    if verdict.sentence is None:
        return texts.DMA_NO_APPROVAL_WORDING_NOTE.format(option=option, when=moment)
    return texts.DMA_UNCLEAR_NOTE.format(
        option=option,
        when=moment,
        why=texts.DMA_UNCLEAR_WHY[verdict.why],
        sentence=verdict.sentence,
    )


def awaiting_status(mappings: Mappings) -> Status:
    """The guide's "Awaiting your reply" status, the pending category's default preferred."""
    candidates = sorted(
        mappings.statuses_for(AWAITING_CUSTOMER_STATUS),
        key=lambda s: (s.category != "pending", not s.category_default),
    )
    if not candidates:
        raise LookupError("mappings/statuses.toml has no “Awaiting your reply” status")
    return candidates[0]


def _has_request(snapshot: TicketSnapshot) -> bool | None:
    """Whether our request is among the comments; None when comments were not read (a Zendesk
    ticket always has at least its first comment, so none read means not fetched). Asked only
    on comment_added events, for which the router tells callers to read the comments."""
    if not snapshot.comments:
        return None
    return any(c.public and texts.DMA_REQUEST_MARKER in c.body for c in snapshot.comments)


@router.register(*EVENT_KINDS, needs_comments=(COMMENT_ADDED,))
def data_maintenance_approval(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """Ask for, wait for and record the requester's data maintenance approval."""
    rtype = resolution_type(snapshot, mappings)
    needs_approval = rtype is not None and rtype.requires_data_maintenance_approval
    option = rtype.option_name if rtype is not None else texts.DMA_UNKNOWN_OPTION
    ticked = snapshot.field(FIELD_DATA_MAINTENANCE_APPROVED) is True
    approved = ticked or TAG_APPROVED in snapshot.tags
    requested = TAG_REQUESTED in snapshot.tags
    actions: list[Action] = []
    notes: list[str] = []
    reasons: list[str] = []

    if ticked and TAG_APPROVED not in snapshot.tags and (requested or needs_approval):
        actions.append(AddTags((TAG_APPROVED,)))
        notes.append(texts.DMA_TICKED_NOTE.format(option=option))
        reasons.append(texts.DMA_TICKED_REASON)

    reply = last_public_comment(snapshot)
    if (
        event.kind == COMMENT_ADDED
        and requested
        and not approved
        and reply is not None
        and reply.author_id == snapshot.requester_id
        and not reply.author_is_agent
    ):
        # The HTML keeps the mail client's quote containers; the text rendering does not.
        verdict = classify(reply.html_body or reply.body)
        moment = when(reply.created_at)
        if verdict.answer == APPROVE:
            approved = True
            actions += [SetField(FIELD_DATA_MAINTENANCE_APPROVED, True), AddTags((TAG_APPROVED,))]
            notes.append(
                texts.DMA_APPROVED_NOTE.format(
                    option=option, when=moment, sentence=verdict.sentence
                )
            )
            reasons.append(texts.DMA_APPROVED_REASON)
        elif TAG_NOT_APPROVED not in snapshot.tags:
            actions.append(AddTags((TAG_NOT_APPROVED,)))
            notes.append(_not_approved_note(verdict, option, moment))
            reasons.append(
                texts.DMA_DECLINED_REASON if verdict.answer == DECLINE else texts.DMA_UNCLEAR_REASON
            )
    if approved and TAG_NOT_APPROVED in snapshot.tags:
        actions.append(RemoveTags((TAG_NOT_APPROVED,)))
        notes.append(texts.DMA_NOT_APPROVED_CLEARED_NOTE)
        reasons.append(texts.DMA_NOT_APPROVED_CLEARED_REASON)

    if needs_approval and not approved and rtype is not None:
        awaiting = awaiting_status(mappings)
        if not requested:
            blocked = texts.DMA_SOLVE_BLOCKED if snapshot.status == SOLVED_CATEGORY else ""
            status = texts.DMA_STATUS_KEPT
            if (snapshot.custom_status, snapshot.status) != (awaiting.value, awaiting.category):
                actions.append(SetCustomStatus(awaiting.value))
                status = texts.DMA_STATUS_SET
            actions += [
                AddTags((TAG_REQUESTED,)),
                PublicComment(texts.DMA_REQUEST_PUBLIC.format(type_name=rtype.name)),
            ]
            notes.append(
                texts.DMA_REQUEST_NOTE.format(
                    option=option,
                    status=status.format(status_label=awaiting.agent_label),
                    blocked=blocked,
                )
            )
            reasons.append(texts.DMA_REQUEST_REASON)
        else:
            if snapshot.status == SOLVED_CATEGORY:
                actions.append(SetCustomStatus(awaiting.value))
                notes.append(
                    texts.DMA_STILL_WAITING_NOTE.format(
                        option=option, status_label=awaiting.agent_label
                    )
                )
                reasons.append(texts.DMA_BLOCK_SOLVE_REASON)
            if event.kind == COMMENT_ADDED and _has_request(snapshot) is False:
                actions.append(PublicComment(texts.DMA_REQUEST_PUBLIC.format(type_name=rtype.name)))
                notes.append(texts.DMA_RESEND_NOTE.format(option=option))
                reasons.append(texts.DMA_RESEND_REASON)

    if not actions:
        return None
    actions.append(InternalNote(" ".join(notes)))
    return Decision(rule=RULE, reason="; ".join(reasons), actions=tuple(actions))
