"""What rules see (a ticket snapshot, an event) and what they return (actions). Pure data, no I/O.

sync/ builds snapshots from Zendesk (custom status ids and custom field ids already resolved
to the machine values of mappings/), and turns a list of actions into one safe update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

# Event kinds the provisioned Zendesk triggers post (one trigger per kind). A Zendesk update
# that matches several conditions posts one event per matching trigger.
TICKET_CREATED = "ticket_created"
STATUS_CHANGED = "status_changed"
COMMENT_ADDED = "comment_added"
RESOLUTION_TYPE_CHANGED = "resolution_type_changed"
REQUESTER_CHANGED = "requester_changed"
FIELDS_CHANGED = "fields_changed"  # tags / Duplicate of / approval changed (agent feedback)
EVENT_KINDS = (
    TICKET_CREATED,
    STATUS_CHANGED,
    COMMENT_ADDED,
    RESOLUTION_TYPE_CHANGED,
    REQUESTER_CHANGED,
    FIELDS_CHANGED,
)

# Logical names of the custom ticket fields provisioning creates; sync maps them to field ids.
FIELD_RESOLUTION_TYPE = "resolution_type"  # tagger: machine value of mappings/resolution_types.toml
FIELD_PRODUCT = "product"  # tagger: machine value of mappings/products.toml
FIELD_DUPLICATE_OF = "duplicate_of"  # integer: ticket id
FIELD_AUTO_SOLVE_DUE = "auto_solve_due"  # date
FIELD_DATA_MAINTENANCE_APPROVED = "data_maintenance_approved"  # checkbox
FIELD_KEYS = (
    FIELD_RESOLUTION_TYPE,
    FIELD_PRODUCT,
    FIELD_DUPLICATE_OF,
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
)

# Checkbox fields that carry a tag while ticked (Zendesk adds/removes it with the box);
# provisioning creates the field with this tag (sync.provisioning reads it from here).
CHECKBOX_TAGS = {FIELD_DATA_MAINTENANCE_APPROVED: "mo_data_maintenance_approved"}

FieldValue = str | int | bool | date | None


def field_date(value: FieldValue) -> date | None:
    """A date field's value ("Auto-solve due") as a date; None when empty or not a date.
    Zendesk sends date fields as 'YYYY-MM-DD' (sync/ turns them into dates; tests and older
    callers may still hold the text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Comment:
    author_id: int
    public: bool
    created_at: datetime
    body: str = ""
    author_is_agent: bool = False
    via: str | None = None  # Zendesk's via.channel ("email", "web", "api"...), when known
    via_rel: str | None = None  # via.source.rel ("merge", "follow_up"...), when known
    # Zendesk's HTML of the comment, when read: its quote containers (Gmail's gmail_quote,
    # Outlook's divRplyFwdMsg) mark where quoted history starts, which the text rendering loses.
    html_body: str | None = None


@dataclass(frozen=True)
class TicketSnapshot:
    """A ticket as read from Zendesk at one moment; `updated_stamp` makes writes safe updates."""

    id: int
    status: str  # Zendesk category: new, open, pending, hold, solved, closed
    custom_status: str | None  # machine value from mappings/statuses.toml, None if unmapped
    updated_stamp: str  # the ticket's updated_at exactly as Zendesk sent it
    requester_id: int
    custom_status_id: int | None = None  # Zendesk's id, whether mapped or not
    # The custom status is neither in the mappings nor one of Zendesk's own generic statuses:
    # an admin added it in Zendesk; its meaning is unknown, so rules leave it alone (drift).
    foreign_status: bool = False
    subject: str = ""
    description: str = ""
    tags: frozenset[str] = frozenset()
    group: str | None = None  # Zendesk group name
    organization_id: int | None = None
    priority: str | None = None
    form_id: int | None = None
    created_at: datetime | None = None
    fields: dict[str, FieldValue] = field(default_factory=dict)  # FIELD_* -> value
    comments: tuple[Comment, ...] = ()  # only where the caller needs them
    collaborator_ids: tuple[int, ...] = ()

    def field(self, key: str) -> FieldValue:
        return self.fields.get(key)


@dataclass(frozen=True)
class TicketEvent:
    """One webhook event, as validated by webhooks/ (ids and times already coerced)."""

    kind: str
    ticket_id: int
    invocation_id: str
    actor_id: int | None = None
    by_service: bool = False  # the acting user is cxlayer's own API user (loop safety)
    occurred_at: datetime | None = None
    payload: dict[str, object] = field(default_factory=dict)


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetCustomStatus:
    value: str  # machine value from mappings/statuses.toml
    kind: Literal["set_custom_status"] = "set_custom_status"


@dataclass(frozen=True)
class SetField:
    key: str  # one of FIELD_KEYS
    value: FieldValue
    kind: Literal["set_field"] = "set_field"


@dataclass(frozen=True)
class AddTags:
    tags: tuple[str, ...]
    kind: Literal["add_tags"] = "add_tags"


@dataclass(frozen=True)
class RemoveTags:
    tags: tuple[str, ...]
    kind: Literal["remove_tags"] = "remove_tags"


@dataclass(frozen=True)
class InternalNote:
    """Plain words for agents: what changed and why. Every automated change carries one."""

    body: str
    kind: Literal["internal_note"] = "internal_note"


@dataclass(frozen=True)
class PublicComment:
    """Words for the requester (end-user wording)."""

    body: str
    kind: Literal["public_comment"] = "public_comment"


@dataclass(frozen=True)
class AssignGroup:
    team: str  # team key from mappings/teams.toml; sync resolves the Zendesk group id
    kind: Literal["assign_group"] = "assign_group"


Action = (
    SetCustomStatus | SetField | AddTags | RemoveTags | InternalNote | PublicComment | AssignGroup
)


@dataclass(frozen=True)
class Decision:
    """A rule's output: the actions and, for the audit trail, which rule and why."""

    rule: str
    reason: str
    actions: tuple[Action, ...]
    # Only tags that mirror a status or field: written when another write happens anyway,
    # never on its own (no API call, no note).
    bookkeeping: bool = False
