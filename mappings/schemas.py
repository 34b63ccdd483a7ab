"""marshmallow schemas for the admin-edited TOML files; unknown keys are errors (typos fail loudly)."""

from __future__ import annotations

import re
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from mappings.model import CATEGORIES, CUSTOMER_STATUSES, MANAGED_BY, WEEKDAYS

MACHINE_VALUE = validate.Regexp(
    r"^[a-z][a-z0-9_]*$", error="must be lower-case letters, digits and underscores: {input!r}"
)
NON_EMPTY = validate.Length(min=1, error="must not be empty")
HOURS = re.compile(r"^(?P<h1>\d{2}):(?P<m1>\d{2})-(?P<h2>\d{2}):(?P<m2>\d{2})$")


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _unique(items: list[dict[str, Any]], key: str, list_name: str) -> None:
    seen: dict[str, int] = {}
    errors: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        value = item.get(key)
        if value in seen:
            errors[index] = {key: [f"duplicate {key} {value!r} (also {list_name}[{seen[value]}])"]}
        elif value is not None:
            seen[value] = index
    if errors:
        raise ValidationError({list_name: errors})


class StatusSchema(Strict):
    value = fields.String(required=True, validate=MACHINE_VALUE)
    customer_status = fields.String(required=True, validate=validate.OneOf(CUSTOMER_STATUSES))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    category_default = fields.Boolean(load_default=False)
    agent_label = fields.String(required=True, validate=NON_EMPTY)
    agent_description = fields.String(required=True, validate=NON_EMPTY)
    end_user_label = fields.String(required=True, validate=NON_EMPTY)
    end_user_description = fields.String(required=True, validate=NON_EMPTY)


class StatusesFileSchema(Strict):
    status = fields.List(fields.Nested(StatusSchema), required=True, validate=NON_EMPTY)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        statuses = data["status"]
        _unique(statuses, "value", "status")
        missing = [
            c for c in CUSTOMER_STATUSES if not any(s["customer_status"] == c for s in statuses)
        ]
        if missing:
            raise ValidationError({"status": [f"the guide's status(es) {missing} have no mapping"]})
        for category in sorted({s["category"] for s in statuses}):
            defaults = [
                s["value"] for s in statuses if s["category"] == category and s["category_default"]
            ]
            if len(defaults) != 1:
                raise ValidationError(
                    {
                        "status": [
                            f"category {category!r} needs exactly one category_default status, has {defaults}"
                        ]
                    }
                )


class TypeFields(Strict):
    value = fields.String(required=True, validate=MACHINE_VALUE)
    definition = fields.String(required=True, validate=NON_EMPTY)
    managed_by = fields.String(required=True, validate=validate.OneOf(MANAGED_BY))
    requires_data_maintenance_approval = fields.Boolean(load_default=False)
    products = fields.List(fields.String(validate=NON_EMPTY), load_default=list)
    assign_team = fields.String(load_default=None, validate=NON_EMPTY)
    reserved_for = fields.String(load_default=None, validate=validate.OneOf(["automation"]))


class TypeSchema(TypeFields):
    name = fields.String(required=True, validate=NON_EMPTY)


class GroupSchema(Strict):
    """A group lists types, or is itself a type (Technical, Duplicate): never both."""

    key = fields.String(required=True, validate=MACHINE_VALUE)
    name = fields.String(required=True, validate=NON_EMPTY)
    type = fields.List(fields.Nested(TypeSchema), load_default=list)
    value = fields.String(validate=MACHINE_VALUE)
    definition = fields.String(validate=NON_EMPTY)
    managed_by = fields.String(validate=validate.OneOf(MANAGED_BY))
    requires_data_maintenance_approval = fields.Boolean()
    products = fields.List(fields.String(validate=NON_EMPTY))
    assign_team = fields.String(validate=NON_EMPTY)
    reserved_for = fields.String(validate=validate.OneOf(["automation"]))

    @validates_schema
    def _leaf_or_branch(self, data: dict[str, Any], **_: Any) -> None:
        leaf_keys = set(TypeFields().fields) & set(data)
        if data["type"] and leaf_keys:
            raise ValidationError(
                f"group has [[group.type]] entries, so it cannot also set {sorted(leaf_keys)}"
            )
        if not data["type"]:
            missing = {"value", "definition", "managed_by"} - set(data)
            if missing:
                raise ValidationError(
                    {
                        k: ["required when the group has no [[group.type]] entries"]
                        for k in sorted(missing)
                    }
                )


class ResolutionTypesFileSchema(Strict):
    group = fields.List(fields.Nested(GroupSchema), required=True, validate=NON_EMPTY)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _unique(data["group"], "key", "group")
        _unique(data["group"], "name", "group")


class HolidaysSchema(Strict):
    country = fields.String(required=True)
    subdivision = fields.String(load_default=None)

    @validates_schema
    def _known(self, data: dict[str, Any], **_: Any) -> None:
        supported = holidays.list_supported_countries()
        country = data["country"]
        if country not in supported:
            raise ValidationError({"country": [f"unknown holiday country {country!r}"]})
        sub = data.get("subdivision")
        if sub and sub not in supported[country]:
            raise ValidationError(
                {
                    "subdivision": [
                        f"unknown subdivision {sub!r} of {country}; known: {supported[country]}"
                    ]
                }
            )


class CalendarDaySchema(Strict):
    """One admin correction to a team's calendar: a date and what it is called."""

    date = fields.Date(required=True)
    name = fields.String(required=True, validate=NON_EMPTY)


class TeamSchema(Strict):
    key = fields.String(required=True, validate=MACHINE_VALUE)
    name = fields.String(required=True, validate=NON_EMPTY)
    zendesk_group = fields.String(required=True, validate=NON_EMPTY)
    support = fields.Boolean(load_default=True)
    timezone = fields.String(required=True)
    days = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)), required=True, validate=NON_EMPTY
    )
    hours = fields.String(required=True)
    holidays = fields.Nested(HolidaysSchema, required=True)
    # Corrections admins make to the holiday calendar (issue 14): a company closure or a
    # regional substitute day the `holidays` package does not know; a working day it lists.
    closed = fields.List(fields.Nested(CalendarDaySchema), load_default=list)
    working = fields.List(fields.Nested(CalendarDaySchema), load_default=list)

    @validates_schema
    def _calendar(self, data: dict[str, Any], **_: Any) -> None:
        seen: dict[Any, str] = {}
        for kind in ("closed", "working"):
            for entry in data.get(kind) or ():
                day = entry["date"]
                if day in seen:
                    raise ValidationError(
                        {kind: [f"{day.isoformat()} is listed twice (also in {seen[day]})"]}
                    )
                seen[day] = kind

    @validates("timezone")
    def _timezone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {value!r}") from None

    @validates("hours")
    def _hours(self, value: str, **_: Any) -> None:
        parse_hours(value)


def parse_hours(value: str) -> tuple[time, time]:
    """'09:00-19:00' -> (09:00, 19:00); the range must be a real, non-empty time of day."""
    match = HOURS.match(value)
    if not match:
        raise ValidationError(f"hours must look like '09:00-17:00', got {value!r}")
    try:
        start = time(int(match["h1"]), int(match["m1"]))
        end = time(int(match["h2"]), int(match["m2"]))
    except ValueError:
        raise ValidationError(f"hours {value!r} is not a valid time range") from None
    if start >= end:
        raise ValidationError(f"hours {value!r} end before they start")
    return start, end


class TeamsFileSchema(Strict):
    default_team = fields.String(required=True)
    team = fields.List(fields.Nested(TeamSchema), required=True, validate=NON_EMPTY)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _unique(data["team"], "key", "team")
        _unique(data["team"], "zendesk_group", "team")
        if data["default_team"] not in {t["key"] for t in data["team"]}:
            raise ValidationError({"default_team": [f"unknown team {data['default_team']!r}"]})


class ProductSchema(Strict):
    key = fields.String(required=True, validate=MACHINE_VALUE)
    value = fields.String(required=True, validate=MACHINE_VALUE)
    name = fields.String(required=True, validate=NON_EMPTY)
    team = fields.String(required=True, validate=NON_EMPTY)


class ProductsFileSchema(Strict):
    product = fields.List(fields.Nested(ProductSchema), required=True, validate=NON_EMPTY)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _unique(data["product"], "key", "product")
        _unique(data["product"], "value", "product")
