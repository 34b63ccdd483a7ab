"""Tickets as rules see them, and rules' actions back to Zendesk as safe updates.

`read_snapshot` resolves Zendesk ids (custom status, custom fields, group) to the machine
values of mappings/ with the ids provisioning recorded. `apply_actions` turns actions into one
safe update. Zendesk takes one comment per update, so when both a public comment and internal
notes are needed, the first update carries every field change plus the internal note (the
explanation is recorded with the change it explains) and a second safe update, stamped with
the first one's answer, posts the public comment. If someone changes the ticket between the
two, the comment (which was decided with the first update and does not depend on the ticket's
fields) is sent again on the new stamp, a few times; only then `TicketConflict(
after_first_update=True)` is raised. A conflict on the first update changes nothing: the
caller re-reads and re-decides (rules reach a fixed point).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from mappings import Mappings
from sync.http import TicketConflict, ZendeskError
from sync.state import PROVISIONED, StateStore
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
    FIELD_DUPLICATE_OF,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    Action,
    AddTags,
    AssignGroup,
    Comment,
    FieldValue,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketSnapshot,
)


class TicketAPI(Protocol):
    """What this module needs of `sync.client.ZendeskClient` (named here so that the client,
    which offers `read_snapshot`/`apply_actions` as methods, and this module do not import
    each other)."""

    state: StateStore

    def ticket(self, ticket_id: int) -> dict[str, Any]: ...
    def groups(self, refresh: bool = False) -> list[dict[str, Any]]: ...
    def comments(self, ticket_id: int) -> list[dict[str, Any]]: ...
    def users(self, user_ids: Iterable[int]) -> list[dict[str, Any]]: ...
    def comments_with_authors(
        self, ticket_id: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...
    def in_parallel(self, *reads: Callable[[], Any]) -> list[Any]: ...
    def update_ticket(
        self, snapshot_stamp: str, ticket_id: int, changes: Mapping[str, Any]
    ) -> dict[str, Any]: ...


TAGGER_FIELDS = (FIELD_RESOLUTION_TYPE, FIELD_PRODUCT)
NOTE_SEPARATOR = "\n\n"
FOLLOW_UP_ATTEMPTS = 3  # tries for the public comment that follows a first update


class NotProvisioned(ZendeskError):
    """The account lacks something provisioning creates; run `flask --app app zendesk apply`."""


@dataclass(frozen=True)
class Provisioned:
    """Ids provisioning recorded: mappings value/key → Zendesk id."""

    custom_statuses: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    checkbox_tags: dict[str, str] = field(default_factory=dict)
    system_statuses: dict[str, int] = field(default_factory=dict)  # category → Zendesk's own

    @classmethod
    def load(cls, client: TicketAPI) -> Provisioned:
        raw = client.state.get(PROVISIONED) or {}
        return cls(
            custom_statuses={k: int(v) for k, v in (raw.get("custom_statuses") or {}).items()},
            fields={k: int(v) for k, v in (raw.get("fields") or {}).items()},
            groups={k: int(v) for k, v in (raw.get("groups") or {}).items()},
            checkbox_tags=dict(raw.get("checkbox_tags") or {}),
            system_statuses={k: int(v) for k, v in (raw.get("system_statuses") or {}).items()},
        )

    def status_id(self, value: str) -> int:
        try:
            return self.custom_statuses[value]
        except KeyError:
            raise NotProvisioned(f"custom status {value!r} is not provisioned") from None

    def field_id(self, key: str) -> int:
        try:
            return self.fields[key]
        except KeyError:
            raise NotProvisioned(f"ticket field {key!r} is not provisioned") from None


@dataclass
class ApplyResult:
    ticket_id: int
    updates: list[dict[str, Any]]  # the payloads sent, in order (without safe-update keys)
    ticket: dict[str, Any] | None = None  # the ticket after the last update
    updated_stamp: str | None = None


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _field_value(key: str, raw: Any) -> FieldValue:
    if raw is None or raw == "":
        return False if key == FIELD_DATA_MAINTENANCE_APPROVED else None
    if key == FIELD_DUPLICATE_OF:
        return int(raw)
    if key == FIELD_AUTO_SOLVE_DUE:
        return date.fromisoformat(str(raw)[:10])
    if key == FIELD_DATA_MAINTENANCE_APPROVED:
        return bool(raw)
    return str(raw)


def _zendesk_value(value: FieldValue) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _foreign(status_id: Any, provisioned: Provisioned) -> bool:
    """Neither a mapped status nor Zendesk's own (known once provisioning recorded them)."""
    if status_id is None or not provisioned.system_statuses:
        return False
    known = set(provisioned.custom_statuses.values()) | set(provisioned.system_statuses.values())
    return int(status_id) not in known


def snapshot_from_ticket(
    raw: Mapping[str, Any],
    provisioned: Provisioned,
    group_names: Mapping[int, str],
    comments: Sequence[Comment] = (),
) -> TicketSnapshot:
    """A snapshot from a Zendesk ticket body; unmapped ids stay None."""
    status_values = {v: k for k, v in provisioned.custom_statuses.items()}
    field_keys = {v: k for k, v in provisioned.fields.items()}
    fields: dict[str, FieldValue] = {}
    for item in raw.get("custom_fields") or []:
        key = field_keys.get(int(item["id"]))
        if key is not None:
            fields[key] = _field_value(key, item.get("value"))
    group_id = raw.get("group_id")
    return TicketSnapshot(
        id=int(raw["id"]),
        status=str(raw["status"]),
        custom_status=status_values.get(int(raw["custom_status_id"]))
        if raw.get("custom_status_id") is not None
        else None,
        updated_stamp=str(raw["updated_at"]),
        requester_id=int(raw["requester_id"]),
        custom_status_id=int(raw["custom_status_id"])
        if raw.get("custom_status_id") is not None
        else None,
        foreign_status=_foreign(raw.get("custom_status_id"), provisioned),
        subject=str(raw.get("subject") or ""),
        description=str(raw.get("description") or ""),
        tags=frozenset(raw.get("tags") or ()),
        group=group_names.get(int(group_id)) if group_id is not None else None,
        organization_id=raw.get("organization_id"),
        priority=raw.get("priority"),
        form_id=raw.get("ticket_form_id"),
        created_at=_parse_time(raw.get("created_at")),
        fields=fields,
        comments=tuple(comments),
        collaborator_ids=tuple(int(x) for x in raw.get("collaborator_ids") or ()),
    )


def comment_via(comment: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(via.channel, via.source.rel) of a comment, or of a ticket event's Comment child event
    (same Via object), when Zendesk sent them: e.g. ("email", None), ("web", "merge")."""
    via = comment.get("via")
    if not isinstance(via, Mapping):
        return None, None
    source = via.get("source")
    rel = source.get("rel") if isinstance(source, Mapping) else None
    return (str(via["channel"]) if via.get("channel") else None, str(rel) if rel else None)


def read_snapshot(
    client: TicketAPI, ticket_id: int, *, with_comments: bool = False, parallel: bool = False
) -> TicketSnapshot:
    """The ticket now, resolved to mappings values (one call; with comments, one more per 100
    comments, their authors side-loaded).

    The comments are read after the ticket, so any comment newer than the snapshot's stamp has
    changed `updated_at` and a safe update on the stamp fails. `parallel` reads both at once
    (a page's time instead of two): for display only, since a comment landing in between may
    then be missing under a fresher stamp — never decide a write on such a snapshot."""
    if with_comments and parallel:
        raw, (items, authors) = client.in_parallel(
            lambda: client.ticket(ticket_id), lambda: client.comments_with_authors(ticket_id)
        )
    elif with_comments:
        raw = client.ticket(ticket_id)
        items, authors = client.comments_with_authors(ticket_id)
    else:
        raw, items, authors = client.ticket(ticket_id), [], []
    provisioned = Provisioned.load(client)
    groups = {int(g["id"]): str(g["name"]) for g in client.groups()}
    if raw.get("group_id") is not None and int(raw["group_id"]) not in groups:
        # A group newer than the (shared, cached) list: list again.
        groups = {int(g["id"]): str(g["name"]) for g in client.groups(refresh=True)}
    comments = comments_from(items, authors) if with_comments else []
    return snapshot_from_ticket(raw, provisioned, groups, comments)


def read_comments(client: TicketAPI, ticket_id: int) -> list[Comment]:
    """The ticket's comments with their authors' roles now (one call per 100 comments, the
    authors side-loaded)."""
    return comments_from(*client.comments_with_authors(ticket_id))


def comments_from(
    items: Iterable[Mapping[str, Any]], authors: Iterable[Mapping[str, Any]]
) -> list[Comment]:
    """Zendesk's comment objects as `Comment`s; `authors` (user objects) give each author's
    role: an author missing from them counts as an end user."""
    roles = {int(u["id"]): u.get("role") for u in authors}
    return [
        Comment(
            author_id=int(c["author_id"]),
            public=bool(c.get("public")),
            created_at=_parse_time(c.get("created_at")) or datetime.min,
            body=str(c.get("body") or ""),
            html_body=str(c["html_body"]) if c.get("html_body") else None,
            author_is_agent=roles.get(int(c["author_id"])) in ("agent", "admin"),
            via=comment_via(c)[0],
            via_rel=comment_via(c)[1],
        )
        for c in items
    ]


def build_updates(
    snapshot: TicketSnapshot,
    actions: Iterable[Action],
    provisioned: Provisioned,
    mappings: Mappings,
    group_ids: Mapping[str, int],
) -> list[dict[str, Any]]:
    """The update payload(s) for these actions: [] when nothing changes, one normally, two when
    a public comment must follow an internal note. `group_ids`: Zendesk group name → id."""
    changes: dict[str, Any] = {}
    custom_fields: dict[int, Any] = {}
    tags = set(snapshot.tags)
    notes: list[str] = []
    public: list[str] = []
    for action in actions:
        if isinstance(action, SetCustomStatus):
            status_id = provisioned.status_id(action.value)
            changes["custom_status_id"] = status_id
            mapped = mappings.status(action.value)
            for other in mappings.statuses:
                tags.discard(other.tag)
            tags.add(mapped.tag)
        elif isinstance(action, SetField):
            field_id = provisioned.field_id(action.key)
            custom_fields[field_id] = _zendesk_value(action.value)
            old = snapshot.field(action.key)
            if action.key in TAGGER_FIELDS:
                # The option's tag follows the field; keep the tag list we send consistent.
                if isinstance(old, str):
                    tags.discard(old)
                if isinstance(action.value, str) and action.value:
                    tags.add(action.value)
            elif action.key == FIELD_DATA_MAINTENANCE_APPROVED:
                tag = provisioned.checkbox_tags.get(action.key)
                if tag:
                    (tags.add if action.value else tags.discard)(tag)
        elif isinstance(action, AddTags):
            tags.update(action.tags)
        elif isinstance(action, RemoveTags):
            tags.difference_update(action.tags)
        elif isinstance(action, InternalNote):
            notes.append(action.body)
        elif isinstance(action, PublicComment):
            public.append(action.body)
        elif isinstance(action, AssignGroup):
            name = mappings.team(action.team).zendesk_group
            if name not in group_ids:
                raise NotProvisioned(f"Zendesk group {name!r} does not exist")
            if snapshot.group != name:
                changes["group_id"] = group_ids[name]
    if (
        "custom_status_id" in changes
        and snapshot.custom_status is not None
        and provisioned.custom_statuses.get(snapshot.custom_status) == changes["custom_status_id"]
    ):
        del changes["custom_status_id"]
    changed_fields = [
        {"id": fid, "value": value}
        for fid, value in custom_fields.items()
        if _zendesk_value(_current(snapshot, provisioned, fid)) != value
    ]
    if changed_fields:
        changes["custom_fields"] = changed_fields
    _keep_new(snapshot, changes, notes, public)
    if tags != set(snapshot.tags):
        changes["tags"] = sorted(tags)
    updates: list[dict[str, Any]] = []
    if notes:
        changes["comment"] = {"body": NOTE_SEPARATOR.join(notes), "public": False}
    if public and notes:
        updates = [changes, {"comment": {"body": NOTE_SEPARATOR.join(public), "public": True}}]
    elif public:
        changes["comment"] = {"body": NOTE_SEPARATOR.join(public), "public": True}
        updates = [changes]
    elif changes:
        updates = [changes]
    return updates


def _keep_new(
    snapshot: TicketSnapshot, changes: dict[str, Any], notes: list[str], public: list[str]
) -> None:
    """Zendesk opens a New ticket on any agent's update that sets no status: a write that is
    not meant to change the status says the ticket's own custom status again, so a ticket
    cxlayer merely processed stays New (views of new tickets keep it)."""
    if snapshot.status != "new" or "custom_status_id" in changes:
        return
    if not (changes or notes or public) or snapshot.custom_status_id is None:
        return
    changes["custom_status_id"] = snapshot.custom_status_id


def _current(snapshot: TicketSnapshot, provisioned: Provisioned, field_id: int) -> FieldValue:
    for key, fid in provisioned.fields.items():
        if fid == field_id:
            return snapshot.field(key)
    return None


def apply_actions(
    client: TicketAPI, snapshot: TicketSnapshot, actions: Iterable[Action], mappings: Mappings
) -> ApplyResult:
    """Apply a rule's actions as safe update(s) on `snapshot.updated_stamp`. Raises
    `TicketConflict` when the ticket changed since the snapshot."""
    provisioned = Provisioned.load(client)
    group_ids = {str(g["name"]): int(g["id"]) for g in client.groups()}
    try:
        updates = build_updates(snapshot, actions, provisioned, mappings, group_ids)
    except NotProvisioned:
        # Perhaps a group created since the cached list: list again once before giving up.
        group_ids = {str(g["name"]): int(g["id"]) for g in client.groups(refresh=True)}
        updates = build_updates(snapshot, actions, provisioned, mappings, group_ids)
    result = ApplyResult(snapshot.id, updates, updated_stamp=snapshot.updated_stamp)
    for index, payload in enumerate(updates):
        stamp = result.updated_stamp
        for attempt in range(FOLLOW_UP_ATTEMPTS):
            assert stamp is not None  # noqa: S101 - set above and by each update
            try:
                ticket = client.update_ticket(stamp, snapshot.id, payload)
                break
            except TicketConflict:
                if index == 0 or attempt == FOLLOW_UP_ATTEMPTS - 1:
                    raise TicketConflict(snapshot.id, after_first_update=index > 0) from None
                # The follow-up holds only the public comment, decided with the first update
                # and owed whatever happened since (a 409 means it was not posted): send it on
                # the ticket's new stamp rather than lose it.
                stamp = str(client.ticket(snapshot.id)["updated_at"])
        result.ticket = ticket
        result.updated_stamp = str(ticket["updated_at"])
    return result
