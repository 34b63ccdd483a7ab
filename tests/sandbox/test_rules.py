"""Trigger condition operators and placeholder rendering, on in-memory changes (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.account import Account, Change
from sandbox.delivery import Deliverer
from sandbox.rules import TriggerEngine
from sandbox.store import Store


@pytest.fixture
def engine() -> TriggerEngine:
    store = Store()
    return TriggerEngine(Account(store), Deliverer(store))


def ticket(**values: Any) -> dict[str, Any]:
    base = {
        "id": 7,
        "status": "open",
        "custom_status_id": 11,
        "priority": None,
        "group_id": None,
        "tags": [],
        "_cf": {},
    }
    return {**base, **values}


def change(
    before: dict[str, Any] | None,
    after: dict[str, Any],
    comment: dict[str, Any] | None = None,
    actor: int = 1,
) -> Change:
    return Change("Create" if before is None else "Change", before, after, actor, comment)


CASES = [
    # (condition, before, after, expected)
    ({"field": "status", "operator": "is", "value": "open"}, ticket(), ticket(), True),
    ({"field": "status", "operator": "is_not", "value": "open"}, ticket(), ticket(), False),
    ({"field": "status", "operator": "less_than", "value": "pending"}, ticket(), ticket(), True),
    (
        {"field": "status", "operator": "greater_than", "value": "pending"},
        ticket(),
        ticket(status="solved"),
        True,
    ),
    ({"field": "status", "operator": "greater_than", "value": "bogus"}, ticket(), ticket(), False),
    (
        {"field": "status", "operator": "changed", "value": None},
        ticket(),
        ticket(status="pending"),
        True,
    ),
    ({"field": "status", "operator": "changed", "value": None}, ticket(), ticket(), False),
    ({"field": "status", "operator": "changed", "value": None}, None, ticket(), True),
    ({"field": "status", "operator": "not_changed", "value": None}, ticket(), ticket(), True),
    (
        {"field": "status", "operator": "value", "value": "pending"},
        ticket(),
        ticket(status="pending"),
        True,
    ),
    (
        {"field": "status", "operator": "not_value", "value": "pending"},
        ticket(),
        ticket(status="hold"),
        True,
    ),
    (
        {"field": "status", "operator": "value_previous", "value": "open"},
        ticket(),
        ticket(status="hold"),
        True,
    ),
    (
        {"field": "status", "operator": "not_value_previous", "value": "open"},
        ticket(),
        ticket(status="hold"),
        False,
    ),
    (
        {"field": "status_id", "operator": "is", "value": 12},
        ticket(),
        ticket(custom_status_id=12),
        True,
    ),
    (
        {"field": "custom_status_id", "operator": "value", "value": "12"},
        ticket(),
        ticket(custom_status_id=12),
        True,
    ),
    (
        {"field": "group_id", "operator": "present", "value": None},
        ticket(),
        ticket(group_id=3),
        True,
    ),
    ({"field": "group_id", "operator": "not_present", "value": None}, ticket(), ticket(), True),
    ({"field": "priority", "operator": "is", "value": ""}, ticket(), ticket(), True),
    (
        {"field": "custom_fields_5", "operator": "is", "value": "code_fix"},
        ticket(),
        ticket(_cf={"5": "code_fix"}),
        True,
    ),
    (
        {"field": "custom_fields_5", "operator": "changed", "value": None},
        ticket(_cf={"5": "a"}),
        ticket(_cf={"5": "a"}),
        False,
    ),
    (
        {"field": "current_tags", "operator": "includes", "value": "vip gold"},
        ticket(),
        ticket(tags=["gold"]),
        True,
    ),
    (
        {"field": "current_tags", "operator": "not_includes", "value": "vip gold"},
        ticket(),
        ticket(tags=["gold"]),
        False,
    ),
    ({"field": "update_type", "operator": "is", "value": "Create"}, None, ticket(), True),
    ({"field": "update_type", "operator": "is_not", "value": "Create"}, None, ticket(), False),
    ({"field": "role", "operator": "is", "value": "agent"}, ticket(), ticket(), True),
    (
        {"field": "assignee_id", "operator": "is", "value": "current_user"},
        ticket(),
        ticket(assignee_id=1000001),
        True,
    ),
    (
        {"field": "requester_id", "operator": "is", "value": "current_user"},
        ticket(),
        ticket(requester_id=5),
        False,
    ),
    ({"field": "role", "operator": "is_not", "value": "end_user"}, ticket(), ticket(), True),
]


@pytest.mark.parametrize(("condition", "before", "after", "expected"), CASES)
def test_condition_operators(
    engine: TriggerEngine, condition: dict[str, Any], before: Any, after: Any, expected: bool
) -> None:
    admin = engine.account.admin()
    trigger = {"conditions": {"all": [condition], "any": []}}
    assert engine.matches(trigger, change(before, after, actor=admin["id"])) is expected


@pytest.mark.parametrize(
    ("value", "comment", "expected"),
    [
        ("true", {"public": True}, True),
        ("true", {"public": False}, False),
        (False, {"public": False}, True),
        ("not_relevant", {"public": False}, True),
        ("not_relevant", None, False),
    ],
)
def test_comment_is_public(
    engine: TriggerEngine, value: Any, comment: dict[str, Any] | None, expected: bool
) -> None:
    trigger = {
        "conditions": {"all": [{"field": "comment_is_public", "operator": "is", "value": value}]}
    }
    assert engine.matches(trigger, change(ticket(), ticket(), comment)) is expected


def test_any_needs_one_match_and_empty_any_is_ignored(engine: TriggerEngine) -> None:
    one = {"field": "status", "operator": "is", "value": "open"}
    other = {"field": "status", "operator": "is", "value": "hold"}
    assert engine.matches(
        {"conditions": {"all": [], "any": [other, one]}}, change(ticket(), ticket())
    )
    assert not engine.matches(
        {"conditions": {"all": [], "any": [other]}}, change(ticket(), ticket())
    )
    assert engine.matches({"conditions": {"all": [one], "any": []}}, change(ticket(), ticket()))


def test_placeholders_render_as_json_escaped_strings_and_unknown_ones_empty(
    engine: TriggerEngine,
) -> None:
    account = engine.account
    requester = account.create_user({"name": 'Ana "Q"', "email": "ana@agency.example"})
    made = account.create_ticket(
        {"subject": 'Say "hi"\nplease', "comment": {"body": "b"}, "requester_id": requester["id"]},
        account.admin()["id"],
    )
    template = json.dumps(
        {
            "id": "{{ticket.id}}",
            "subject": "{{ticket.title}}",
            "name": "{{ticket.requester.name}}",
            "status": "{{ticket.status}}",
            "label": "{{ticket.ticket_status}}",
            "unknown": "{{ticket.no_such_thing}}",
            "comment_author": "{{ticket.latest_comment.author.id}}",
        }
    )
    rendered = json.loads(engine.render(template, made))
    assert rendered == {
        "id": str(made.after["id"]),
        "subject": 'Say "hi"\nplease',
        "name": 'Ana "Q"',
        "status": "New",
        "label": "New",
        "unknown": "",
        "comment_author": str(requester["id"]),
    }
