"""The worker's event handler on the sandbox: fresh reads, one write, re-decide on 409, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

import store
from mappings import load_mappings
from sandbox.testing import SandboxHandle
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import DbStateStore, ZendeskClient, client_for
from sync.provisioning import apply
from sync.snapshot import Provisioned
from triggers.autosolve_texts import long_date
from triggers.business_days import add_business_days
from triggers.model import COMMENT_ADDED, STATUS_CHANGED, TicketSnapshot
from webhooks import inbox
from webhooks.handler import handle_event

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_db_app: Callable[..., Flask], zd: SandboxHandle) -> Flask:  # noqa: F811
    application = make_db_app(
        SETTINGS={
            "zendesk": {
                "subdomain": zd.subdomain,
                "url": zd.base_url,
                "email": zd.email,
                "token": zd.token,
            },
            # Deliveries go nowhere: these tests hand events to the handler themselves.
            "service": {"public_url": zd.base_url + "/nowhere"},
        }
    )
    with client_for(application) as client:
        apply(client, load_mappings(), application.config["CXLAYER"]["service"]["public_url"])
    return application


def _as_user(
    zd: SandboxHandle, method: str, path: str, *, headers: dict[str, str], **kwargs: Any
) -> Any:
    """A request made by another user (the handle's own session always speaks as the admin)."""
    response = requests.request(method, zd.base_url + path, headers=headers, timeout=10, **kwargs)
    response.raise_for_status()
    return response


def _agent_headers(zd: SandboxHandle) -> dict[str, str]:
    """Act as a human agent (not cxlayer's API user, whose events rules mostly ignore)."""
    email = "dana.agent@mediaocean.example"
    users = zd.api("GET", "/api/v2/users.json").json()["users"]
    if not any(u["email"] == email for u in users):
        zd.api(
            "POST",
            "/api/v2/users.json",
            json={"user": {"name": "Dana", "email": email, "role": "agent"}},
        )
    return {"Authorization": f"Bearer {zd.oauth_token}", "X-On-Behalf-Of": email}


def _on_hold_ticket(zd: SandboxHandle, app: Flask) -> int:
    """A ticket an agent put on hold with Zendesk's generic status (status mapping must act)."""
    headers = _agent_headers(zd)
    ticket = _as_user(
        zd,
        "POST",
        "/api/v2/tickets.json",
        json={
            "ticket": {"subject": "Spots missing", "comment": {"body": "Half the spots vanished."}}
        },
        headers=headers,
    ).json()["ticket"]
    statuses = zd.api("GET", "/api/v2/custom_statuses.json").json()["custom_statuses"]
    on_hold = next(s["id"] for s in statuses if s["agent_label"] == "On-hold")
    _as_user(
        zd,
        "PUT",
        f"/api/v2/tickets/{ticket['id']}.json",
        json={"ticket": {"custom_status_id": on_hold}},
        headers=headers,
    )
    return int(ticket["id"])


def _event(app: Flask, ticket_id: int, invocation_id: str) -> Any:
    with store.session(app) as session:
        event_id = inbox.add_event(
            session,
            invocation_id=invocation_id,
            webhook_id="wh",
            data={"event": STATUS_CHANGED, "ticket_id": ticket_id, "current_user_id": 1},
            payload={},
        )
        return session.get(store.InboxEvent, event_id)


def _notes(zd: SandboxHandle, ticket_id: int) -> list[str]:
    comments = zd.api("GET", f"/api/v2/tickets/{ticket_id}/comments.json").json()["comments"]
    return [c["body"] for c in comments if not c["public"]]


def test_an_event_is_applied_once_and_audited_even_when_delivered_again(
    app: Flask, zd: SandboxHandle
) -> None:
    ticket_id = _on_hold_ticket(zd, app)
    handle_event(app, _event(app, ticket_id, "inv-1"))
    handle_event(app, _event(app, ticket_id, "inv-2"))  # same news again: nothing more to do
    with client_for(app) as client:
        snapshot = client.read_snapshot(ticket_id)
    assert snapshot.custom_status == "open_product"
    assert "mo_status_open_product" in snapshot.tags  # folded into the status write
    # Zendesk's generic On-hold became the guide's on-hold default: no person's choice undone,
    # so agents get no note; the audit has the change.
    assert _notes(zd, ticket_id) == []
    with store.session(app) as session:
        rows = session.query(store.AuditEntry).filter_by(ticket_id=ticket_id).all()
    actions = {(r.rule, r.action, r.invocation_id) for r in rows}
    assert ("status_mapping", "set_custom_status", "inv-1") in actions
    assert ("status_mapping", "internal_note", "inv-1") not in actions
    assert not [r for r in rows if r.invocation_id == "inv-2"]


def test_a_ticket_changed_between_read_and_write_is_read_and_decided_again(
    app: Flask, zd: SandboxHandle
) -> None:
    """A 409 is never forced through: the handler reads the new state and decides on it."""
    ticket_id = _on_hold_ticket(zd, app)
    headers = _agent_headers(zd)
    raced: list[int] = []

    class RacingClient(ZendeskClient):
        def apply_actions(self, ticket: TicketSnapshot, actions: Any) -> Any:
            if not raced:  # an agent tags the ticket just before our first write lands
                raced.append(ticket.id)
                _as_user(
                    zd,
                    "PUT",
                    f"/api/v2/tickets/{ticket.id}.json",
                    json={"ticket": {"additional_tags": ["vip_client"]}},
                    headers=headers,
                )
            return super().apply_actions(ticket, actions)

    mappings = load_mappings()
    app.extensions["cxlayer.zendesk_client_factory"] = lambda a: RacingClient.from_settings(
        a.config["CXLAYER"], DbStateStore(a), mappings=mappings
    )
    handle_event(app, _event(app, ticket_id, "inv-race"))
    ticket = zd.api("GET", f"/api/v2/tickets/{ticket_id}.json").json()["ticket"]
    assert raced == [ticket_id]
    assert "vip_client" in ticket["tags"]  # the agent's change survived
    assert "mo_status_open_product" in ticket["tags"]
    with client_for(app) as client:
        provisioned = Provisioned.load(client)
    assert ticket["custom_status_id"] == provisioned.status_id("open_product")
    assert _notes(zd, ticket_id) == []


def test_an_event_about_a_deleted_ticket_is_dropped_not_retried(app: Flask) -> None:
    handle_event(app, _event(app, 999_999, "inv-gone"))  # raising would make the worker retry
    with store.session(app) as session:
        assert session.query(store.AuditEntry).filter_by(ticket_id=999_999).count() == 0


def test_an_agents_question_shows_the_auto_solve_date_and_a_reply_clears_it(
    app: Flask, zd: SandboxHandle
) -> None:
    """The clock starts at the agent's public comment (not at the next nightly sweep)."""
    headers = _agent_headers(zd)
    requester = "rita.requester@agency.example"
    zd.api("POST", "/api/v2/users.json", json={"user": {"name": "Rita", "email": requester}})
    ticket = _as_user(
        zd,
        "POST",
        "/api/v2/tickets.json",
        json={
            "ticket": {
                "subject": "Cannot approve the estimate",
                "comment": {"body": "The approve button is grey."},
                "requester": {"email": requester, "name": "Rita"},
            }
        },
        headers=headers,
    ).json()["ticket"]
    with client_for(app) as client:
        provisioned = Provisioned.load(client)
    _as_user(
        zd,
        "PUT",
        f"/api/v2/tickets/{ticket['id']}.json",
        json={
            "ticket": {
                "custom_status_id": provisioned.status_id("awaiting_reply"),
                "comment": {"body": "Which estimate number is it?", "public": True},
            }
        },
        headers=headers,
    )
    users = {u["email"]: u["id"] for u in zd.api("GET", "/api/v2/users.json").json()["users"]}
    handle_event(
        app, _comment_event(app, ticket["id"], "inv-ask", users["dana.agent@mediaocean.example"])
    )
    with client_for(app) as client:
        asked = client.read_snapshot(ticket["id"], with_comments=True)
    agent_comment = max(c.created_at for c in asked.comments if c.public)
    team = load_mappings().team_for_group(asked.group)
    assert asked.field("auto_solve_due") == add_business_days(team, agent_comment, 5)
    due, remind = (
        add_business_days(team, agent_comment, 5),
        add_business_days(team, agent_comment, 3),
    )
    (plan,) = [n for n in _notes(zd, ticket["id"]) if "Auto-solve due set to" in n]
    # The note announces both the reminder and the solve, with their dates (agents learn
    # of the sweep's changes before they happen: its writes carry the requester's comment).
    assert f"reminder after the end of {long_date(remind)}" in plan
    assert f"after the end of {long_date(due)} (5 business days)" in plan

    _as_user(
        zd,
        "PUT",
        f"/api/v2/tickets/{ticket['id']}.json",
        json={"ticket": {"comment": {"body": "It is EST-4471.", "public": True}}},
        headers={"Authorization": f"Bearer {zd.oauth_token}", "X-On-Behalf-Of": requester},
    )
    handle_event(app, _comment_event(app, ticket["id"], "inv-reply", users[requester]))
    with client_for(app) as client:
        replied = client.read_snapshot(ticket["id"])
    assert replied.status == "open"  # Zendesk reopens on the requester's reply
    assert replied.field("auto_solve_due") is None


def _comment_event(app: Flask, ticket_id: int, invocation_id: str, actor_id: int) -> Any:
    with store.session(app) as session:
        event_id = inbox.add_event(
            session,
            invocation_id=invocation_id,
            webhook_id="wh",
            data={"event": COMMENT_ADDED, "ticket_id": ticket_id, "current_user_id": actor_id},
            payload={},
        )
        return session.get(store.InboxEvent, event_id)
