"""The worker's event handler on the sandbox: fresh reads, one write, re-decide on 409, audit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask

import store
from mappings import load_mappings
from sandbox.testing import SandboxHandle
from settings import ROOT
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import DbStateStore, ZendeskClient, client_for
from sync.provisioning import apply
from sync.snapshot import Provisioned
from tests.webhooks.test_health import scrape
from triggers.autosolve_texts import long_date
from triggers.business_days import add_business_days
from triggers.model import COMMENT_ADDED, STATUS_CHANGED, TicketSnapshot
from webhooks import inbox
from webhooks.handler import CONFIRMED, handle_event
from webhooks.worker import process_one

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


def _comment_event(
    app: Flask, ticket_id: int, invocation_id: str, actor_id: int, kind: str = COMMENT_ADDED
) -> Any:
    """An event of `kind` (a comment by default) made by `actor_id`."""
    with store.session(app) as session:
        event_id = inbox.add_event(
            session,
            invocation_id=invocation_id,
            webhook_id="wh",
            data={"event": kind, "ticket_id": ticket_id, "current_user_id": actor_id},
            payload={},
        )
        return session.get(store.InboxEvent, event_id)


def test_a_status_change_reads_the_comments_only_where_the_clock_needs_them(
    app: Flask, zd: SandboxHandle
) -> None:
    """Comments and their authors' roles cost two calls: a person's status change reads them
    when the ticket is "Awaiting your reply" or shows "Auto-solve due" (the clock starts from
    them even when the status event comes before the comment's), and not otherwise."""
    headers = _agent_headers(zd)
    agent = next(
        u["id"]
        for u in zd.api("GET", "/api/v2/users.json").json()["users"]
        if u["email"] == "dana.agent@mediaocean.example"
    )
    ticket = _as_user(
        zd,
        "POST",
        "/api/v2/tickets.json",
        json={"ticket": {"subject": "Estimate locked", "comment": {"body": "Cannot edit it."}}},
        headers=headers,
    ).json()["ticket"]
    with client_for(app) as client:
        provisioned = Provisioned.load(client)

    def status_change(invocation_id: str, change: dict[str, Any]) -> dict[str, int]:
        _as_user(
            zd,
            "PUT",
            f"/api/v2/tickets/{ticket['id']}.json",
            json={"ticket": change},
            headers=headers,
        )
        zd.reset_stats()
        handle_event(
            app, _comment_event(app, ticket["id"], invocation_id, agent, kind=STATUS_CHANGED)
        )
        calls: dict[str, int] = zd.stats()["endpoints"]
        return {k: v for k, v in calls.items() if "/api/" in k}

    comments = "GET /api/v2/tickets/<int:ticket_id>/comments"
    asked = status_change(
        "inv-awaiting",
        {
            "custom_status_id": provisioned.status_id("awaiting_reply"),
            "comment": {"body": "Which estimate is it?", "public": True},
        },
    )
    assert asked.get(comments) == 1
    with client_for(app) as client:
        assert client.read_snapshot(ticket["id"]).field("auto_solve_due") is not None

    stopped = status_change("inv-open", {"custom_status_id": provisioned.status_id("open_cx")})
    assert stopped.get(comments) == 1
    with client_for(app) as client:
        assert client.read_snapshot(ticket["id"]).field("auto_solve_due") is None

    moved = status_change(
        "inv-product", {"custom_status_id": provisioned.status_id("open_product")}
    )
    assert moved == {"GET /api/v2/tickets/<int:ticket_id>": 1}  # one read, nothing to write


def _merge_into(zd: SandboxHandle, source: int, target: int) -> None:
    """An agent merges `source` into `target` (Zendesk closes the source); waits for the job."""
    _as_user(
        zd,
        "POST",
        f"/api/v2/tickets/{target}/merge.json",
        json={"ids": [source]},
        headers=_agent_headers(zd),
    )
    deadline = time.monotonic() + 30
    while zd.api("GET", f"/api/v2/tickets/{source}.json").json()["ticket"]["status"] != "closed":
        assert time.monotonic() < deadline, "merge did not close the ticket"
        time.sleep(0.1)


def _audit(app: Flask, invocation_id: str) -> list[store.AuditEntry]:
    with store.session(app, readonly=True) as session:
        return store.list_audit(session, invocation_id=invocation_id)


def _writes(zd: SandboxHandle, ticket_id: int) -> int:
    return len(zd.api("GET", f"/api/v2/tickets/{ticket_id}/audits.json").json()["audits"])


def test_a_ticket_merged_before_its_event_is_processed_gets_no_decision_and_completes(
    app: Flask, zd: SandboxHandle
) -> None:
    ticket_id = _on_hold_ticket(zd, app)  # status mapping would act on it
    target = _on_hold_ticket(zd, app)
    _merge_into(zd, ticket_id, target)
    writes = _writes(zd, ticket_id)
    handle_event(app, _event(app, ticket_id, "inv-closed"))  # returns: the event completes
    assert _writes(zd, ticket_id) == writes  # nothing was sent to Zendesk
    assert _audit(app, "inv-closed") == []


def test_a_ticket_merged_between_read_and_write_is_refused_once_audited_and_completes(
    app: Flask, zd: SandboxHandle
) -> None:
    """Zendesk's 422 ("closed prevents ticket update") is not retried: the intent is settled
    as not applied with Zendesk's reason, a fresh read sees the closed ticket, and the event
    completes instead of waiting through eight attempts in front of the ticket's others."""
    ticket_id = _on_hold_ticket(zd, app)
    target = _on_hold_ticket(zd, app)
    calls: list[int] = []

    class MergingClient(ZendeskClient):
        def apply_actions(self, ticket: TicketSnapshot, actions: Any) -> Any:
            calls.append(ticket.id)
            if len(calls) == 1:  # an agent merges the ticket just before our write lands
                _merge_into(zd, ticket.id, target)
            return super().apply_actions(ticket, actions)

    mappings = load_mappings()
    app.extensions["cxlayer.zendesk_client_factory"] = lambda a: MergingClient.from_settings(
        a.config["CXLAYER"], DbStateStore(a), mappings=mappings
    )
    handle_event(app, _event(app, ticket_id, "inv-merged"))
    assert calls == [ticket_id]  # one write attempt, never repeated
    rows = _audit(app, "inv-merged")
    assert rows and {r.state for r in rows} == {store.NOT_APPLIED}
    assert all("422" in (r.api_result or "") for r in rows), [r.api_result for r in rows]


def test_a_permanent_zendesk_error_dead_letters_the_event_at_once_with_the_reason(
    app: Flask, zd: SandboxHandle
) -> None:
    ticket_id = _on_hold_ticket(zd, app)
    _event(app, ticket_id, "inv-forbidden")
    zd.set_faults(error_rate=1.0, status=403, paths=[f"/api/v2/tickets/{ticket_id}"])
    try:
        assert process_one(app, "w1") is not None
    finally:
        zd.clear_faults()
    with store.session(app, readonly=True) as session:
        (event,) = inbox.list_events(session)
    assert (event.status, event.attempts) == (store.FAILED, 1)  # not 8 attempts
    assert "403" in (event.last_error or "")


CRASH_AFTER_WRITE = """
import os, signal
from app import create_app
from sync import ZendeskClient
from webhooks.worker import process_one

write = ZendeskClient.apply_actions

def write_then_die(self, ticket, actions):
    result = write(self, ticket, actions)
    os.kill(os.getpid(), signal.SIGKILL)  # after Zendesk applied it, before anything else
    return result

ZendeskClient.apply_actions = write_then_die
process_one(create_app(), "doomed-worker")
"""


def test_a_worker_killed_between_the_write_and_the_audit_leaves_no_change_unaudited(
    app: Flask, zd: SandboxHandle
) -> None:
    ticket_id = _on_hold_ticket(zd, app)
    _event(app, ticket_id, "inv-crash")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CXLAYER_DATABASE_URL": store.engine(app).url.render_as_string(False),
        "CXLAYER_ZENDESK_SUBDOMAIN": zd.subdomain,
        "CXLAYER_ZENDESK_URL": zd.base_url,
        "CXLAYER_ZENDESK_EMAIL": zd.email,
        "CXLAYER_ZENDESK_TOKEN": zd.token,
        "CXLAYER_SERVICE_PUBLIC_URL": zd.base_url + "/nowhere",
    }
    worker = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_WRITE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stdout[-3000:] + worker.stderr[-3000:]
    ticket = zd.api("GET", f"/api/v2/tickets/{ticket_id}.json").json()["ticket"]
    assert "mo_status_open_product" in ticket["tags"]  # the change is on the ticket ...
    crashed = _audit(app, "inv-crash")
    assert crashed and {r.state for r in crashed} == {store.INTENDED}  # ... and on record

    # Another worker takes the event over once the dead worker's lease expires.
    later = store.utcnow() + timedelta(minutes=5)
    assert process_one(app, "w2", now=later) is not None
    settled = _audit(app, "inv-crash")
    assert [r.id for r in settled] == [r.id for r in crashed]  # completed, not duplicated
    assert {r.state for r in settled} == {store.APPLIED}
    assert {r.api_result for r in settled} == {CONFIRMED}
    assert ("status_mapping", "set_custom_status") in {(r.rule, r.action) for r in settled}
    # Leaving Zendesk's generic status for the guide's default is audited, not noted to agents.
    assert _notes(zd, ticket_id) == []
    statuses = zd.api("GET", "/api/v2/custom_statuses.json").json()["custom_statuses"]
    now_status = zd.api("GET", f"/api/v2/tickets/{ticket_id}.json").json()["ticket"]
    label = next(s["agent_label"] for s in statuses if s["id"] == now_status["custom_status_id"])
    assert label == "Open – with product/development"
    with store.session(app, readonly=True) as session:
        (event,) = inbox.list_events(session)
    assert event.status == store.DONE


def test_zendesk_calls_and_429_waits_are_counted_by_endpoint(app: Flask, zd: SandboxHandle) -> None:
    ticket_id = _on_hold_ticket(zd, app)
    before = scrape(app)
    zd.set_faults(error_rate=0.5, status=429, random_seed=3, paths=["/api/v2/tickets/"])
    try:
        handle_event(app, _event(app, ticket_id, "inv-metrics"))
    finally:
        zd.clear_faults()
    after = scrape(app)
    put = (
        "cxlayer_zendesk_api_calls_total"
        "[('endpoint', 'PUT /api/v2/tickets/{id}.json'), ('status', '200')]"
    )
    assert after[put] - before.get(put, 0) == 1
    waits = [
        key
        for key in after
        if key.startswith("cxlayer_zendesk_waits_total") and "'reason', '429'" in key
    ]
    assert waits and sum(after[k] - before.get(k, 0) for k in waits) >= 1
