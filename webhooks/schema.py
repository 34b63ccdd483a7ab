"""The JSON body the provisioned Zendesk triggers post, validated with marshmallow.

Trigger placeholders render as strings ("{{ticket.id}}" → "123", empty when unset), so ids
and times are coerced and empty strings mean "absent". Fields:

    event            one of triggers.model.EVENT_KINDS (others are stored as ignored)
    ticket_id        required for known kinds
    status           {{ticket.status}}: a title ("Open", "On-hold"); stored as the category
                     (open, hold); an unfamiliar (e.g. localised) title is kept, lower-cased,
                     rather than refusing a genuine event over an informational field
    custom_status_id Zendesk custom status id
    updated_at       the ticket's updated_at (ISO 8601)
    requester_id     the requester's user id
    current_user_id  who made the change (the actor); the service's own user → by_service
    extras           optional object for anything else a trigger wants to pass
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from triggers.model import EVENT_KINDS

OPTIONAL_FIELDS = (
    "ticket_id",
    "status",
    "custom_status_id",
    "updated_at",
    "requester_id",
    "current_user_id",
    "extras",
)
STATUS_CATEGORIES = ("new", "open", "pending", "hold", "solved", "closed")
# Titles Zendesk renders for {{ticket.status}}, by category.
_STATUS_TITLES = {"on-hold": "hold", "on hold": "hold"}


class EventSchema(Schema):
    """One webhook body; unknown top-level keys are kept in the stored payload, not validated."""

    class Meta:
        unknown = EXCLUDE

    event = fields.String(required=True, validate=validate.Length(min=1, max=100))
    ticket_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    status = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    custom_status_id = fields.Integer(load_default=None, allow_none=True)
    updated_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC)
    requester_id = fields.Integer(load_default=None, allow_none=True)
    current_user_id = fields.Integer(load_default=None, allow_none=True)
    extras = fields.Dict(keys=fields.String(), load_default=dict)

    @pre_load
    def _empty_placeholders_are_absent(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data  # marshmallow reports the wrong type itself
        cleaned = dict(data)
        for name in OPTIONAL_FIELDS:
            value = cleaned.get(name)
            if isinstance(value, str):
                value = value.strip()
                cleaned[name] = value or None
        if isinstance(cleaned.get("status"), str):
            title = cleaned["status"].lower()
            cleaned["status"] = _STATUS_TITLES.get(title, title)
        if cleaned.get("extras") is None:
            cleaned.pop("extras", None)
        return cleaned

    @validates_schema
    def _known_kinds_name_a_ticket(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("event") in EVENT_KINDS and data.get("ticket_id") is None:
            raise ValidationError("Missing data for required field.", "ticket_id")
