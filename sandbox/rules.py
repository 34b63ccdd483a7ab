"""Triggers and webhooks: condition matching on each create/update, placeholder rendering, and
handing matched notifications to the deliverer."""

from __future__ import annotations

import copy
import json
import re
import secrets
from typing import Any

from sandbox import errors
from sandbox.account import Account, Change, check_text
from sandbox.delivery import Deliverer
from sandbox.store import iso

STATUS_ORDER = ("new", "open", "pending", "hold", "solved", "closed")
STATUS_TITLES = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
    "closed": "Closed",
}
SIMPLE_FIELDS = {
    "status",
    "custom_status_id",
    "status_id",
    "priority",
    "type",
    "group_id",
    "assignee_id",
    "requester_id",
    "organization_id",
}
VALUE_OPERATORS = {
    "is",
    "is_not",
    "less_than",
    "greater_than",
    "changed",
    "not_changed",
    "value",
    "not_value",
    "value_previous",
    "not_value_previous",
    "present",
    "not_present",
}
OTHER_FIELDS = {"update_type", "comment_is_public", "current_tags", "role"}
# Trigger actions the sandbox applies (sandbox/README.md "Behaviour"); others are refused.
TICKET_ACTIONS = {
    "status",
    "custom_status_id",
    "status_id",
    "priority",
    "type",
    "group_id",
    "assignee_id",
    "current_tags",
    "remove_tags",
    "set_tags",
}
PRIORITY_ORDER = ("low", "normal", "high", "urgent")
PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
UNSUPPORTED = "{kind}: {name} is not supported by the sandbox"


def _norm(value: Any) -> str:
    """Condition values arrive as strings or numbers; '' and None both mean 'none'."""
    if value is None or value == "" or value is False:
        return ""
    if value is True:
        return "true"
    return str(value)


def _field_value(ticket: dict[str, Any] | None, name: str) -> Any:
    if ticket is None:
        return None
    if name == "status_id":
        name = "custom_status_id"
    if name.startswith("custom_fields_"):
        return (ticket.get("_cf") or {}).get(name[len("custom_fields_") :])
    return ticket.get(name)


def validate_trigger(account: Account, data: dict[str, Any]) -> None:
    """Reject what the sandbox cannot evaluate, rather than silently never firing."""
    conditions = data.get("conditions")
    if not isinstance(conditions, dict):
        raise errors.invalid("conditions", "Conditions: must have all and/or any lists")
    for group in ("all", "any"):
        items = conditions.get(group) or []
        if not isinstance(items, list) or not all(isinstance(c, dict) for c in items):
            raise errors.invalid("conditions", f"Conditions: {group} must be a list of objects")
        for cond in items:
            field = str(cond.get("field", ""))
            known = (
                field in SIMPLE_FIELDS
                or field in OTHER_FIELDS
                or field.startswith("custom_fields_")
            )
            if not known:
                raise errors.invalid(
                    "conditions", UNSUPPORTED.format(kind="Condition field", name=field)
                )
            if field not in OTHER_FIELDS and cond.get("operator") not in VALUE_OPERATORS:
                raise errors.invalid(
                    "conditions", UNSUPPORTED.format(kind="Operator", name=cond.get("operator"))
                )
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions:
        raise errors.invalid("actions", "Actions: cannot be blank", "BlankValue")
    if not all(isinstance(a, dict) for a in actions):
        raise errors.invalid("actions", "Actions: must be objects with field and value")
    for action in actions:
        name = str(action.get("field", ""))
        if name in TICKET_ACTIONS or name.startswith("custom_fields_"):
            continue
        if name != "notification_webhook":
            raise errors.invalid("actions", UNSUPPORTED.format(kind="Action", name=name))
        value = action.get("value")
        if not isinstance(value, list) or len(value) != 2:
            raise errors.invalid(
                "actions", "Actions: notification_webhook takes [webhook_id, body]"
            )
        if account.store.get("webhook", value[0]) is None:
            raise errors.invalid("actions", f"Actions: webhook {value[0]} does not exist")


def new_webhook(account: Account, data: dict[str, Any], actor_id: int) -> dict[str, Any]:
    check_text(data, "name", "endpoint", "description", "status", "http_method", "request_format")
    if data.get("signing_secret") is not None and not isinstance(data["signing_secret"], dict):
        raise errors.invalid("signing_secret", "signing_secret: must be an object with a secret")
    for key in ("name", "endpoint"):
        if not data.get(key):
            raise errors.invalid(key, f"{key}: cannot be blank", "BlankValue")
    if data.get("http_method", "POST") not in ("POST", "PUT", "PATCH", "GET", "DELETE"):
        raise errors.invalid("http_method", "http_method: is not valid")
    now = iso(account.store.now())
    secret = (data.get("signing_secret") or {}).get("secret") or secrets.token_urlsafe(36)
    return {
        "id": "01" + secrets.token_hex(12).upper(),
        "name": data["name"],
        "description": data.get("description") or "",
        "status": data.get("status") or "active",
        "endpoint": data["endpoint"],
        "http_method": data.get("http_method") or "POST",
        "request_format": data.get("request_format") or "json",
        "subscriptions": list(data.get("subscriptions") or ["conditional_ticket_events"]),
        "authentication": data.get("authentication"),
        "custom_headers": data.get("custom_headers") or {},
        "signing_secret": {"algorithm": "SHA256", "secret": secret},
        "created_at": now,
        "created_by": str(actor_id),
        "updated_at": now,
        "updated_by": str(actor_id),
    }


def present_webhook(doc: dict[str, Any]) -> dict[str, Any]:
    """Zendesk never echoes secrets: the signing secret has its own endpoint, and the
    authentication's credentials are write-only."""
    out = {k: v for k, v in doc.items() if k != "signing_secret"}
    if isinstance(out.get("authentication"), dict):
        out["authentication"] = {k: v for k, v in out["authentication"].items() if k != "data"}
    return out


class TriggerEngine:
    """Evaluates active triggers in position order against each change."""

    def __init__(self, account: Account, deliverer: Deliverer) -> None:
        self.account = account
        self.deliverer = deliverer

    def active(self) -> list[dict[str, Any]]:
        triggers = [t for t in self.account.store.all("trigger") if t.get("active", True)]
        triggers.sort(key=lambda t: (t.get("position") or 0, t["id"]))
        return triggers

    def before_store(self, change: Change) -> None:
        """Zendesk's trigger cycle on one update, before it is saved: triggers are checked in
        order; one that matches fires (its ticket actions change the ticket) and the check
        starts again from the top; each trigger fires at most once per update."""
        triggers = self.active()
        fired: list[dict[str, Any]] = []
        done: set[Any] = set()
        restart = True
        while restart:
            restart = False
            for trigger in triggers:
                if trigger["id"] in done or not self.matches(trigger, change):
                    continue
                done.add(trigger["id"])
                fired.append(trigger)
                changed = False
                for action in trigger.get("actions") or []:
                    name = str(action.get("field", ""))
                    if name == "notification_webhook":
                        continue
                    before = copy.deepcopy(change.after)
                    self.account.apply_trigger_action(change.after, name, action.get("value"))
                    changed = changed or before != change.after
                if changed:
                    restart = True
                    break
        change.fired = fired

    def on_change(self, change: Change) -> None:
        """After the update is stored: the notifications of the triggers that fired."""
        if change.fired is None:
            fired = [t for t in self.active() if self.matches(t, change)]
        else:
            fired = change.fired
        for trigger in fired:
            self.fire(trigger, change)

    def matches(self, trigger: dict[str, Any], change: Change) -> bool:
        conditions = trigger.get("conditions") or {}
        all_of = conditions.get("all") or []
        any_of = conditions.get("any") or []
        if not all(self._condition(c, change) for c in all_of):
            return False
        return not any_of or any(self._condition(c, change) for c in any_of)

    def _condition(self, cond: dict[str, Any], change: Change) -> bool:
        field = str(cond.get("field"))
        op = cond.get("operator")
        value = cond.get("value")
        if field == "update_type":
            return (_norm(value).lower() == change.update_type.lower()) == (op != "is_not")
        if field == "comment_is_public":
            comment = change.comment
            want = _norm(value).lower()
            if want == "not_relevant":
                result = comment is not None
            elif want in ("true", "requester_can_see_comment"):
                result = comment is not None and comment["public"]
            else:
                result = comment is not None and not comment["public"]
            return result == (op != "is_not")
        if field == "current_tags":
            tags = set(change.after.get("tags") or [])
            listed = set(str(value or "").split())
            hit = bool(tags & listed)
            return hit if op == "includes" else not hit
        if field == "role":
            actor = self.account.store.get_user(change.actor_id)
            role = "end_user" if actor is None or actor["role"] == "end-user" else "agent"
            if actor and actor["role"] == "admin" and _norm(value) == "admin":
                role = "admin"
            return (role == _norm(value)) == (op != "is_not")
        now = _field_value(change.after, field)
        before = _field_value(change.before, field)
        if value == "current_user" and field in ("assignee_id", "requester_id"):
            value = change.actor_id  # Zendesk's "(current user)" choice
        current, previous, wanted = _norm(now), _norm(before), _norm(value)
        changed = change.before is None or current != previous
        if op == "is":
            return current == wanted
        if op == "is_not":
            return current != wanted
        if op in ("less_than", "greater_than") and field in ("status", "priority"):
            order = STATUS_ORDER if field == "status" else PRIORITY_ORDER
            if current not in order or wanted not in order:
                return False
            delta = order.index(current) - order.index(wanted)
            return delta < 0 if op == "less_than" else delta > 0
        if op == "changed":
            return changed
        if op == "not_changed":
            return not changed
        if op == "value":
            return changed and current == wanted
        if op == "not_value":
            return changed and current != wanted
        if op == "value_previous":
            return changed and previous == wanted
        if op == "not_value_previous":
            return changed and previous != wanted
        if op == "present":
            return current != ""
        if op == "not_present":
            return current == ""
        return False

    def fire(self, trigger: dict[str, Any], change: Change) -> None:
        for action in trigger.get("actions") or []:
            if action.get("field") != "notification_webhook":
                continue
            webhook_id, template = action["value"][0], action["value"][1]
            webhook = self.account.store.get("webhook", webhook_id)
            if webhook is None or webhook.get("status") != "active":
                continue
            body = self.render(str(template), change)
            self.deliverer.enqueue(
                webhook,
                body,
                {"trigger_id": trigger["id"], "ticket_id": change.after["id"]},
            )

    def render(self, template: str, change: Change) -> str:
        """Placeholders become JSON-escaped strings, so `"{{ticket.id}}"` renders `"42"`."""
        values = self.placeholders(change)

        def substitute(match: re.Match[str]) -> str:
            text = values.get(match.group(1), "")
            return json.dumps(text)[1:-1]

        return PLACEHOLDER.sub(substitute, template)

    def placeholders(self, change: Change) -> dict[str, str]:
        ticket = change.after
        store = self.account.store
        requester = store.get_user(ticket.get("requester_id")) or {}
        assignee = store.get_user(ticket.get("assignee_id")) or {}
        actor = store.get_user(change.actor_id) or {}
        status = self.account.custom_status(ticket.get("custom_status_id")) or {}

        def s(value: Any) -> str:
            return "" if value is None else str(value)

        out = {
            "ticket.id": s(ticket["id"]),
            "ticket.title": s(ticket.get("subject")),
            "ticket.description": s(ticket.get("description")),
            "ticket.status": STATUS_TITLES.get(ticket["status"], ticket["status"]),
            "ticket.custom_status_id": s(ticket.get("custom_status_id")),
            "ticket.ticket_status": s(status.get("agent_label")),
            "ticket.priority": s(ticket.get("priority")).capitalize(),
            "ticket.ticket_type": s(ticket.get("type")).capitalize(),
            "ticket.tags": " ".join(ticket.get("tags") or []),
            "ticket.via": "Web service",
            "ticket.created_at_with_timestamp": s(ticket.get("created_at")),
            "ticket.updated_at_with_timestamp": s(ticket.get("updated_at")),
            "ticket.external_id": s(ticket.get("external_id")),
            "ticket.group.id": s(ticket.get("group_id")),
            "ticket.organization.id": s(ticket.get("organization_id")),
            "ticket.requester.id": s(requester.get("id")),
            "ticket.requester.email": s(requester.get("email")),
            "ticket.requester.name": s(requester.get("name")),
            "ticket.assignee.id": s(assignee.get("id")),
            "ticket.assignee.email": s(assignee.get("email")),
            "ticket.assignee.name": s(assignee.get("name")),
            "current_user.id": s(actor.get("id")),
            "current_user.email": s(actor.get("email")),
            "current_user.name": s(actor.get("name")),
            "current_user.role": "end-user" if actor.get("role") == "end-user" else "agent",
        }
        if change.comment is not None:
            out["ticket.latest_comment.id"] = s(change.comment["id"])
            out["ticket.latest_comment.value"] = s(change.comment["body"])
            out["ticket.latest_comment.is_public"] = "true" if change.comment["public"] else "false"
            out["ticket.latest_comment.author.id"] = s(change.comment["author_id"])
        fields = {str(f["id"]): f for f in self.account.ticket_fields()}
        for key, value in (ticket.get("_cf") or {}).items():
            out[f"ticket.ticket_field_{key}"] = (
                s(value) if not isinstance(value, list) else " ".join(value)
            )
            spec = fields.get(key)
            if spec and spec.get("custom_field_options"):
                titles = {o["value"]: o["name"] for o in spec["custom_field_options"]}
                out[f"ticket.ticket_field_option_title_{key}"] = (
                    titles.get(value, "") if isinstance(value, str) else ""
                )
        return out
