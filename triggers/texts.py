"""Every word the ticket rules show: public comments to requesters, internal notes to agents, reasons.

Templates are `str.format` strings; each names the resolution type, the rule and the support
guide's wording it applies, so an agent reading a note knows what changed and why.
"""

from __future__ import annotations

SIGNATURE = "Thank you,\nMediaocean Customer Experience"
# The guide's footnote on data maintenance types, quoted in notes.
GUIDE_DMA_FOOTNOTE = "*May require data maintenance approval from client."
NOT_SET = "not set"

# --- status mapping ------------------------------------------------------------------------

# Zendesk's names for its status categories, as agents see them.
CATEGORY_LABELS = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
    "closed": "Closed",
}
STATUS_REASON = "custom status did not agree with the Zendesk status category"
STATUS_TAGS_REASON = "mo_status_* tags did not match the custom status"
STATUS_GENERIC_REASON = (
    "Zendesk's generic status for the category: set to the support guide's status for it"
)
STATUS_WHY_OTHER_CATEGORY = "its status “{old_label}” belongs to the “{old_category}” category"
STATUS_SET_NOTE = (
    "Status set to “{label}” (requesters see “{end_user_label}”): the ticket is "
    "“{category}” and {why}. “{label}” is the support guide's status for “{category}” tickets."
)
STATUS_TAGS_REMOVED = " (removed {tags})"

# --- data maintenance approval -------------------------------------------------------------

DMA_REQUEST_REASON = "data maintenance type set without recorded approval: approval requested"
DMA_BLOCK_SOLVE_REASON = "solved while data maintenance approval is still missing"
DMA_RESEND_REASON = "approval was marked as requested but the request comment is missing"
DMA_APPROVED_REASON = "requester approved the data change"
DMA_TICKED_REASON = "agent ticked Data maintenance approved"
DMA_DECLINED_REASON = "requester's reply declines the data change"
DMA_UNCLEAR_REASON = "requester's reply does not clearly approve the data change"

# Public comment; DMA_REQUEST_MARKER must stay a substring of it (it is how the rule finds a
# request already posted).
DMA_REQUEST_MARKER = "we need your approval before we make this change"
DMA_REQUEST_PUBLIC = (
    "Hello,\n\n"
    "To resolve this request, Mediaocean needs to make a change to your data in the "
    "platform (“{type_name}”).\n\n"
    "Because this changes your data, " + DMA_REQUEST_MARKER + ". Please reply to this "
    "message with “I approve” to let us go ahead, or tell us if you do not want the change "
    "made.\n\n" + SIGNATURE
)
DMA_UNKNOWN_OPTION = "the data change"
DMA_SOLVE_BLOCKED = "The ticket was not solved: it can be solved once the approval is recorded. "
DMA_STATUS_SET = "Status set to “{status_label}”"
DMA_STATUS_KEPT = "Status stays “{status_label}”"
DMA_REQUEST_NOTE = (
    "Resolution type “{option}” requires the requester's data maintenance approval "
    "(support guide: “" + GUIDE_DMA_FOOTNOTE + "”) and none is recorded. {status}, tag "
    "mo_dma_requested added and the requester asked publicly to approve the change. "
    "{blocked}When the requester approves by reply it is recorded automatically; an approval "
    "given another way is recorded by ticking “Data maintenance approved”."
)
DMA_STILL_WAITING_NOTE = (
    "Not solved yet: resolution type “{option}” requires the requester's data maintenance "
    "approval and none is recorded (it was asked for; tag mo_dma_requested). Status set back "
    "to “{status_label}”. Tick “Data maintenance approved” once the requester has approved, "
    "then solve."
)
DMA_RESEND_NOTE = (
    "The request for the requester's approval of “{option}” was not among the ticket's public "
    "comments although tag mo_dma_requested is set (an earlier update was cut short), so it "
    "was posted now."
)
DMA_APPROVED_NOTE = (
    "The requester approved the data change for “{option}” in their reply of {when}. "
    "Recorded: “Data maintenance approved” ticked and tag mo_dma_approved added. The ticket "
    "may now be solved. The approval reads: “{sentence}”"
)
DMA_TICKED_NOTE = (
    "Data maintenance approval recorded: an agent ticked “Data maintenance approved”; tag "
    "mo_dma_approved added. The ticket may now be solved with “{option}”."
)
DMA_NOT_APPROVED_CLEARED_REASON = "approval recorded after a reply that did not approve"
DMA_NOT_APPROVED_CLEARED_NOTE = "Tag mo_dma_not_approved (from an earlier reply) removed."
DMA_DECLINED_NOTE = (
    "The requester's reply of {when} appears to decline the data change for “{option}”, so no "
    "approval was recorded and nothing was changed. Please read the reply and agree the next "
    "step with the requester; tag mo_dma_not_approved added. The reply reads: “{sentence}”"
)
# Why a reply that does not decline is still not approval (keys: triggers.approval kinds).
DMA_WHY_QUESTION = "it asks a question"
DMA_WHY_CONDITION = "it sets a condition"
DMA_WHY_DEFERRAL = "the requester will come back to it"
DMA_WHY_OTHERS_WORDS = "it reports someone else's words, not the requester's own approval"
DMA_WHY_HEDGE = "it is hesitant or qualified"
DMA_WHY_NEGATIVE = "it contains a negation"
DMA_UNCLEAR_WHY = {
    "question": DMA_WHY_QUESTION,
    "condition": DMA_WHY_CONDITION,
    "deferral": DMA_WHY_DEFERRAL,
    "others_words": DMA_WHY_OTHERS_WORDS,
    "hedge": DMA_WHY_HEDGE,
    "negative": DMA_WHY_NEGATIVE,
}
DMA_UNCLEAR_NOTE = (
    "The requester replied on {when}, but the reply does not clearly approve the data change "
    "for “{option}” ({why}), so no approval was recorded. Please read the reply: if it is an "
    "approval, tick “Data maintenance approved”. Tag mo_dma_not_approved added. The reply "
    "reads: “{sentence}”"
)
DMA_NO_APPROVAL_WORDING_NOTE = (
    "The requester replied on {when}, but no sentence of the reply approves the data change "
    "for “{option}” (such as “I approve”, “Yes, go ahead” or “Oui, allez-y”), so no approval "
    "was recorded. Please read the reply: if it is an approval, tick “Data maintenance "
    "approved”. Tag mo_dma_not_approved added."
)

# --- managed-by routing --------------------------------------------------------------------

ROUTED_REASON = "resolution type is handed to {team}"
MANAGED_REASON = "resolution type is managed by {managed_by}"
ROUTED_NOTE = (
    "Resolution type “{option}” is managed by {team}, so the ticket was assigned to the "
    "{group} group (tag {tag}). Support guide: “{definition}” The account manager will reach "
    "out to the requester."
)
ROUTED_ALREADY_NOTE = (
    "Resolution type “{option}” is managed by {team}; the ticket is already with the {group} "
    "group (tag {tag} added). Support guide: “{definition}” The account manager will reach "
    "out to the requester."
)
THIRD_PARTY_NOTE = (
    "Resolution type “{option}” is managed by a Third Party. Support guide: “{definition}” "
    "Mediaocean CX cannot make this change: make sure the requester knows which third-party "
    "system needs changing and that they (or the third party) carry the follow-up. Tag "
    "{tag} added."
)
CLIENT_NOTE = (
    "Resolution type “{option}” is managed by the Client. Support guide: “{definition}” The "
    "change is made on the client's side, not by Mediaocean CX: make sure the requester knows "
    "what to change. Tag {tag} added."
)
MANAGED_BY_LABELS = {"third_party": "Third Party", "client": "the Client"}

# --- product restriction -------------------------------------------------------------------

PRODUCT_REASON = "resolution type is not for this ticket's product"
PRODUCT_UNDO_NOTE = (
    "Resolution type “{option}” cleared: it is for use with {allowed} only (support guide: "
    "“{definition}”) and this ticket's product is {product}. {reopened}Choose another "
    "resolution type, or correct the Product field first."
)
REOPENED = (
    "The ticket had been solved with it, so it was reopened as “{status_label}”: a solved "
    "ticket needs a valid resolution type. "
)

# --- reserved types ------------------------------------------------------------------------

RESERVED_REASON = "resolution type reserved for automation was set by a person"
RESERVED_UNDO_NOTE = (
    "Resolution type “{option}” cleared: it is reserved for cxlayer's auto-solve (support "
    "guide: “{definition}”) and was set by a person. {reopened}Choose the resolution type that "
    "says how the ticket was resolved."
)
DUPLICATE_REASON = "Duplicate set without a Duplicate of ticket"
DUPLICATE_ASK_NOTE = (
    "Resolution type “{option}” is set but the “Duplicate of” field is empty. Please enter the "
    "number of the ticket this one duplicates (support guide: “{definition}”). Tag {tag} "
    "added so this reminder is posted only once."
)


def join_names(names: list[str]) -> str:
    """'Lumina', 'Lumina or Prod', 'Lumina, Prod or Finance'."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]
