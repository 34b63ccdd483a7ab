"""End to end: the sandbox's triggers deliver real signed webhooks (provisioning's body
template) to a running `serve`, which stores them and hands them to its workers; a wrong
secret stores nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import store
from sandbox.testing import SandboxHandle
from sync.provisioning import body_template
from triggers.model import STATUS_CHANGED

from .conftest import attempted, run_service

ON_HOLD = {
    "all": [
        {"field": "update_type", "operator": "is", "value": "Change"},
        {"field": "status", "operator": "value", "value": "hold"},
    ],
    "any": [],
}


def hook_up(zd: SandboxHandle, endpoint: str) -> str:
    """What provisioning does: a webhook to the service and a trigger posting its template."""
    webhook = zd.api(
        "POST",
        "webhooks",
        json={
            "webhook": {
                "name": "cxlayer",
                "endpoint": endpoint,
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["conditional_ticket_events"],
            }
        },
    ).json()["webhook"]
    trigger = zd.api(
        "POST",
        "triggers",
        json={
            "trigger": {
                "title": "cxlayer: status changed",
                "conditions": ON_HOLD,
                "actions": [
                    {
                        "field": "notification_webhook",
                        "value": [webhook["id"], body_template(STATUS_CHANGED)],
                    }
                ],
            }
        },
    )
    assert trigger.status_code == 201, trigger.text
    secret: str = zd.api("GET", f"webhooks/{webhook['id']}/signing_secret").json()[
        "signing_secret"
    ]["secret"]
    return secret


def put_on_hold(zd: SandboxHandle) -> dict[str, Any]:
    created = zd.api(
        "POST", "tickets.json", json={"ticket": {"subject": "s", "comment": {"body": "b"}}}
    )
    assert created.status_code == 201, created.text
    ticket_id = created.json()["ticket"]["id"]
    updated = zd.api("PUT", f"tickets/{ticket_id}.json", json={"ticket": {"status": "hold"}})
    assert updated.status_code == 200, updated.text
    ticket: dict[str, Any] = updated.json()["ticket"]
    return ticket


def inbox_rows(app: Flask) -> list[store.InboxEvent]:
    with store.session(app) as sess:
        return list(sess.scalars(select(store.InboxEvent)))


@pytest.mark.integration
def test_sandbox_deliveries_are_verified_stored_and_processed(
    db_app: Flask, zd: SandboxHandle
) -> None:
    with run_service(db_app) as (url, _process, _lines):
        secret = hook_up(zd, f"{url}/webhooks/zendesk")
        with store.session(db_app) as sess:  # provisioning stores the secret it read back
            store.set_state(sess, store.WEBHOOK_SIGNING_SECRET, secret)
        ticket = put_on_hold(zd)
        [delivery] = zd.deliveries(wait=30)
        assert [attempt["status"] for attempt in delivery["attempts"]] == [202]

        deadline = time.monotonic() + 60  # the service's own workers pick it up
        while time.monotonic() < deadline:
            rows = inbox_rows(db_app)
            if rows and attempted(rows[0]):
                break
            time.sleep(0.1)
    [row] = inbox_rows(db_app)
    admin = zd.api("GET", "users/me.json").json()["user"]
    assert attempted(row)
    assert (row.invocation_id, row.ticket_id, row.kind) == (
        delivery["invocation_id"],
        ticket["id"],
        STATUS_CHANGED,
    )
    assert row.actor_id == admin["id"]
    assert row.payload["status"] == "On-hold"
    assert row.occurred_at is not None


@pytest.mark.integration
def test_sandbox_deliveries_signed_with_another_secret_are_refused(
    db_app: Flask, zd: SandboxHandle
) -> None:
    with run_service(db_app) as (url, _process, _lines):
        hook_up(zd, f"{url}/webhooks/zendesk")
        with store.session(db_app) as sess:
            store.set_state(sess, store.WEBHOOK_SIGNING_SECRET, "not-what-zendesk-signs-with")
        put_on_hold(zd)
        [delivery] = zd.deliveries(wait=30)
    assert [attempt["status"] for attempt in delivery["attempts"]] == [401]
    assert inbox_rows(db_app) == []
