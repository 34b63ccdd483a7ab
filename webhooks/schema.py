"""The JSON body the provisioned Zendesk triggers post, validated with marshmallow.

Trigger placeholders render as strings ("{{ticket.id}}" → "123", empty when unset), so ids
and times are coerced and empty strings mean "absent". Fields:

    event            one of triggers.model.EVENT_KINDS (others are stored as ignored)
    ticket_id        required for known kinds; 1 … 2^63-1
    current_user_id  who made the change (the actor); the service's own user → by_service
    status           {{ticket.status}}: a title ("Open", "On-hold"); stored as the category
                     (open, hold); an unfamiliar (e.g. localised) title is kept, lower-cased
    custom_status_id Zendesk custom status id
    updated_at       the ticket's updated_at (ISO 8601)
    requester_id     the requester's user id
    extras           optional object for anything else a trigger wants to pass

`event`, `ticket_id` and `current_user_id` decide what is done, so a value that does not fit
refuses the event (400, the field named). The others are informational (the worker reads the
ticket itself): one that does not parse is stored as absent, never a reason to refuse a
genuine event; the raw body keeps what was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
# Zendesk ids are 64-bit; the inbox stores them in BIGINT columns.
MAX_ID = 2**63 - 1


class ZendeskId(fields.Integer):
    """A Zendesk id: an integer (or its string) in 1 … 2^63-1, else "Not a valid id."."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's own class attribute
        "invalid": "Not a valid id (an integer from 1 to 2^63-1)."
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool | float):  # JSON true or 1.5 is not an id
            raise self.make_error("invalid")
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            # int() would also take "١" (Arabic-Indic one), "1_0" or " +1": Zendesk sends none.
            raise self.make_error("invalid")
        try:
            number = (
                int(value)
                if isinstance(value, str)
                else super()._deserialize(value, attr, data, **kwargs)
            )
        except (ValueError, TypeError, OverflowError, ValidationError):
            raise self.make_error("invalid") from None
        if not 1 <= number <= MAX_ID:
            raise self.make_error("invalid")
        return number


class Informational(fields.Field):
    """Wraps a field whose value is only informational: unusable → None, never an error."""

    def __init__(self, inner: fields.Field, **kwargs: Any) -> None:
        super().__init__(load_default=None, allow_none=True, **kwargs)
        self.inner = inner

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            result = self.inner.deserialize(value, attr, data, **kwargs)
            if isinstance(result, datetime):
                result = result.astimezone(UTC)  # may overflow near year 1 or 9999
        except (ValidationError, ValueError, TypeError, OverflowError):
            return None
        return result


class EventSchema(Schema):
    """One webhook body; unknown top-level keys are kept in the stored payload, not validated."""

    class Meta:
        unknown = EXCLUDE

    event = fields.String(required=True, validate=validate.Length(min=1, max=100))
    ticket_id = ZendeskId(load_default=None, allow_none=True)
    current_user_id = ZendeskId(load_default=None, allow_none=True)
    status = Informational(fields.String(validate=validate.Length(max=100)))
    custom_status_id = Informational(ZendeskId())
    updated_at = Informational(fields.AwareDateTime(default_timezone=UTC))
    requester_id = Informational(ZendeskId())
    extras = Informational(fields.Dict(keys=fields.String()))

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
        if isinstance(cleaned.get("status"), str) and len(cleaned["status"]) <= 100:
            title = cleaned["status"].lower()
            cleaned["status"] = _STATUS_TITLES.get(title, title)
        if cleaned.get("extras") is None:
            cleaned.pop("extras", None)
        return cleaned

    @validates_schema
    def _known_kinds_name_a_ticket(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("event") in EVENT_KINDS and data.get("ticket_id") is None:
            raise ValidationError("Missing data for required field.", "ticket_id")
