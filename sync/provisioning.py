"""Provisioning: make the Zendesk account match mappings/ (plan shows the diff, apply does it).

Desired state, from mappings/ and [service] public_url:
- a custom status per mapped status (labels, descriptions, category);
- ticket fields: "Resolution type" and "Product" (drop-downs whose option tags are the stable
  machine values), "Duplicate of" (integer), "Auto-solve due" (date), "Data maintenance
  approved" (checkbox);
- a group per team of teams.toml;
- the webhook to `<public_url>/webhooks/zendesk`, its signing secret read back and stored;
- one trigger per event kind (triggers.model.EVENT_KINDS) posting a JSON body to the webhook,
  plus EXTRA_TRIGGERS (the possible_duplicate tag removed).

Objects are matched by the ids recorded at the last apply (state `zendesk.provisioned`), else
by stable keys: custom statuses by agent label within their category, fields by title and
type, groups by name, the webhook by name, triggers by the `[cxlayer:<kind>]` marker in their
title. Nothing else in the account is read for changes or touched. Field options that exist in
Zendesk but not in mappings are reported and kept; `--prune` removes them, never while a
ticket carries the option's tag.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import store
from mappings import Mappings
from sync.client import ZendeskClient
from sync.http import ZendeskError, idempotent_writes
from sync.state import PROVISIONED
from triggers.duplicates.texts import TAG_FLAG_WATCH, TAG_POSSIBLE_DUPLICATE
from triggers.model import (
    CHECKBOX_TAGS,
    COMMENT_ADDED,
    EVENT_KINDS,
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
    FIELD_DUPLICATE_OF,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    FIELDS_CHANGED,
    REQUESTER_CHANGED,
    RESOLUTION_TYPE_CHANGED,
    STATUS_CHANGED,
    TICKET_CREATED,
)

WEBHOOK_SIGNING_SECRET = store.WEBHOOK_SIGNING_SECRET  # read by webhooks/ to verify signatures
SERVICE_USER_ID = store.SERVICE_USER_ID  # read by webhooks/ for loop safety
WEBHOOK_NAME = "cxlayer events"
WEBHOOK_PATH = "/webhooks/zendesk"
MARKER = "[cxlayer:{kind}]"
APPROVAL_TAG = CHECKBOX_TAGS[FIELD_DATA_MAINTENANCE_APPROVED]

# Words admins and agents see in Zendesk.
FIELD_TITLES = {
    FIELD_RESOLUTION_TYPE: "Resolution type",
    FIELD_PRODUCT: "Product",
    FIELD_DUPLICATE_OF: "Duplicate of",
    FIELD_AUTO_SOLVE_DUE: "Auto-solve due",
    FIELD_DATA_MAINTENANCE_APPROVED: "Data maintenance approved",
}
FIELD_DESCRIPTIONS = {
    FIELD_RESOLUTION_TYPE: "How the ticket was resolved (Mediaocean CX support guide).",
    FIELD_PRODUCT: "The Mediaocean product the ticket is about.",
    FIELD_DUPLICATE_OF: "The ticket this one duplicates.",
    FIELD_AUTO_SOLVE_DUE: "When cxlayer will solve the ticket if the requester does not reply.",
    FIELD_DATA_MAINTENANCE_APPROVED: "The requester approved the data maintenance change.",
}
FIELD_TYPES = {
    FIELD_RESOLUTION_TYPE: "tagger",
    FIELD_PRODUCT: "tagger",
    FIELD_DUPLICATE_OF: "integer",
    FIELD_AUTO_SOLVE_DUE: "date",
    FIELD_DATA_MAINTENANCE_APPROVED: "checkbox",
}
TRIGGER_TITLES = {
    TICKET_CREATED: "cxlayer: ticket created",
    STATUS_CHANGED: "cxlayer: status changed",
    COMMENT_ADDED: "cxlayer: comment added",
    RESOLUTION_TYPE_CHANGED: "cxlayer: resolution type changed",
    REQUESTER_CHANGED: "cxlayer: requester changed",
    FIELDS_CHANGED: "cxlayer: duplicate-of, product or approval changed",
}
TRIGGER_DESCRIPTION = "Posts ticket events to cxlayer. Managed by `flask zendesk apply`."
# Triggers beyond one per event kind: key -> (event kind posted, title). Zendesk conditions
# cannot see a tag being removed; cxlayer's flag carries a second tag (TAG_FLAG_WATCH), so
# "watch tag without possible_duplicate" is the moment an agent removed possible_duplicate.
DUPLICATE_TAG_REMOVED = "duplicate_tag_removed"
EXTRA_TRIGGERS = {
    DUPLICATE_TAG_REMOVED: (FIELDS_CHANGED, "cxlayer: possible duplicate tag removed"),
}
TRIGGER_KEYS = (*EVENT_KINDS, *EXTRA_TRIGGERS)

NO_CHANGES = "No changes. Zendesk matches mappings/."
RESTART_NOTICE = (
    "Running processes read mappings/ when they start: restart every `flask --app app serve`, "
    "`flask --app app worker` and gunicorn process now so that they use the new mappings."
)


class ProvisioningError(ZendeskError):
    """Provisioning cannot proceed (e.g. a status whose category changed in mappings)."""


def body_template(kind: str) -> str:
    """The JSON a trigger posts; placeholders render as strings (webhooks/schema.py coerces)."""
    return json.dumps(
        {
            "event": kind,
            "ticket_id": "{{ticket.id}}",
            "status": "{{ticket.status}}",
            "custom_status_id": "{{ticket.custom_status_id}}",
            "updated_at": "{{ticket.updated_at_with_timestamp}}",
            "requester_id": "{{ticket.requester.id}}",
            "current_user_id": "{{current_user.id}}",
        },
        indent=None,
    )


@dataclass
class Change:
    """One object to create or update (or a reported-only finding when action == "report")."""

    action: str  # create | update | report
    kind: str  # custom_status | ticket_field | group | webhook | trigger
    key: str  # mappings key (status value, field key, team key, event kind, "webhook")
    name: str
    details: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    object_id: Any = None

    def render(self) -> str:
        sign = {"create": "+", "update": "~", "report": "!"}[self.action]
        where = f" (id {self.object_id})" if self.object_id is not None else ""
        head = f"{sign} {self.action} {self.kind} {self.name!r}{where}"
        return "\n".join([head, *(f"    {d}" for d in self.details)])


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # matched existing ids

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "report"]

    def render(self) -> str:
        lines = [c.render() for c in self.changes]
        if self.unchanged:
            lines.append(f"= {len(self.unchanged)} object(s) unchanged")
        if not self.pending:
            lines.append(NO_CHANGES)
        else:
            lines.append(f"Plan: {len(self.pending)} change(s).")
        return "\n".join(lines)


@dataclass
class Actual:
    """What the account holds now, read once."""

    custom_statuses: list[dict[str, Any]]
    ticket_fields: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    triggers: list[dict[str, Any]]


def read_actual(client: ZendeskClient) -> Actual:
    return Actual(
        custom_statuses=client.custom_statuses(refresh=True),
        ticket_fields=client.ticket_fields(refresh=True),
        groups=client.groups(refresh=True),
        webhooks=client.list_all("/api/v2/webhooks.json", "webhooks", {"page[size]": 100}),
        triggers=client.list_all("/api/v2/triggers.json", "triggers"),
    )


# --------------------------------------------------------------------------- desired state
def desired_statuses(mappings: Mappings) -> dict[str, dict[str, Any]]:
    return {
        s.value: {
            "status_category": s.category,
            "agent_label": s.agent_label,
            "end_user_label": s.end_user_label,
            "description": s.agent_description,
            "end_user_description": s.end_user_description,
            "active": True,
        }
        for s in mappings.statuses
    }


def desired_fields(mappings: Mappings) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, title in FIELD_TITLES.items():
        spec: dict[str, Any] = {
            "type": FIELD_TYPES[key],
            "title": title,
            "description": FIELD_DESCRIPTIONS[key],
            "active": True,
        }
        if key == FIELD_RESOLUTION_TYPE:
            spec["custom_field_options"] = [
                {"name": t.option_name, "value": t.value} for t in mappings.resolution_types
            ]
        elif key == FIELD_PRODUCT:
            spec["custom_field_options"] = [
                {"name": p.name, "value": p.value} for p in mappings.products
            ]
        elif key == FIELD_DATA_MAINTENANCE_APPROVED:
            spec["tag"] = APPROVAL_TAG
        out[key] = spec
    return out


def desired_webhook(public_url: str) -> dict[str, Any]:
    return {
        "name": WEBHOOK_NAME,
        "description": "Ticket events for cxlayer. Managed by `flask zendesk apply`.",
        "endpoint": public_url.rstrip("/") + WEBHOOK_PATH,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
    }


def trigger_conditions(kind: str, field_ids: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Zendesk conditions of each event kind's trigger (field ids from provisioning)."""
    if kind == DUPLICATE_TAG_REMOVED:
        return {
            "all": [
                {"field": "update_type", "operator": "is", "value": "Change"},
                {"field": "current_tags", "operator": "includes", "value": TAG_FLAG_WATCH},
                {
                    "field": "current_tags",
                    "operator": "not_includes",
                    "value": TAG_POSSIBLE_DUPLICATE,
                },
            ],
            "any": [],
        }

    def changed(name: str) -> dict[str, Any]:
        return {"field": name, "operator": "changed", "value": None}

    change = {"field": "update_type", "operator": "is", "value": "Change"}
    if kind == TICKET_CREATED:
        return {"all": [{"field": "update_type", "operator": "is", "value": "Create"}], "any": []}
    if kind == STATUS_CHANGED:
        return {"all": [change], "any": [changed("status"), changed("custom_status_id")]}
    if kind == COMMENT_ADDED:
        comment = {"field": "comment_is_public", "operator": "is", "value": "not_relevant"}
        return {"all": [change, comment], "any": []}
    if kind == RESOLUTION_TYPE_CHANGED:
        return {
            "all": [change, changed(f"custom_fields_{field_ids[FIELD_RESOLUTION_TYPE]}")],
            "any": [],
        }
    if kind == REQUESTER_CHANGED:
        return {"all": [change, changed("requester_id")], "any": []}
    if kind == FIELDS_CHANGED:
        keys = (FIELD_DUPLICATE_OF, FIELD_PRODUCT, FIELD_DATA_MAINTENANCE_APPROVED)
        return {"all": [change], "any": [changed(f"custom_fields_{field_ids[k]}") for k in keys]}
    raise ProvisioningError(f"no trigger defined for event kind {kind!r}")


def desired_trigger(kind: str, webhook_id: Any, field_ids: Mapping[str, Any]) -> dict[str, Any]:
    posted, title = EXTRA_TRIGGERS.get(kind, (kind, TRIGGER_TITLES.get(kind, kind)))
    return {
        "title": f"{title} {MARKER.format(kind=kind)}",
        "description": TRIGGER_DESCRIPTION,
        "active": True,
        "conditions": trigger_conditions(kind, field_ids),
        "actions": [
            {"field": "notification_webhook", "value": [webhook_id, body_template(posted)]}
        ],
    }


STATUS_TAG_KEY = "status_tag:{value}"
STATUS_TAG_TITLE = "cxlayer: status tag {tag}"
STATUS_TAG_DESCRIPTION = (
    "Keeps the mo_status_* tag in step with the custom status inside Zendesk's own update (no API "
    "call, no note). Managed by `flask zendesk apply`."
)


def desired_status_tag_trigger(value: str, status_id: Any, mappings: Mappings) -> dict[str, Any]:
    """A trigger that gives a ticket on status `value` exactly its mo_status_<value> tag, in the
    trigger cycle of the update that set the status (Zendesk "Add tags"/"Remove tags" actions)."""
    status = mappings.status(value)
    others = sorted(s.tag for s in mappings.statuses if s.value != value)
    key = STATUS_TAG_KEY.format(value=value)
    return {
        "title": f"{STATUS_TAG_TITLE.format(tag=status.tag)} {MARKER.format(kind=key)}",
        "description": STATUS_TAG_DESCRIPTION,
        "active": True,
        "conditions": {
            "all": [{"field": "custom_status_id", "operator": "is", "value": status_id}],
            "any": [
                {"field": "current_tags", "operator": "not_includes", "value": status.tag},
                {"field": "current_tags", "operator": "includes", "value": " ".join(others)},
            ],
        },
        "actions": [
            {"field": "current_tags", "value": status.tag},
            {"field": "remove_tags", "value": " ".join(others)},
        ],
    }


NO_STATUS_TAG = "none"


def desired_no_status_tag_trigger(
    status_ids: Mapping[str, Any], mappings: Mappings
) -> dict[str, Any]:
    """A ticket on a status outside the mappings (Zendesk's generic ones, an admin's) carries
    no mo_status_* tag: a stale one would put it in the wrong views."""
    key = STATUS_TAG_KEY.format(value=NO_STATUS_TAG)
    tags = " ".join(sorted(s.tag for s in mappings.statuses))
    return {
        "title": f"cxlayer: no status tag outside the mappings {MARKER.format(kind=key)}",
        "description": STATUS_TAG_DESCRIPTION,
        "active": True,
        "conditions": {
            "all": [
                *(
                    {
                        "field": "custom_status_id",
                        "operator": "is_not",
                        "value": status_ids[s.value],
                    }
                    for s in mappings.statuses
                ),
                {"field": "current_tags", "operator": "includes", "value": tags},
            ],
            "any": [],
        },
        "actions": [{"field": "remove_tags", "value": tags}],
    }


def _status_tag_spec(key: str, status_ids: Mapping[str, Any], mappings: Mappings) -> dict[str, Any]:
    value = key.split(":", 1)[1]
    if value == NO_STATUS_TAG:
        return desired_no_status_tag_trigger(status_ids, mappings)
    return desired_status_tag_trigger(value, status_ids[value], mappings)


def _plan_status_tag_triggers(
    plan: Plan, actual: Actual, recorded: Mapping[str, Any], mappings: Mappings
) -> None:
    status_ids = {
        s.value: plan.ids["custom_statuses"].get(s.value, f"<new {s.value}>")
        for s in mappings.statuses
    }
    for value in [*(s.value for s in mappings.statuses), NO_STATUS_TAG]:
        key = STATUS_TAG_KEY.format(value=value)
        spec = _status_tag_spec(key, status_ids, mappings)
        current = _find(
            actual.triggers,
            _recorded(recorded, "triggers", key),
            partial(_marked, MARKER.format(kind=key)),
        )
        if current is None:
            plan.changes.append(Change("create", "trigger", key, spec["title"], payload=spec))
            continue
        plan.ids["triggers"][key] = current["id"]
        details = _diff(current, spec, ["title", "description", "active", "conditions", "actions"])
        if details:
            plan.changes.append(
                Change("update", "trigger", key, spec["title"], details, spec, current["id"])
            )
        else:
            plan.unchanged.append(f"trigger {key}")


def _plan_drift(plan: Plan, actual: Actual, recorded: Mapping[str, Any]) -> None:
    """Statuses an admin added in Zendesk outside the mappings: reported, never remapped."""
    ours = set(plan.ids["custom_statuses"].values())
    system = set(plan.ids.get("system_statuses", {}).values())
    system |= set((recorded.get("system_statuses") or {}).values())
    for item in actual.custom_statuses:
        if item["id"] in ours or item["id"] in system or not item.get("active", True):
            continue
        plan.changes.append(
            Change(
                "report",
                "custom_status",
                f"drift:{item['id']}",
                str(item.get("agent_label")),
                [
                    f"in Zendesk's {item.get('status_category')!r} category but not in "
                    "mappings/statuses.toml: tickets on it are left alone (never remapped nor "
                    "auto-solved) until the mappings say what it means"
                ],
                object_id=item["id"],
            )
        )


# ------------------------------------------------------------------------------ diffing
def _diff(current: Mapping[str, Any], wanted: Mapping[str, Any], keys: list[str]) -> list[str]:
    out = []
    for key in keys:
        have, want = current.get(key), wanted.get(key)
        if key == "description" and not have and not want:
            continue
        if have != want:
            out.append(
                f"{key}: {json.dumps(have, ensure_ascii=False)} → {json.dumps(want, ensure_ascii=False)}"
            )
    return out


def _option_diff(
    current: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Option changes (add / rename / reorder) and the options Zendesk has but mappings lack."""
    have = {o["value"]: o for o in current}
    want_values = [o["value"] for o in wanted]
    details = []
    for option in wanted:
        old = have.get(option["value"])
        if old is None:
            details.append(f"option + {option['value']} ({option['name']!r})")
        elif old["name"] != option["name"]:
            details.append(f"option ~ {option['value']} name: {old['name']!r} → {option['name']!r}")
    extras = [o for o in current if o["value"] not in want_values]
    kept_order = [o["value"] for o in current if o["value"] in want_values]
    if not details and kept_order != [v for v in want_values if v in have]:
        details.append("options reordered as in mappings")
    return details, extras


def _recorded(plan_state: Mapping[str, Any], kind: str, key: str) -> Any:
    return (plan_state.get(kind) or {}).get(key)


def _recorded_under_other_value(
    recorded: Mapping[str, Any], status_id: Any, value: str, mappings: Mappings
) -> str | None:
    """The value provisioning recorded for this Zendesk status, when it is another value that
    the mappings no longer have (a renamed value)."""
    values = {s.value for s in mappings.statuses}
    for old, old_id in (recorded.get("custom_statuses") or {}).items():
        if str(old_id) == str(status_id) and old != value and old not in values:
            return str(old)
    return None


def _find(
    items: list[dict[str, Any]], recorded: Any, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    if recorded is not None:
        for item in items:
            if str(item.get("id")) == str(recorded):
                return item
    return next((i for i in items if match(i)), None)


def _same_status(spec: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    return bool(
        item.get("status_category") == spec["status_category"]
        and str(item.get("agent_label", "")).lower() == str(spec["agent_label"]).lower()
    )


def _same_field(spec: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    return bool(item.get("title") == spec["title"] and item.get("type") == spec["type"])


def _named(name: str, item: Mapping[str, Any]) -> bool:
    return bool(item.get("name") == name)


def _marked(marker: str, item: Mapping[str, Any]) -> bool:
    return marker in str(item.get("title", ""))


def build_plan(
    client: ZendeskClient, mappings: Mappings, public_url: str, *, prune: bool = False
) -> tuple[Plan, Actual]:
    """Compare the account with mappings/. Reads only (a handful of list calls)."""
    actual = read_actual(client)
    recorded: Mapping[str, Any] = client.state.get(PROVISIONED) or {}
    plan = Plan(ids={k: {} for k in ("custom_statuses", "fields", "groups", "triggers")})

    for value, spec in desired_statuses(mappings).items():
        current = _find(
            actual.custom_statuses,
            _recorded(recorded, "custom_statuses", value),
            partial(_same_status, spec),
        )
        if current is None:
            plan.changes.append(
                Change("create", "custom_status", value, spec["agent_label"], payload=spec)
            )
            continue
        renamed_from = _recorded_under_other_value(recorded, current["id"], value, mappings)
        if renamed_from is not None:
            raise ProvisioningError(
                f"status value {renamed_from!r} was renamed to {value!r} in "
                "mappings/statuses.toml: a status value is permanent (tickets carry the tag "
                f"mo_status_{renamed_from}, and reports and views use it); put {renamed_from!r} "
                "back, or add the new status as a new entry with its own label"
            )
        plan.ids["custom_statuses"][value] = current["id"]
        if current.get("status_category") != spec["status_category"]:
            raise ProvisioningError(
                f"status {value!r}: Zendesk status {current['id']} is in category "
                f"{current.get('status_category')!r}, mappings say {spec['status_category']!r}; "
                "a status cannot change category (give it a new value instead)"
            )
        keys = ["agent_label", "end_user_label", "description", "end_user_description", "active"]
        details = _diff(current, spec, keys)
        if details:
            payload = {k: spec[k] for k in keys}
            plan.changes.append(
                Change(
                    "update",
                    "custom_status",
                    value,
                    spec["agent_label"],
                    details,
                    payload,
                    current["id"],
                )
            )
        else:
            plan.unchanged.append(f"custom_status {value}")

    _plan_category_defaults(plan, actual, mappings)

    for key, spec in desired_fields(mappings).items():
        current = _find(
            actual.ticket_fields,
            _recorded(recorded, "fields", key),
            partial(_same_field, spec),
        )
        if current is None:
            plan.changes.append(Change("create", "ticket_field", key, spec["title"], payload=spec))
            continue
        plan.ids["fields"][key] = current["id"]
        details = _diff(
            current, spec, ["title", "description", "active", *(["tag"] if "tag" in spec else [])]
        )
        payload = {k: spec[k] for k in ("title", "description", "active", "tag") if k in spec}
        if "custom_field_options" in spec:
            option_details, extras = _option_diff(
                current.get("custom_field_options") or [], spec["custom_field_options"]
            )
            details += option_details
            for extra in extras:
                plan.changes.append(
                    Change(
                        "report",
                        "ticket_field",
                        key,
                        spec["title"],
                        [
                            f"option {extra['value']} ({extra['name']!r}) is in Zendesk but not in "
                            + (
                                "mappings: --prune removes it if no ticket uses it"
                                if not prune
                                else "mappings"
                            )
                        ],
                        object_id=current["id"],
                    )
                )
            options = list(spec["custom_field_options"])
            removable = []
            if prune:
                for extra in extras:
                    in_use = client.search_count(f"tags:{extra['value']}")
                    if in_use:
                        plan.changes.append(
                            Change(
                                "report",
                                "ticket_field",
                                key,
                                spec["title"],
                                [
                                    f"option {extra['value']} kept: {in_use} ticket(s) use it (prune refused)"
                                ],
                                object_id=current["id"],
                            )
                        )
                        options.append({"name": extra["name"], "value": extra["value"]})
                    else:
                        removable.append(extra)
                        details.append(f"option - {extra['value']} ({extra['name']!r}) pruned")
            else:
                options += [{"name": e["name"], "value": e["value"]} for e in extras]
            payload["custom_field_options"] = options
        if details:
            plan.changes.append(
                Change(
                    "update", "ticket_field", key, spec["title"], details, payload, current["id"]
                )
            )
        else:
            plan.unchanged.append(f"ticket_field {key}")

    for team in mappings.teams:
        current = _find(
            actual.groups,
            _recorded(recorded, "groups", team.key),
            partial(_named, team.zendesk_group),
        )
        if current is None or current.get("name") != team.zendesk_group:
            # A recorded group renamed by an admin is left alone; ours is the named one.
            current = next((g for g in actual.groups if g.get("name") == team.zendesk_group), None)
        if current is None:
            plan.changes.append(
                Change(
                    "create",
                    "group",
                    team.key,
                    team.zendesk_group,
                    payload={"name": team.zendesk_group},
                )
            )
        else:
            plan.ids["groups"][team.key] = current["id"]
            plan.unchanged.append(f"group {team.key}")

    webhook_spec = desired_webhook(public_url)
    webhook = _find(
        actual.webhooks, recorded.get("webhook"), lambda w: w.get("name") == WEBHOOK_NAME
    )
    if webhook is None:
        plan.changes.append(
            Change("create", "webhook", "webhook", WEBHOOK_NAME, payload=webhook_spec)
        )
    else:
        plan.ids["webhook"] = webhook["id"]
        details = _diff(
            webhook,
            webhook_spec,
            [
                "name",
                "description",
                "endpoint",
                "http_method",
                "request_format",
                "status",
                "subscriptions",
            ],
        )
        if details:
            plan.changes.append(
                Change(
                    "update",
                    "webhook",
                    "webhook",
                    WEBHOOK_NAME,
                    details,
                    webhook_spec,
                    webhook["id"],
                )
            )
        else:
            plan.unchanged.append("webhook")

    field_ids = {k: plan.ids["fields"].get(k, f"<new {k}>") for k in FIELD_TITLES}
    webhook_id = plan.ids.get("webhook", "<new webhook>")
    for kind in TRIGGER_KEYS:
        spec = desired_trigger(kind, webhook_id, field_ids)
        marker = MARKER.format(kind=kind)
        current = _find(
            actual.triggers,
            _recorded(recorded, "triggers", kind),
            partial(_marked, marker),
        )
        if current is None:
            plan.changes.append(Change("create", "trigger", kind, spec["title"], payload=spec))
            continue
        plan.ids["triggers"][kind] = current["id"]
        details = _diff(current, spec, ["title", "description", "active", "conditions", "actions"])
        if details:
            plan.changes.append(
                Change("update", "trigger", kind, spec["title"], details, spec, current["id"])
            )
        else:
            plan.unchanged.append(f"trigger {kind}")
    _plan_status_tag_triggers(plan, actual, recorded, mappings)
    _plan_drift(plan, actual, recorded)
    return plan, actual


# Zendesk's system statuses as an account starts with them (English agent labels).
GENERIC_LABELS = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
}


def _plan_category_defaults(plan: Plan, actual: Actual, mappings: Mappings) -> None:
    """One change per category whose Zendesk default is not the mappings' `category_default`
    (Zendesk gives a ticket its category's default when a status is set without a custom
    status: a requester's reply, an agent choosing Pending)."""
    labels = {s["id"]: s.get("agent_label") for s in actual.custom_statuses}
    current = {s["status_category"]: s["id"] for s in actual.custom_statuses if s.get("default")}
    for category in sorted({s.category for s in mappings.statuses}):
        wanted = mappings.category_default(category)
        if wanted is None:
            continue
        wanted_id = plan.ids["custom_statuses"].get(wanted.value)
        if wanted_id is not None and current.get(category) == wanted_id:
            plan.unchanged.append(f"category_default {category}")
            continue
        old = labels.get(current.get(category), "none")
        plan.changes.append(
            Change(
                "update",
                "category_default",
                category,
                wanted.agent_label,
                [f"default of {category!r}: {old!r} -> {wanted.agent_label!r}"],
                {"value": wanted.value},
            )
        )
    # Zendesk's own statuses (the generic New, Open, Pending, On-hold, Solved): the defaults
    # before cxlayer's, remembered so that the sweep and the status rule can tell them from
    # statuses an admin added outside the mappings.
    ours = set(plan.ids["custom_statuses"].values())
    system = {
        s["status_category"]: s["id"]
        for s in actual.custom_statuses
        if s["id"] not in ours and s.get("agent_label") == GENERIC_LABELS.get(s["status_category"])
    }
    system.update({c: i for c, i in current.items() if i not in ours})
    plan.ids["system_statuses"] = system


# ------------------------------------------------------------------------------- apply
@dataclass
class ApplyReport:
    plan: Plan
    applied: list[str] = field(default_factory=list)
    state_updated: list[str] = field(default_factory=list)

    def render(self) -> str:
        if not self.plan.pending:
            lines = [NO_CHANGES]
        else:
            lines = [*self.applied, f"Applied {len(self.applied)} change(s).", RESTART_NOTICE]
        lines += [f"recorded {k}" for k in self.state_updated]
        return "\n".join(lines)


def apply(
    client: ZendeskClient, mappings: Mappings, public_url: str, *, prune: bool = False
) -> ApplyReport:
    """Make the account match; a second run finds nothing to do and writes nothing to Zendesk."""
    plan, _actual = build_plan(client, mappings, public_url, prune=prune)
    report = ApplyReport(plan)
    ids = plan.ids
    # Order matters: fields and the webhook before the triggers that reference them.
    order = ["custom_status", "category_default", "ticket_field", "group", "webhook", "trigger"]
    for kind in order:
        if kind == "category_default":
            defaults = [c for c in plan.pending if c.kind == kind]
            if defaults:
                chosen = ",".join(str(ids["custom_statuses"][c.payload["value"]]) for c in defaults)
                with idempotent_writes():
                    client.call("PUT", "/api/v2/custom_status/default.json", body={"ids": chosen})
                report.applied += [c.render() for c in defaults]
            continue
        for change in [c for c in plan.pending if c.kind == kind]:
            if kind == "trigger" and change.key.startswith(STATUS_TAG_KEY.format(value="")):
                change.payload = _status_tag_spec(change.key, ids["custom_statuses"], mappings)
            elif kind == "trigger":
                field_ids = ids["fields"]
                change.payload = desired_trigger(change.key, ids["webhook"], field_ids)
            created_id = _write(client, change)
            bucket = {
                "custom_status": "custom_statuses",
                "ticket_field": "fields",
                "group": "groups",
                "trigger": "triggers",
            }.get(kind)
            if bucket is None:
                ids["webhook"] = created_id
            else:
                ids[bucket][change.key] = created_id
            report.applied.append(change.render())
    if plan.pending:
        client.forget_caches()
    _record(client, ids, report)
    return report


def _write(client: ZendeskClient, change: Change) -> Any:
    """One create or update. Updates set full values, so resending after a 5xx is harmless."""
    path, wrapper = {
        "custom_status": ("/api/v2/custom_statuses", "custom_status"),
        "ticket_field": ("/api/v2/ticket_fields", "ticket_field"),
        "group": ("/api/v2/groups", "group"),
        "webhook": ("/api/v2/webhooks", "webhook"),
        "trigger": ("/api/v2/triggers", "trigger"),
    }[change.kind]
    if change.action == "create":
        answer = client.call("POST", f"{path}.json", body={wrapper: change.payload})
        return answer[wrapper]["id"]
    with idempotent_writes():
        client.call("PUT", f"{path}/{change.object_id}.json", body={wrapper: change.payload})
    return change.object_id


def _system_statuses(recorded: Mapping[str, Any], ids: Mapping[str, Any]) -> dict[str, Any]:
    """Zendesk's own statuses, as first seen (once cxlayer's are the defaults, a later plan
    cannot tell them from an admin's)."""
    return dict(recorded.get("system_statuses") or ids.get("system_statuses") or {})


def _record(client: ZendeskClient, ids: dict[str, Any], report: ApplyReport) -> None:
    """Remember ids, the webhook's signing secret and our API user (local writes only if changed)."""
    state = client.state
    provisioned = {
        "custom_statuses": ids["custom_statuses"],
        "fields": ids["fields"],
        "groups": ids["groups"],
        "triggers": ids["triggers"],
        "webhook": ids.get("webhook"),
        "checkbox_tags": dict(CHECKBOX_TAGS),
        "system_statuses": _system_statuses(state.get(PROVISIONED) or {}, ids),
    }
    if state.get(PROVISIONED) != provisioned:
        state.set(PROVISIONED, provisioned)
        report.state_updated.append(PROVISIONED)
    if ids.get("webhook") is not None:
        secret = client.call("GET", f"/api/v2/webhooks/{ids['webhook']}/signing_secret.json")
        value = (secret.get("signing_secret") or {}).get("secret")
        if value and state.get(WEBHOOK_SIGNING_SECRET) != value:
            state.set(WEBHOOK_SIGNING_SECRET, value)
            report.state_updated.append(WEBHOOK_SIGNING_SECRET)
    me = client.me()
    if state.get(SERVICE_USER_ID) != me.get("id"):
        state.set(SERVICE_USER_ID, me.get("id"))
        report.state_updated.append(SERVICE_USER_ID)
