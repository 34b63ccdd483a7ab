"""The Zendesk account the sandbox simulates: tickets, comments, audits, users, statuses, fields."""

from __future__ import annotations

import collections
import html
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from sandbox import errors
from sandbox.errors import ApiError
from sandbox.store import Store, iso, parse_iso

ADMIN_EMAIL = "admin@example.com"
API_TOKEN = "sandbox-token"
OAUTH_TOKEN = "sandbox-oauth-token"
SUBDOMAIN = "sandbox"

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
CATEGORIES = ("new", "open", "pending", "hold", "solved")
DEFAULT_STATUS_LABELS = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
}
PRIORITIES = (None, "urgent", "high", "normal", "low")
TYPES = (None, "problem", "incident", "question", "task")
ROLES = ("end-user", "agent", "admin")
AGENT_ROLES = ("agent", "admin")

# Ticket attributes a client may set directly; the rest are derived.
SIMPLE_ATTRS = ("subject", "external_id", "due_at")
ID_ATTRS = ("requester_id", "submitter_id", "assignee_id", "group_id", "organization_id")

VIA_API: dict[str, Any] = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}

TICKET_UPDATE_LIMIT = 30
TICKET_UPDATE_WINDOW = 600

# Zendesk's default automation "Close ticket 4 days after status is set to solved" (hours since
# solved > 96); see sandbox/README.md "Behaviour".
CLOSE_AFTER_SOLVED_SECONDS = 96 * 3600
# Statuses an end user's comment takes back to open (Zendesk: "the ticket is reopened when the
# requester or a CC replies"); see sandbox/README.md.
REOPENED_BY_END_USER = ("pending", "hold", "solved")

_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
}


class _TextRenderer(HTMLParser):
    """HTML → the plain text Zendesk stores in `body`/`plain_body`: tags dropped, entities
    decoded, block elements on their own lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The plain-text rendering of an HTML comment body (see _TextRenderer)."""
    renderer = _TextRenderer()
    renderer.feed(markup)
    renderer.close()
    lines = [" ".join(line.split()) for line in "".join(renderer.parts).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def normalise_tags(value: Any) -> list[str]:
    """Zendesk lowercases tags and splits them on whitespace; order kept, duplicates dropped."""
    if value is None:
        return []
    if not isinstance(value, (str, list)):
        raise errors.invalid("tags", "Tags: must be a list of strings")
    items = value.split() if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        for tag in str(item).lower().split():
            if tag not in out:
                out.append(tag)
    return out


INT_FIELDS = (
    "requester_id",
    "submitter_id",
    "assignee_id",
    "group_id",
    "organization_id",
    "custom_status_id",
    "problem_id",
)
ID_LIST_FIELDS = ("collaborator_ids", "email_cc_ids", "follower_ids")
TAG_FIELDS = ("tags", "additional_tags", "remove_tags")
TIME_FIELDS = ("created_at", "updated_at", "solved_at")
TEXT_FIELDS = ("subject", "status", "priority", "type", "external_id", "description", "due_at")


# The string attributes each kind of object accepts (checked by `check_text`).
USER_TEXT_KEYS = ("name", "email", "role", "phone", "notes", "details", "external_id", "time_zone")
ORGANIZATION_TEXT_KEYS = ("name", "details", "notes", "description", "external_id")
CUSTOM_STATUS_TEXT_KEYS = ("agent_label", "end_user_label", "description", "end_user_description")
FIELD_TEXT_KEYS = (
    "title",
    "description",
    "agent_description",
    "title_in_portal",
    "tag",
    "regexp_for_validation",
)


def check_text(data: dict[str, Any], *keys: str) -> None:
    """Optional string attributes (names, labels, emails...) must be strings when given."""
    for key in keys:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise errors.invalid(key, f"{key}: must be a string")


def _int_like(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isdigit()
    )


def _valid_time(value: Any) -> bool:
    try:
        parse_iso(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _check_comment(name: str, comment: Any) -> None:
    if isinstance(comment, str):
        return
    if not isinstance(comment, dict):
        raise errors.invalid(name, f"{name}: must be an object with a body")
    for key in ("body", "html_body", "value"):
        if comment.get(key) is not None and not isinstance(comment[key], str):
            raise errors.invalid(name, f"{name}: {key} must be a string")
    if comment.get("author_id") is not None and not _int_like(comment["author_id"]):
        raise errors.invalid(name, f"{name}: author_id must be a user id")
    if "public" in comment and not isinstance(comment["public"], bool):
        raise errors.invalid(name, f"{name}: public must be true or false")
    if comment.get("created_at") is not None and not _valid_time(comment["created_at"]):
        raise errors.invalid(name, f"{name}: created_at must be an ISO 8601 time")


def check_ticket_input(data: dict[str, Any]) -> None:
    """Types of everything a ticket create/update/import may carry, checked before any change,
    so bad input answers one clear 422 and leaves nothing half-done."""
    for name in INT_FIELDS:
        if data.get(name) is not None and not _int_like(data[name]):
            raise errors.invalid(name, f"{name}: {data[name]!r} is not a valid id")
    for name in ID_LIST_FIELDS:
        value = data.get(name)
        if value is not None and not (isinstance(value, list) and all(_int_like(x) for x in value)):
            raise errors.invalid(name, f"{name}: must be a list of user ids")
    for name in TAG_FIELDS:
        value = data.get(name)
        strings = isinstance(value, list) and all(isinstance(x, str) for x in value)
        if value is not None and not isinstance(value, str) and not strings:
            raise errors.invalid(name, f"{name}: must be a list of strings")
    for name in TEXT_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise errors.invalid(name, f"{name}: must be a string")
    for name in TIME_FIELDS:
        if data.get(name) is not None and not _valid_time(data[name]):
            raise errors.invalid(name, f"{name}: must be an ISO 8601 time")
    fields = data.get("custom_fields")
    if fields is not None and not (
        isinstance(fields, list)
        and all(isinstance(f, dict) and _int_like(f.get("id")) for f in fields)
    ):
        raise errors.invalid("custom_fields", "Custom fields: must be a list of {id, value}")
    if data.get("comment") is not None:
        _check_comment("comment", data["comment"])
    comments = data.get("comments")
    if comments is not None:
        if not isinstance(comments, list):
            raise errors.invalid("comments", "comments: must be a list")
        for item in comments:
            _check_comment("comments", item)
    ccs = data.get("email_ccs")
    if ccs is not None and not (isinstance(ccs, list) and all(isinstance(c, dict) for c in ccs)):
        raise errors.invalid("email_ccs", "Email CCs: must be a list of objects")
    if data.get("requester") is not None and not isinstance(data["requester"], dict):
        raise errors.invalid("requester", "requester: must be an object")


@dataclass
class Change:
    """What one create/update did to a ticket: trigger conditions and webhooks read this."""

    update_type: str  # "Create" or "Change"
    before: dict[str, Any] | None
    after: dict[str, Any]
    actor_id: int
    comment: dict[str, Any] | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    # Triggers that fired in this update (in order), when the trigger pass ran before storing.
    fired: list[dict[str, Any]] | None = None


class Account:
    """All account state and Zendesk's business rules. Thread-safe through the store's lock."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.listeners: list[Callable[[Change], None]] = []
        # Called with the update before it is stored; may change `change.after` (trigger
        # actions) and sets `change.fired`.
        self.before_store: list[Callable[[Change], None]] = []
        self.ticket_update_limit = TICKET_UPDATE_LIMIT
        self.ticket_update_window = TICKET_UPDATE_WINDOW
        self._ticket_updates: dict[int, collections.deque[int]] = {}
        self._limit_lock = threading.Lock()
        self._fields: list[dict[str, Any]] | None = None
        self.ensure_defaults()

    # ----------------------------------------------------------------- defaults
    def ensure_defaults(self) -> None:
        with self.store.tx():
            if self.store.user_by_email(ADMIN_EMAIL) is None:
                self.create_user(
                    {"name": "Sandbox Admin", "email": ADMIN_EMAIL, "role": "admin"},
                )
            if not self.store.all("custom_status"):
                for category in CATEGORIES:
                    self.create_custom_status(
                        {
                            "status_category": category,
                            "agent_label": DEFAULT_STATUS_LABELS[category],
                            "end_user_label": DEFAULT_STATUS_LABELS[category],
                        },
                        default=True,
                    )

    def admin(self) -> dict[str, Any]:
        user = self.store.user_by_email(ADMIN_EMAIL)
        if user is None:  # only if someone deleted it from the database by hand
            raise RuntimeError("the sandbox admin user is missing")
        return user

    # -------------------------------------------------------------------- users
    def create_user(self, data: dict[str, Any]) -> dict[str, Any]:
        check_text(data, *USER_TEXT_KEYS)
        name = data.get("name")
        if not name:
            raise errors.invalid("name", "Name: cannot be blank", "BlankValue")
        role = data.get("role") or "end-user"
        if role not in ROLES:
            raise errors.invalid("role", f"Role: {role} is not valid")
        email = data.get("email")
        with self.store.tx():
            if email and self.store.user_by_email(email) is not None:
                raise errors.invalid(
                    "email",
                    f"Email: {email} is already being used by another user",
                    "DuplicateValue",
                )
            now = iso(self.store.now())
            user_id = self.store.next_id("user")
            doc = {
                "id": user_id,
                "name": name,
                "email": email,
                "role": role,
                "role_type": None,
                "active": True,
                "verified": True,
                "suspended": False,
                "organization_id": data.get("organization_id"),
                "default_group_id": data.get("default_group_id"),
                "external_id": data.get("external_id"),
                "phone": data.get("phone"),
                "tags": normalise_tags(data.get("tags")),
                "time_zone": data.get("time_zone") or "Eastern Time (US & Canada)",
                "iana_time_zone": "America/New_York",
                "locale": "en-US",
                "locale_id": 1,
                "moderator": role in AGENT_ROLES,
                "only_private_comments": False,
                "restricted_agent": False,
                "shared": False,
                "shared_agent": False,
                "ticket_restriction": None if role in AGENT_ROLES else "requested",
                "two_factor_auth_enabled": False,
                "user_fields": data.get("user_fields") or {},
                "notes": data.get("notes") or "",
                "details": data.get("details") or "",
                "alias": "",
                "signature": None,
                "photo": None,
                "report_csv": False,
                "created_at": now,
                "updated_at": now,
                "last_login_at": None,
            }
            self.store.put_user(doc)
            for group_id in data.get("_group_ids") or []:
                self.add_group_membership(user_id, group_id)
        return doc

    def update_user(self, user_id: Any, data: dict[str, Any]) -> dict[str, Any]:
        check_text(data, *USER_TEXT_KEYS)
        with self.store.tx():
            user = self.store.get_user(user_id)
            if user is None:
                raise errors.not_found()
            for key in (
                "name",
                "email",
                "role",
                "organization_id",
                "default_group_id",
                "external_id",
                "phone",
                "notes",
                "details",
                "time_zone",
                "user_fields",
            ):
                if key in data:
                    user[key] = data[key]
            if user["role"] not in ROLES:
                raise errors.invalid("role", f"Role: {user['role']} is not valid")
            if "tags" in data:
                user["tags"] = normalise_tags(data["tags"])
            user["updated_at"] = iso(self.store.now())
            self.store.put_user(user)
        return user

    def user(self, user_id: Any) -> dict[str, Any]:
        user = self.store.get_user(user_id)
        if user is None:
            raise errors.not_found()
        return user

    # ----------------------------------------------------- organizations/groups
    def create_named(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        check_text(data, *ORGANIZATION_TEXT_KEYS)
        name = data.get("name")
        if not name:
            raise errors.invalid("name", "Name: cannot be blank", "BlankValue")
        with self.store.tx():
            if any(o["name"] == name for o in self.store.all(kind)):
                raise errors.invalid(
                    "name", f"Name: {name} has already been taken", "DuplicateValue"
                )
            now = iso(self.store.now())
            doc: dict[str, Any] = {"id": self.store.next_id(kind), "name": name}
            if kind == "organization":
                doc.update(
                    details=data.get("details"),
                    notes=data.get("notes"),
                    domain_names=list(data.get("domain_names") or []),
                    external_id=data.get("external_id"),
                    group_id=data.get("group_id"),
                    organization_fields=data.get("organization_fields") or {},
                    shared_comments=bool(data.get("shared_comments", False)),
                    shared_tickets=bool(data.get("shared_tickets", False)),
                    tags=normalise_tags(data.get("tags")),
                )
            else:
                doc.update(
                    description=data.get("description") or "",
                    default=False,
                    deleted=False,
                    is_public=bool(data.get("is_public", True)),
                )
            doc.update(created_at=now, updated_at=now)
            self.store.put(kind, doc)
        return doc

    def update_named(self, kind: str, obj_id: Any, data: dict[str, Any]) -> dict[str, Any]:
        check_text(data, *ORGANIZATION_TEXT_KEYS)
        with self.store.tx():
            doc = self.store.get(kind, obj_id)
            if doc is None:
                raise errors.not_found()
            for key, value in data.items():
                if key in doc and key not in ("id", "created_at", "updated_at", "url"):
                    doc[key] = normalise_tags(value) if key == "tags" else value
            doc["updated_at"] = iso(self.store.now())
            self.store.put(kind, doc)
        return doc

    def add_group_membership(self, user_id: int, group_id: int) -> dict[str, Any]:
        now = iso(self.store.now())
        doc = {
            "id": self.store.next_id("group_membership"),
            "user_id": user_id,
            "group_id": group_id,
            "default": False,
            "created_at": now,
            "updated_at": now,
        }
        self.store.put("group_membership", doc)
        return doc

    # ---------------------------------------------------------- custom statuses
    def create_custom_status(self, data: dict[str, Any], default: bool = False) -> dict[str, Any]:
        category = data.get("status_category")
        if category not in CATEGORIES:
            raise errors.invalid("status_category", f"Status category: {category} is not valid")
        check_text(data, *CUSTOM_STATUS_TEXT_KEYS)
        label = data.get("agent_label")
        if not label:
            raise errors.invalid("agent_label", "Agent label: cannot be blank", "BlankValue")
        with self.store.tx():
            for other in self.store.all("custom_status"):
                if other["agent_label"].lower() == str(label).lower():
                    raise errors.invalid(
                        "agent_label",
                        f"Agent label: {label} has already been taken",
                        "DuplicateValue",
                    )
            now = iso(self.store.now())
            doc = {
                "id": self.store.next_id("custom_status"),
                "status_category": category,
                "agent_label": label,
                "raw_agent_label": label,
                "end_user_label": data.get("end_user_label") or label,
                "raw_end_user_label": data.get("end_user_label") or label,
                "description": data.get("description") or "",
                "raw_description": data.get("description") or "",
                "end_user_description": data.get("end_user_description") or "",
                "raw_end_user_description": data.get("end_user_description") or "",
                "active": bool(data.get("active", True)),
                "default": default,
                "created_at": now,
                "updated_at": now,
            }
            self.store.put("custom_status", doc)
        return doc

    def update_custom_status(self, status_id: Any, data: dict[str, Any]) -> dict[str, Any]:
        check_text(data, *CUSTOM_STATUS_TEXT_KEYS)
        with self.store.tx():
            doc = self.store.get("custom_status", status_id)
            if doc is None:
                raise errors.not_found()
            if "status_category" in data and data["status_category"] != doc["status_category"]:
                raise errors.invalid("status_category", "Status category: cannot be changed")
            for key in ("agent_label", "end_user_label", "description", "end_user_description"):
                if key in data:
                    doc[key] = data[key]
                    doc["raw_" + key] = data[key]
            if "active" in data:
                if doc["default"] and not data["active"]:
                    raise errors.invalid("active", "Active: a default status cannot be deactivated")
                doc["active"] = bool(data["active"])
            doc["updated_at"] = iso(self.store.now())
            self.store.put("custom_status", doc)
        return doc

    def set_default_statuses(self, ids: Any) -> None:
        """PUT /custom_status/default: each listed status becomes its category's default (the
        previous default of that category stops being one). All or nothing."""
        if isinstance(ids, str):
            parts = [p.strip() for p in ids.split(",") if p.strip()]
        elif isinstance(ids, list):
            parts = [str(p) for p in ids]
        else:
            raise errors.invalid("ids", "Ids: must be a comma-separated list of status ids")
        if not parts:
            raise errors.invalid("ids", "Ids: cannot be blank", "BlankValue")
        with self.store.tx():
            chosen: dict[str, dict[str, Any]] = {}
            for part in parts:
                doc = self.store.get("custom_status", part) if part.isdigit() else None
                if doc is None:
                    raise errors.invalid("ids", f"Ids: custom status {part} does not exist")
                if not doc["active"]:
                    raise errors.invalid(
                        "ids", f"Ids: custom status {part} is inactive and cannot be a default"
                    )
                if doc["status_category"] in chosen:
                    raise errors.invalid(
                        "ids",
                        f"Ids: more than one default given for {doc['status_category']}",
                    )
                chosen[doc["status_category"]] = doc
            now = iso(self.store.now())
            for other in self.store.all("custom_status"):
                pick = chosen.get(other["status_category"])
                if pick is None:
                    continue
                flag = int(other["id"]) == int(pick["id"])
                if other["default"] != flag:
                    other["default"] = flag
                    other["updated_at"] = now
                    self.store.put("custom_status", other)

    def default_status_id(self, category: str) -> int | None:
        for doc in self.store.all("custom_status"):
            if doc["status_category"] == category and doc["default"]:
                return int(doc["id"])
        return None

    def custom_status(self, status_id: Any) -> dict[str, Any] | None:
        return self.store.get("custom_status", status_id)

    # ------------------------------------------------------------ ticket fields
    def ticket_fields(self) -> list[dict[str, Any]]:
        """All ticket fields; cached because every ticket answer lists every field's value.
        Callers must not modify the returned documents."""
        with self.store.lock:
            if self._fields is None:
                self._fields = self.store.all("ticket_field")
            return self._fields

    def delete_ticket_field(self, field_id: Any) -> None:
        with self.store.tx():
            if not self.store.delete("ticket_field", field_id):
                raise errors.not_found()
            self._fields = None

    def _check_tags_unique(self, field_id: int | None, tags: list[str]) -> None:
        seen: set[str] = set()
        for tag in tags:
            if tag in seen:
                raise errors.invalid("custom_field_options", errors.TAG_IN_USE.format(tag=tag))
            seen.add(tag)
        for other in self.ticket_fields():
            if other["id"] == field_id:
                continue
            used = {o["value"] for o in other.get("custom_field_options") or []}
            if other.get("tag"):
                used.add(other["tag"])
            for tag in tags:
                if tag in used:
                    raise errors.invalid("custom_field_options", errors.TAG_IN_USE.format(tag=tag))

    def _options(
        self, field_id: int | None, existing: list[dict[str, Any]], given: Any
    ) -> list[dict[str, Any]]:
        """Full-list replace, as Zendesk does: options left out are deleted; ids are kept for
        options matched by id or value."""
        if not isinstance(given, list):
            raise errors.invalid("custom_field_options", "Custom field options: must be a list")
        by_id = {o["id"]: o for o in existing}
        by_value = {o["value"]: o for o in existing}
        out: list[dict[str, Any]] = []
        for position, item in enumerate(given):
            if not isinstance(item, dict):
                raise errors.invalid(
                    "custom_field_options", "Custom field options: each must be an object"
                )
            name = item.get("name")
            value = item.get("value")
            if not name or not value:
                raise errors.invalid(
                    "custom_field_options",
                    "Custom field options: name and value are required",
                    "BlankValue",
                )
            value = str(value).strip().lower().replace(" ", "_")
            old = by_id.get(item.get("id")) or by_value.get(value)
            option_id = old["id"] if old else self.store.next_id("field_option")
            out.append(
                {
                    "id": option_id,
                    "name": name,
                    "raw_name": name,
                    "value": value,
                    "position": position,
                    "default": bool(item.get("default", False)),
                }
            )
        self._check_tags_unique(field_id, [o["value"] for o in out])
        return out

    def create_ticket_field(self, data: dict[str, Any]) -> dict[str, Any]:
        ftype = data.get("type")
        if ftype not in (
            "text",
            "textarea",
            "checkbox",
            "date",
            "integer",
            "decimal",
            "regexp",
            "tagger",
            "multiselect",
        ):
            raise errors.invalid("type", f"Type: {ftype} is not valid")
        check_text(data, *FIELD_TEXT_KEYS)
        title = data.get("title")
        if not title:
            raise errors.invalid("title", "Title: cannot be blank", "BlankValue")
        with self.store.tx():
            now = iso(self.store.now())
            field_id = self.store.next_id("ticket_field")
            doc: dict[str, Any] = {
                "id": field_id,
                "type": ftype,
                "title": title,
                "raw_title": title,
                "description": data.get("description") or "",
                "raw_description": data.get("description") or "",
                "agent_description": data.get("agent_description"),
                "position": data.get("position", 9999),
                "active": bool(data.get("active", True)),
                "required": bool(data.get("required", False)),
                "collapsed_for_agents": False,
                "regexp_for_validation": data.get("regexp_for_validation"),
                "title_in_portal": data.get("title_in_portal") or title,
                "raw_title_in_portal": data.get("title_in_portal") or title,
                "visible_in_portal": bool(data.get("visible_in_portal", False)),
                "editable_in_portal": bool(data.get("editable_in_portal", False)),
                "required_in_portal": bool(data.get("required_in_portal", False)),
                "tag": data.get("tag"),
                "removable": True,
                "agent_can_edit": True,
                "created_at": now,
                "updated_at": now,
            }
            if ftype in ("tagger", "multiselect"):
                doc["custom_field_options"] = self._options(
                    field_id, [], data.get("custom_field_options") or []
                )
            if doc["tag"]:
                self._check_tags_unique(field_id, [doc["tag"]])
            self.store.put("ticket_field", doc)
            self._fields = None
        return doc

    def update_ticket_field(self, field_id: Any, data: dict[str, Any]) -> dict[str, Any]:
        check_text(data, *FIELD_TEXT_KEYS)
        with self.store.tx():
            doc = self.store.get("ticket_field", field_id)
            if doc is None:
                raise errors.not_found()
            if "type" in data and data["type"] != doc["type"]:
                raise errors.invalid("type", "Type: cannot be changed")
            for key in (
                "title",
                "description",
                "agent_description",
                "position",
                "active",
                "required",
                "regexp_for_validation",
                "title_in_portal",
                "visible_in_portal",
                "editable_in_portal",
                "required_in_portal",
                "tag",
            ):
                if key in data:
                    doc[key] = data[key]
            doc["raw_title"] = doc["title"]
            doc["raw_description"] = doc["description"]
            if "custom_field_options" in data and doc["type"] in ("tagger", "multiselect"):
                doc["custom_field_options"] = self._options(
                    doc["id"], doc.get("custom_field_options") or [], data["custom_field_options"]
                )
            doc["updated_at"] = iso(self.store.now())
            self.store.put("ticket_field", doc)
            self._fields = None
        return doc

    # ------------------------------------------------------------------ tickets
    def present_ticket(self, doc: dict[str, Any], base_url: str) -> dict[str, Any]:
        """The ticket as Zendesk answers it: custom_fields for every custom field, url."""
        values = doc.get("_cf") or {}
        custom = [{"id": f["id"], "value": values.get(str(f["id"]))} for f in self.ticket_fields()]
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        out["url"] = f"{base_url}/api/v2/tickets/{doc['id']}.json"
        out["custom_fields"] = custom
        out["fields"] = custom
        return out

    def ticket(self, ticket_id: Any) -> dict[str, Any]:
        doc = self.store.get_ticket(ticket_id)
        if doc is None:
            raise errors.not_found()
        return doc

    def _check_user(self, field_name: str, user_id: Any) -> None:
        if user_id is not None and self.store.get_user(user_id) is None:
            raise errors.invalid(field_name, f"{field_name}: {user_id} is not a valid user")

    def _check_ref(self, field_name: str, kind: str, obj_id: Any) -> None:
        if obj_id is not None and self.store.get(kind, obj_id) is None:
            raise errors.invalid(field_name, f"{field_name}: {obj_id} is not valid")

    def _set_custom_fields(self, doc: dict[str, Any], given: Any) -> None:
        """Custom field values; tagger and checkbox fields keep their tags in step."""
        if not isinstance(given, list):
            raise errors.invalid("custom_fields", "Custom fields: must be a list of {id, value}")
        fields = {f["id"]: f for f in self.ticket_fields()}
        values: dict[str, Any] = doc.setdefault("_cf", {})
        tags: list[str] = doc.setdefault("tags", [])
        for item in given:
            try:
                field_id = int(item["id"])
            except (KeyError, TypeError, ValueError):
                raise errors.invalid(
                    "custom_fields", "Custom fields: each item needs an id"
                ) from None
            spec = fields.get(field_id)
            if spec is None:
                raise errors.invalid("custom_fields", f"Custom field {field_id} does not exist")
            value = item.get("value")
            old = values.get(str(field_id))
            if spec["type"] == "tagger":
                allowed = {o["value"] for o in spec.get("custom_field_options") or []}
                if value in ("", None):
                    value = None
                elif value not in allowed:
                    raise errors.invalid(
                        "custom_fields", f"{spec['title']}: {value} is not a valid option"
                    )
                if old and old in tags:
                    tags.remove(old)
                if value and value not in tags:
                    tags.append(value)
            elif spec["type"] == "multiselect":
                value = list(value or [])
                for tag in old or []:
                    if tag in tags:
                        tags.remove(tag)
                for tag in value:
                    if tag not in tags:
                        tags.append(tag)
            elif spec["type"] == "checkbox":
                value = bool(value)
                if spec.get("tag"):
                    if value and spec["tag"] not in tags:
                        tags.append(spec["tag"])
                    if not value and spec["tag"] in tags:
                        tags.remove(spec["tag"])
            values[str(field_id)] = value

    def apply_trigger_action(self, doc: dict[str, Any], name: str, value: Any) -> None:
        """One trigger action on a ticket about to be stored (Zendesk's trigger actions: status,
        custom status, priority, type, group, assignee, tags, custom fields). A value that is
        not valid for the ticket leaves it unchanged, as Zendesk skips such an action."""
        try:
            if name == "status":
                self._apply_status(doc, {"status": value})
            elif name in ("custom_status_id", "status_id"):
                self._apply_status(doc, {"custom_status_id": value})
            elif name == "priority" and value in PRIORITIES:
                doc["priority"] = value or None
            elif name == "type" and value in TYPES:
                doc["type"] = value or None
            elif name in ("group_id", "assignee_id"):
                target = None if value in ("", None) else int(value)
                if name == "group_id":
                    self._check_ref(name, "group", target)
                else:
                    self._check_user(name, target)
                doc[name] = target
            elif name in ("current_tags", "remove_tags", "set_tags"):
                tags = normalise_tags(value)
                if name == "current_tags":
                    doc["tags"] = normalise_tags(list(doc.get("tags") or []) + tags)
                elif name == "remove_tags":
                    doc["tags"] = [t for t in doc.get("tags") or [] if t not in set(tags)]
                else:
                    doc["tags"] = tags
                self._sync_fields_from_tags(doc)
            elif name.startswith("custom_fields_"):
                self._set_custom_fields(
                    doc, [{"id": name[len("custom_fields_") :], "value": value}]
                )
        except (ApiError, TypeError, ValueError):
            return

    def _sync_fields_from_tags(self, doc: dict[str, Any]) -> None:
        """Setting tags directly also sets the drop-down fields whose option tags they carry."""
        values: dict[str, Any] = doc.setdefault("_cf", {})
        tags = set(doc.get("tags") or [])
        for spec in self.ticket_fields():
            key = str(spec["id"])
            if spec["type"] == "tagger":
                match = [
                    o["value"] for o in spec.get("custom_field_options") or [] if o["value"] in tags
                ]
                values[key] = match[0] if match else None
            elif spec["type"] == "checkbox" and spec.get("tag"):
                values[key] = spec["tag"] in tags

    def _apply_status(self, doc: dict[str, Any], data: dict[str, Any]) -> bool:
        """status is the category of custom_status_id; setting one sets the other.
        Returns True when the client chose the status explicitly."""
        if "custom_status_id" in data and data["custom_status_id"] is not None:
            status = self.custom_status(data["custom_status_id"])
            if status is None or not status["active"]:
                raise errors.invalid(
                    "custom_status_id", f"Custom status: {data['custom_status_id']} is not valid"
                )
            doc["custom_status_id"] = status["id"]
            doc["status"] = status["status_category"]
            return True
        if data.get("status") is not None:
            status_name = data["status"]
            if status_name not in STATUSES:
                raise errors.invalid("status", f"Status: {status_name} is not valid")
            if status_name == "closed":
                # Closed has no custom statuses of its own: it keeps a Solved one.
                current = self.custom_status(doc.get("custom_status_id"))
                if current is None or current["status_category"] != "solved":
                    doc["custom_status_id"] = self.default_status_id("solved")
                doc["status"] = "closed"
                return True
            current = self.custom_status(doc.get("custom_status_id"))
            if current is None or current["status_category"] != status_name:
                doc["custom_status_id"] = self.default_status_id(status_name)
            doc["status"] = status_name
            return True
        return False

    def _new_comment(
        self, ticket_id: int, data: Any, actor_id: int, created_ts: int, audit_id: int
    ) -> dict[str, Any]:
        if isinstance(data, str):
            data = {"body": data}
        if not isinstance(data, dict):
            raise errors.invalid("comment", "Comment: must be an object")
        # Zendesk takes the text as `body` or `value` (imports), or HTML as `html_body`, whose
        # plain-text rendering becomes `body` and `plain_body`.
        markup = data.get("html_body")
        body = data.get("body") or data.get("value")
        if not body and markup:
            body = html_to_text(str(markup))
        body = str(body or "")
        if not body.strip():
            raise errors.invalid("comment", "Comment: cannot be blank", "BlankValue")
        author_id = data.get("author_id") or actor_id
        self._check_user("author_id", author_id)
        created = data.get("created_at")
        ts = parse_iso(created) if created else created_ts
        rendered = (
            str(markup)
            if markup
            else '<div class="zd-comment" dir="auto"><p dir="auto">'
            + html.escape(body).replace("\n", "<br>")
            + "</p></div>"
        )
        return {
            "id": self.store.next_id("comment"),
            "type": "Comment",
            "author_id": int(author_id),
            "body": body,
            "html_body": rendered,
            "plain_body": body,
            "public": bool(data.get("public", True)),
            "attachments": [],
            "audit_id": audit_id,
            "via": VIA_API,
            "metadata": {"system": {}, "custom": {}},
            "created_at": iso(ts),
            "_ticket_id": ticket_id,
        }

    def _check_ticket_rate(self, ticket_id: int) -> None:
        now = self.store.now()
        with self._limit_lock:
            recent = self._ticket_updates.setdefault(ticket_id, collections.deque())
            while recent and recent[0] <= now - self.ticket_update_window:
                recent.popleft()
            if len(recent) >= self.ticket_update_limit:
                retry = max(1, recent[0] + self.ticket_update_window - now)
                raise ApiError(
                    429,
                    "TooManyRequests",
                    errors.TICKET_RATE_LIMITED_DESCRIPTION,
                    headers={"Retry-After": str(retry)},
                )
            recent.append(now)

    def _audit(
        self,
        *,
        ticket: dict[str, Any],
        before: dict[str, Any] | None,
        comment: dict[str, Any] | None,
        actor_id: int,
        audit_id: int,
        ts: int,
    ) -> dict[str, Any]:
        events: list[dict[str, Any]] = []
        if comment is not None:
            events.append({k: v for k, v in comment.items() if not k.startswith("_")})
        tracked = (
            "status",
            "custom_status_id",
            "subject",
            "priority",
            "type",
            "requester_id",
            "assignee_id",
            "group_id",
            "organization_id",
            "tags",
        )
        for name in tracked:
            new = ticket.get(name)
            if before is None:
                if new not in (None, []):
                    events.append(
                        {
                            "id": self.store.next_id("event"),
                            "type": "Create",
                            "field_name": name,
                            "value": new,
                        }
                    )
            elif before.get(name) != new:
                events.append(
                    {
                        "id": self.store.next_id("event"),
                        "type": "Change",
                        "field_name": name,
                        "value": new,
                        "previous_value": before.get(name),
                    }
                )
        old_cf = (before or {}).get("_cf") or {}
        for key, value in (ticket.get("_cf") or {}).items():
            if old_cf.get(key) != value and not (before is None and value in (None, False, [])):
                event: dict[str, Any] = {
                    "id": self.store.next_id("event"),
                    "type": "Create" if before is None else "Change",
                    "field_name": key,
                    "value": value,
                }
                if before is not None:
                    event["previous_value"] = old_cf.get(key)
                events.append(event)
        return {
            "id": audit_id,
            "ticket_id": ticket["id"],
            "created_at": iso(ts),
            "author_id": actor_id,
            "metadata": {"system": {}, "custom": {}},
            "via": VIA_API,
            "events": events,
        }

    def _update_metrics(
        self,
        doc: dict[str, Any],
        before: dict[str, Any] | None,
        comment: dict[str, Any] | None,
        ts: int,
    ) -> None:
        m: dict[str, Any] = doc.setdefault("_m", {})
        now = iso(ts)
        m.setdefault("reopens", 0)
        m.setdefault("replies", 0)
        m.setdefault("group_stations", 1 if doc.get("group_id") else 0)
        m.setdefault("assignee_stations", 1 if doc.get("assignee_id") else 0)
        if before is None:
            m["status_updated_at"] = now
            m["custom_status_updated_at"] = now
            m["initially_assigned_at"] = now if doc.get("assignee_id") else None
            m["assigned_at"] = m["initially_assigned_at"]
            m["assignee_updated_at"] = None
            m["requester_updated_at"] = now
            m["latest_comment_added_at"] = now if comment else None
            m["solved_at"] = now if doc["status"] in ("solved", "closed") else None
            return
        if before["status"] != doc["status"]:
            m["status_updated_at"] = now
            if before["status"] in ("solved", "closed") and doc["status"] not in (
                "solved",
                "closed",
            ):
                m["reopens"] += 1
            if doc["status"] == "solved":
                m["solved_at"] = now
        if before.get("custom_status_id") != doc.get("custom_status_id"):
            m["custom_status_updated_at"] = now
        if before.get("assignee_id") != doc.get("assignee_id") and doc.get("assignee_id"):
            m["assignee_stations"] += 1
            m["assigned_at"] = now
            m["initially_assigned_at"] = m.get("initially_assigned_at") or now
        if before.get("group_id") != doc.get("group_id") and doc.get("group_id"):
            m["group_stations"] += 1
        if comment is not None:
            m["latest_comment_added_at"] = now
            author = self.store.get_user(comment["author_id"])
            if author and author["role"] in AGENT_ROLES:
                if comment["public"]:
                    m["replies"] += 1
                if doc.get("assignee_id") == author["id"]:
                    m["assignee_updated_at"] = now
            elif comment["author_id"] == doc.get("requester_id"):
                m["requester_updated_at"] = now

    def present_metrics(self, doc: dict[str, Any], base_url: str) -> dict[str, Any]:
        m = doc.get("_m") or {}
        created = parse_iso(doc["created_at"])
        solved = m.get("solved_at")
        minutes = (parse_iso(solved) - created) // 60 if solved else None
        span = {"calendar": minutes, "business": minutes}
        return {
            "id": doc["id"] + 9_500_000,
            "url": f"{base_url}/api/v2/ticket_metrics/{doc['id'] + 9_500_000}.json",
            "ticket_id": doc["id"],
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
            "group_stations": m.get("group_stations", 0),
            "assignee_stations": m.get("assignee_stations", 0),
            "reopens": m.get("reopens", 0),
            "replies": m.get("replies", 0),
            "assignee_updated_at": m.get("assignee_updated_at"),
            "requester_updated_at": m.get("requester_updated_at"),
            "status_updated_at": m.get("status_updated_at"),
            "custom_status_updated_at": m.get("custom_status_updated_at"),
            "initially_assigned_at": m.get("initially_assigned_at"),
            "assigned_at": m.get("assigned_at"),
            "solved_at": solved,
            "latest_comment_added_at": m.get("latest_comment_added_at"),
            "reply_time_in_minutes": {"calendar": None, "business": None},
            "reply_time_in_seconds": {"calendar": None},
            "first_resolution_time_in_minutes": span,
            "full_resolution_time_in_minutes": span,
            "agent_wait_time_in_minutes": {"calendar": None, "business": None},
            "requester_wait_time_in_minutes": {"calendar": None, "business": None},
            "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
        }

    def _notify(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    def create_ticket(
        self, data: dict[str, Any], actor_id: int, *, imported: bool = False
    ) -> Change:
        """POST /tickets and /imports/tickets. Imports keep given times and fire no triggers."""
        if not isinstance(data, dict):
            raise errors.bad_request("ticket must be an object")
        check_ticket_input(data)
        actor = self.user(actor_id)
        with self.store.tx():
            now = self.store.now()
            created_ts = (
                parse_iso(data["created_at"]) if imported and data.get("created_at") else now
            )
            updated_ts = (
                parse_iso(data["updated_at"]) if imported and data.get("updated_at") else created_ts
            )
            requester_id = data.get("requester_id")
            if requester_id is None and isinstance(data.get("requester"), dict):
                requester_id = self._requester_from(data["requester"])
            if requester_id is None:
                requester_id = actor_id
            self._check_user("requester_id", requester_id)
            for name in ("submitter_id", "assignee_id"):
                self._check_user(name, data.get(name))
            self._check_ref("group_id", "group", data.get("group_id"))
            self._check_ref("organization_id", "organization", data.get("organization_id"))
            if data.get("priority") not in PRIORITIES:
                raise errors.invalid("priority", f"Priority: {data['priority']} is not valid")
            if data.get("type") not in TYPES:
                raise errors.invalid("type", f"Type: {data['type']} is not valid")
            requester = self.user(requester_id)
            ticket_id = self.store.next_id("ticket")
            audit_id = self.store.next_id("audit")
            comments: list[dict[str, Any]] = []
            if imported:
                for item in data.get("comments") or []:
                    comments.append(
                        self._new_comment(ticket_id, item, requester_id, created_ts, audit_id)
                    )
                if not comments and data.get("description"):
                    comments.append(
                        self._new_comment(
                            ticket_id,
                            {"body": data["description"]},
                            requester_id,
                            created_ts,
                            audit_id,
                        )
                    )
            else:
                given = data.get("comment")
                if given is None and data.get("description"):
                    given = {"body": data["description"]}
                if given is None:
                    raise errors.invalid(
                        "description", "Description: cannot be blank", "BlankValue"
                    )
                comments.append(
                    self._new_comment(ticket_id, given, requester_id, created_ts, audit_id)
                )
            doc: dict[str, Any] = {
                "id": ticket_id,
                "external_id": data.get("external_id"),
                "via": VIA_API,
                "created_at": iso(created_ts),
                "updated_at": iso(updated_ts),
                "generated_timestamp": updated_ts,
                "type": data.get("type"),
                "subject": data.get("subject") or (comments[0]["body"][:80] if comments else ""),
                "raw_subject": data.get("subject")
                or (comments[0]["body"][:80] if comments else ""),
                "description": comments[0]["body"] if comments else "",
                "priority": data.get("priority"),
                "status": "new",
                "recipient": None,
                "requester_id": int(requester_id),
                "submitter_id": int(data.get("submitter_id") or actor_id),
                "assignee_id": data.get("assignee_id"),
                "organization_id": data.get("organization_id", requester.get("organization_id")),
                "group_id": data.get("group_id"),
                "collaborator_ids": [
                    int(x) for x in data.get("collaborator_ids") or data.get("email_cc_ids") or []
                ],
                "follower_ids": [int(x) for x in data.get("follower_ids") or []],
                "email_cc_ids": [
                    int(x) for x in data.get("email_cc_ids") or data.get("collaborator_ids") or []
                ],
                "forum_topic_id": None,
                "problem_id": data.get("problem_id"),
                "has_incidents": False,
                "is_public": any(c["public"] for c in comments),
                "due_at": data.get("due_at"),
                "tags": normalise_tags(data.get("tags")),
                "satisfaction_rating": None,
                "sharing_agreement_ids": [],
                "custom_status_id": self.default_status_id("new"),
                "followup_ids": [],
                "ticket_form_id": None,
                "brand_id": None,
                "allow_channelback": False,
                "allow_attachments": True,
                "from_messaging_channel": False,
                "_cf": {},
            }
            for user_field in ("collaborator_ids", "email_cc_ids", "follower_ids"):
                for uid in doc[user_field]:
                    self._check_user(user_field, uid)
            if data.get("custom_fields"):
                self._set_custom_fields(doc, data["custom_fields"])
            else:
                self._sync_fields_from_tags(doc)
            explicit = self._apply_status(doc, data)
            if not explicit and doc.get("assignee_id"):
                doc["status"] = "open"
                doc["custom_status_id"] = self.default_status_id("open")
            if (
                doc["status"] in ("solved", "closed")
                and not doc.get("assignee_id")
                and actor["role"] in AGENT_ROLES
            ):
                doc["assignee_id"] = actor_id
            pending = Change("Create", None, doc, actor_id, comments[0] if comments else None)
            if not imported:  # imports run no triggers
                for hook in self.before_store:
                    hook(pending)
            self._update_metrics(doc, None, comments[0] if comments else None, created_ts)
            if imported and data.get("solved_at"):
                doc["_m"]["solved_at"] = iso(parse_iso(data["solved_at"]))
            if imported:
                last = max([parse_iso(c["created_at"]) for c in comments] + [updated_ts])
                doc["updated_at"] = iso(last)
                doc["generated_timestamp"] = last
            self.store.put_ticket(doc)
            for comment in comments:
                self.store.add_comment(
                    {k: v for k, v in comment.items() if not k.startswith("_")}, ticket_id
                )
            audit = self._audit(
                ticket=doc,
                before=None,
                comment=comments[0] if comments else None,
                actor_id=actor_id,
                audit_id=audit_id,
                ts=created_ts,
            )
            self.store.add_audit(audit)
            if imported:
                # One audit per later comment so the event stream tells who spoke when.
                for comment in comments[1:]:
                    later = {
                        "id": self.store.next_id("audit"),
                        "ticket_id": ticket_id,
                        "created_at": comment["created_at"],
                        "author_id": comment["author_id"],
                        "metadata": {"system": {}, "custom": {}},
                        "via": VIA_API,
                        "events": [{k: v for k, v in comment.items() if not k.startswith("_")}],
                    }
                    self.store.add_audit(later)
        change = Change(
            "Create", None, doc, actor_id, comments[0] if comments else None, audit, pending.fired
        )
        if not imported:
            self._notify(change)
        return change

    def _email_ccs(self, current: list[int], changes: Any) -> list[int]:
        """Zendesk's `email_ccs: [{user_id | user_email, action: put | delete}]` update form."""
        if not isinstance(changes, list):
            raise errors.invalid("email_ccs", "Email CCs: must be a list")
        out = list(current)
        for item in changes:
            if not isinstance(item, dict):
                raise errors.invalid("email_ccs", "Email CCs: each item must be an object")
            user_id = item.get("user_id")
            if user_id is None and item.get("user_email"):
                user_id = self._requester_from(
                    {"email": item["user_email"], "name": item.get("user_name")}
                )
            self._check_user("email_ccs", user_id)
            if user_id is None:
                raise errors.invalid("email_ccs", "Email CCs: user_id or user_email is required")
            user_id = int(user_id)
            if item.get("action", "put") == "delete":
                out = [u for u in out if u != user_id]
            elif user_id not in out:
                out.append(user_id)
        return out

    def _requester_from(self, spec: dict[str, Any]) -> int:
        email = spec.get("email")
        if email:
            found = self.store.user_by_email(email)
            if found:
                return int(found["id"])
        return int(
            self.create_user({"name": spec.get("name") or email or "Requester", "email": email})[
                "id"
            ]
        )

    def update_ticket(self, ticket_id: Any, data: dict[str, Any], actor_id: int) -> Change:
        """PUT /tickets/{id}: one update, one audit, Zendesk's status rules."""
        if not isinstance(data, dict):
            raise errors.bad_request("ticket must be an object")
        check_ticket_input(data)
        actor = self.user(actor_id)
        with self.store.tx():
            current = self.ticket(ticket_id)
            if current["status"] == "closed":
                raise errors.invalid("status", errors.CLOSED_PREVENTS_UPDATE, "ClosedTicket")
            if data.get("safe_update") and data.get("updated_stamp") != current["updated_at"]:
                raise ApiError(409, "UpdateConflict", errors.UPDATE_CONFLICT_DESCRIPTION)
            before = current
            doc = {
                **current,
                "_cf": dict(current.get("_cf") or {}),
                "_m": dict(current.get("_m") or {}),
            }
            doc["tags"] = list(current.get("tags") or [])
            for name in SIMPLE_ATTRS:
                if name in data:
                    doc[name] = data[name]
            if "subject" in data:
                doc["raw_subject"] = data["subject"]
            if "priority" in data:
                if data["priority"] not in PRIORITIES:
                    raise errors.invalid("priority", f"Priority: {data['priority']} is not valid")
                doc["priority"] = data["priority"]
            if "type" in data:
                if data["type"] not in TYPES:
                    raise errors.invalid("type", f"Type: {data['type']} is not valid")
                doc["type"] = data["type"]
            for name in ID_ATTRS:
                if name in data:
                    if name in ("group_id", "organization_id"):
                        self._check_ref(name, name[:-3], data[name])
                    else:
                        self._check_user(name, data[name])
                    doc[name] = int(data[name]) if data[name] is not None else None
            for name in ("collaborator_ids", "email_cc_ids", "follower_ids"):
                if name in data:
                    for uid in data[name] or []:
                        self._check_user(name, uid)
                    doc[name] = [int(x) for x in data[name] or []]
            if "email_ccs" in data:
                doc["email_cc_ids"] = self._email_ccs(doc["email_cc_ids"], data["email_ccs"])
                doc["collaborator_ids"] = list(doc["email_cc_ids"])
            if "tags" in data:
                doc["tags"] = normalise_tags(data["tags"])
                self._sync_fields_from_tags(doc)
            if "additional_tags" in data:
                doc["tags"] = normalise_tags(doc["tags"] + normalise_tags(data["additional_tags"]))
                self._sync_fields_from_tags(doc)
            if "remove_tags" in data:
                gone = set(normalise_tags(data["remove_tags"]))
                doc["tags"] = [t for t in doc["tags"] if t not in gone]
                self._sync_fields_from_tags(doc)
            if "custom_fields" in data:
                self._set_custom_fields(doc, data["custom_fields"])
            explicit = self._apply_status(doc, data)
            if doc["status"] == "new" and current["status"] != "new":
                raise errors.invalid("status", errors.BACK_TO_NEW)
            now = self.store.now()
            # Distinct updated_at per update so `updated_stamp` always detects a conflict,
            # even for two updates within one second (Zendesk's resolution is one second).
            ts = max(now, parse_iso(current["updated_at"]) + 1)
            audit_id = self.store.next_id("audit")
            comment = None
            if data.get("comment") is not None:
                comment = self._new_comment(
                    int(current["id"]), data["comment"], actor_id, ts, audit_id
                )
                comment["created_at"] = iso(ts)
                author = self.user(comment["author_id"])
                if (
                    not explicit
                    and author["role"] == "end-user"
                    and doc["status"] in REOPENED_BY_END_USER
                ):
                    # Zendesk: an end user's comment (requester, CC or follower; public or
                    # private, e.g. a CC's e-mail reply) reopens a pending, on-hold or solved
                    # ticket.
                    self._apply_status(doc, {"status": "open"})
                if comment["public"]:
                    doc["is_public"] = True
            updater = self.user(comment["author_id"]) if comment is not None else actor
            if (
                not explicit
                and doc["status"] == "new"
                and (updater["role"] in AGENT_ROLES or doc.get("assignee_id"))
            ):
                # Zendesk: an agent's update (a comment, a field, a tag) takes a New ticket to
                # Open unless the update sets the status itself; so does an assignee.
                self._apply_status(doc, {"status": "open"})
            pending = Change("Change", before, doc, actor_id, comment)
            for hook in self.before_store:
                hook(pending)
            if doc["status"] in ("solved", "closed") and not doc.get("assignee_id"):
                if actor["role"] in AGENT_ROLES:
                    doc["assignee_id"] = actor_id
                else:
                    raise errors.invalid(
                        "assignee_id", "Assignee: is required when solving a ticket"
                    )
            # Counted only once the update is known to be valid, just before it is stored.
            self._check_ticket_rate(int(current["id"]))
            doc["updated_at"] = iso(ts)
            doc["generated_timestamp"] = ts
            self._update_metrics(doc, before, comment, ts)
            self.store.put_ticket(doc)
            if comment is not None:
                self.store.add_comment(
                    {k: v for k, v in comment.items() if not k.startswith("_")}, int(doc["id"])
                )
            audit = self._audit(
                ticket=doc,
                before=before,
                comment=comment,
                actor_id=actor_id,
                audit_id=audit_id,
                ts=ts,
            )
            self.store.add_audit(audit)
        change = Change("Change", before, doc, actor_id, comment, audit, pending.fired)
        self._notify(change)
        return change

    def close_solved(self) -> list[int]:
        """Zendesk's default automation: a ticket solved more than CLOSE_AFTER_SOLVED_SECONDS
        ago (sandbox clock) becomes closed; closed tickets then refuse updates. Automations run
        hourly in Zendesk; the sandbox runs this on requests (at most once a sandbox minute) and
        whenever the clock is moved. Returns the ids it closed."""
        closed: list[int] = []
        with self.store.tx() as db:
            rows = db.execute("SELECT doc FROM tickets WHERE status = 'solved'").fetchall()
            due = self.store.now() - CLOSE_AFTER_SOLVED_SECONDS
            for row in rows:
                doc = json.loads(row["doc"])
                solved_at = (doc.get("_m") or {}).get("solved_at")
                if solved_at and parse_iso(solved_at) <= due:
                    closed.append(int(doc["id"]))
            for ticket_id in closed:
                self.update_ticket(ticket_id, {"status": "closed"}, int(self.admin()["id"]))
        return closed

    def merge(self, target_id: Any, data: dict[str, Any], actor_id: int) -> dict[str, Any]:
        """Merge source tickets into the target: sources get a comment and are closed."""
        source_ids = data.get("ids") or []
        if not source_ids:
            raise errors.invalid("ids", "Ids: at least one source ticket is required")
        with self.store.tx():
            target = self.ticket(target_id)
            for source_id in source_ids:
                source = self.ticket(source_id)
                if source["status"] == "closed":
                    raise errors.invalid("ids", errors.CLOSED_PREVENTS_UPDATE, "ClosedTicket")
                if int(source_id) == int(target["id"]):
                    raise errors.invalid("ids", "Ids: a ticket cannot be merged into itself")
            target_comment = data.get("target_comment") or (
                "Requests "
                + ", ".join(f"#{i}" for i in source_ids)
                + " were closed and merged into this request."
            )
            self.update_ticket(
                target["id"],
                {
                    "comment": {
                        "body": target_comment,
                        "public": bool(data.get("target_comment_is_public", False)),
                    }
                },
                actor_id,
            )
            for source_id in source_ids:
                body = (
                    data.get("source_comment")
                    or f"This request was closed and merged into request #{target['id']}."
                )
                self.update_ticket(
                    source_id,
                    {
                        "status": "closed",
                        "additional_tags": ["closed_by_merge"],
                        "comment": {
                            "body": body,
                            "public": bool(data.get("source_comment_is_public", False)),
                        },
                    },
                    actor_id,
                )
        return self.ticket(target["id"])
