"""The recorded-case format of tests/triggers/fixtures/ and its loader.

A fixture file `fixtures/<rule module>__<variant>.json` holds:

    description      what the case is
    now              ISO time given to the rules
    service_user_id  cxlayer's own Zendesk user (events it caused are `by_service`)
    webhook          the delivery: invocation_id (its header) and the JSON body the provisioned
                     trigger posts; the rules' TicketEvent is derived from it the way the
                     endpoint and the worker do (webhooks.schema, webhooks.inbox)
    snapshot         TicketSnapshot fields (tags a list; fields by FIELD_* key; comments a list)
    decisions        every decision the default router makes, in order: rule, reason, actions
    zendesk_updates  the exact update payloads sync/ sends for the merged actions

Texts are written as specs rendered with triggers.texts, so fixtures follow the named templates:
a string is literal; {"t": "NAME", **params} is `texts.NAME.format(**params)` ("module.NAME"
for another module of triggers/, e.g. autosolve_texts; params are specs too); a list is its
parts joined by a space (by "; " for a reason). In `zendesk_updates` a
comment body "$notes" / "$public" stands for the expected decisions' notes / public comments
joined as one update carries them (paragraphs separated by a blank line).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from store.models import InboxEvent
from triggers import texts
from triggers.model import (
    FIELD_AUTO_SOLVE_DUE,
    FIELD_KEYS,
    Action,
    AddTags,
    AssignGroup,
    Comment,
    Decision,
    FieldValue,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)
from webhooks.inbox import to_ticket_event
from webhooks.schema import EventSchema

FIXTURES = Path(__file__).parent / "fixtures"


def render(spec: Any, sep: str = " ") -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return sep.join(render(part) for part in spec)
    if isinstance(spec, dict) and "t" in spec:
        params = {k: render(v) for k, v in spec.items() if k != "t"}
        module, _, name = spec["t"].rpartition(".")
        # "NAME" is triggers.texts.NAME; "autosolve_texts.NAME" another rule texts module's.
        source = importlib.import_module(f"triggers.{module}") if module else texts
        template: str = getattr(source, name)
        return template.format(**params)
    raise ValueError(f"not a text spec: {spec!r}")


def _time(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


def _field(key: str, raw: Any) -> FieldValue:
    if key not in FIELD_KEYS:
        raise ValueError(f"unknown field {key!r}")
    if key == FIELD_AUTO_SOLVE_DUE and isinstance(raw, str):
        return date.fromisoformat(raw)
    value: FieldValue = raw
    return value


def parse_snapshot(raw: dict[str, Any]) -> TicketSnapshot:
    data = dict(raw)
    data["tags"] = frozenset(data.get("tags", ()))
    data["fields"] = {k: _field(k, v) for k, v in data.get("fields", {}).items()}
    data["created_at"] = _time(data.get("created_at"))
    data["collaborator_ids"] = tuple(data.get("collaborator_ids", ()))
    data["comments"] = tuple(
        Comment(**{**c, "created_at": _time(c["created_at"])}) for c in data.get("comments", ())
    )
    return TicketSnapshot(**data)


def event_from_webhook(webhook: dict[str, Any], service_user_id: int) -> TicketEvent:
    """The event the worker hands the rules for this delivery."""
    body = webhook["body"]
    data = EventSchema().load(body)
    # The columns webhooks.inbox.add_event fills from the validated body.
    stored = InboxEvent(
        id=1,
        invocation_id=webhook["invocation_id"],
        ticket_id=data["ticket_id"],
        kind=data["event"],
        actor_id=data.get("current_user_id"),
        occurred_at=data.get("updated_at"),
        payload=body,
    )
    return to_ticket_event(stored, service_user_id)


def parse_action(raw: dict[str, Any]) -> Action:
    kind = raw["kind"]
    if kind == "set_custom_status":
        return SetCustomStatus(raw["value"])
    if kind == "set_field":
        return SetField(raw["key"], _field(raw["key"], raw["value"]))
    if kind == "add_tags":
        return AddTags(tuple(raw["tags"]))
    if kind == "remove_tags":
        return RemoveTags(tuple(raw["tags"]))
    if kind == "internal_note":
        return InternalNote(render(raw["body"]))
    if kind == "public_comment":
        return PublicComment(render(raw["body"]))
    if kind == "assign_group":
        return AssignGroup(raw["team"])
    raise ValueError(f"unknown action kind {kind!r}")


def parse_decision(raw: dict[str, Any]) -> Decision:
    return Decision(
        rule=raw["rule"],
        reason=render(raw["reason"], sep="; "),
        actions=tuple(parse_action(a) for a in raw["actions"]),
        bookkeeping=bool(raw.get("bookkeeping", False)),
    )


@dataclass(frozen=True)
class Case:
    name: str
    rule_module: str
    description: str
    now: datetime
    event: TicketEvent
    snapshot: TicketSnapshot
    decisions: tuple[Decision, ...]
    zendesk_updates: list[dict[str, Any]]


def load_case(path: Path) -> Case:
    raw = json.loads(path.read_text(encoding="utf-8"))
    now = _time(raw["now"])
    assert now is not None
    decisions = tuple(parse_decision(d) for d in raw["decisions"])
    notes = "\n\n".join(
        " ".join(a.body for a in d.actions if isinstance(a, InternalNote))
        for d in decisions
        if any(isinstance(a, InternalNote) for a in d.actions)
    )
    public = "\n\n".join(
        a.body for d in decisions for a in d.actions if isinstance(a, PublicComment)
    )
    updates = json.loads(
        json.dumps(raw["zendesk_updates"])
        .replace('"$notes"', json.dumps(notes))
        .replace('"$public"', json.dumps(public))
    )
    return Case(
        name=path.stem,
        rule_module=path.stem.split("__", 1)[0],
        description=raw["description"],
        now=now,
        event=event_from_webhook(raw["webhook"], raw["service_user_id"]),
        snapshot=parse_snapshot(raw["snapshot"]),
        decisions=decisions,
        zendesk_updates=updates,
    )


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))
