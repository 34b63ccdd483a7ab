"""Zendesk's error bodies and messages, in one place so tests can assert against them."""

from __future__ import annotations

from typing import Any

UNAUTHORIZED = {"error": "Couldn't authenticate you"}
NOT_FOUND_DESCRIPTION = "Not found"
RECORD_INVALID_DESCRIPTION = "Record validation errors"
CLOSED_PREVENTS_UPDATE = "Status: closed prevents ticket update"
BACK_TO_NEW = "Status: cannot be set back to new"
UPDATE_CONFLICT_DESCRIPTION = (
    "Safe Update prevented the update due to outdated ticket data. "
    "Please fetch the latest ticket data and try again."
)
TOO_MANY_JOBS_DESCRIPTION = "Number of allowed queued or running background jobs exceeded (30)"
TOO_MANY_VALUES_DESCRIPTION = "A maximum of 100 items may be processed in one request"
SEARCH_LIMIT_DESCRIPTION = (
    "Invalid search: Requested response size was greater than Search Response Limits"
)
RATE_LIMITED_DESCRIPTION = "Number of allowed API requests per minute exceeded"
TICKET_RATE_LIMITED_DESCRIPTION = "Number of allowed updates to this ticket per 10 minutes exceeded"
TAG_IN_USE = "Tag {tag} is already in use by another field"


class ApiError(Exception):
    """An HTTP error answered with Zendesk's JSON error shape."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            out["description"] = self.description
        if self.details is not None:
            out["details"] = self.details
        return out


def not_found() -> ApiError:
    return ApiError(404, "RecordNotFound", NOT_FOUND_DESCRIPTION)


def invalid(field: str, description: str, error: str = "InvalidValue") -> ApiError:
    """Zendesk's 422 RecordInvalid with one field's detail."""
    return ApiError(
        422,
        "RecordInvalid",
        RECORD_INVALID_DESCRIPTION,
        {field: [{"description": description, "error": error}]},
    )


def bad_request(description: str) -> ApiError:
    return ApiError(400, "InvalidValue", description)
