"""sync/audited.py on the sandbox: the audit row exists before the write, and says what became
of it: applied, not applied (409, permanent 4xx), or still intended when the outcome is unknown
(the process died between Zendesk applying the change and the settling)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import store
from sandbox.testing import SandboxHandle
from store.models import AuditEntry
from sync import TicketConflict, ZendeskApiError, ZendeskClient
from sync.audited import Intent, write_audited
from tests.sync.conftest import make_ticket

INTENT = Intent(ticket_id=0, rule="test.rule", action="add_tag", reason="because")


def _rows(app: Flask) -> list[AuditEntry]:
    with store.session(app, readonly=True) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _intent(ticket_id: int) -> Intent:
    return Intent(ticket_id=ticket_id, rule=INTENT.rule, action=INTENT.action, reason="because")


def test_the_row_is_intended_during_the_write_and_applied_after(
    db_app: Flask, client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    seen_during: list[tuple[str, str | None]] = []

    def write() -> dict[str, Any]:
        seen_during.extend((r.state, r.api_result) for r in _rows(db_app))
        return client.update_ticket(ticket["updated_at"], ticket["id"], {"tags": ["a_tag"]})

    write_audited(
        db_app,
        [_intent(ticket["id"])],
        write,
        invocation_id="test",
        outcome=lambda result: "ok: done",
        ticket_stamp=ticket["updated_at"],
    )
    assert seen_during == [(store.INTENDED, "write under way")]
    [row] = _rows(db_app)
    assert (row.state, row.api_result, row.ticket_stamp) == (
        store.APPLIED,
        "ok: done",
        ticket["updated_at"],
    )
    assert "a_tag" in zd.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["tags"]


def test_a_crash_after_zendesk_applied_leaves_the_change_recorded_as_intended(
    db_app: Flask, client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)

    def write_then_die() -> None:
        client.update_ticket(ticket["updated_at"], ticket["id"], {"tags": ["a_tag"]})
        raise KeyboardInterrupt  # the process stops before it can settle the row

    with pytest.raises(KeyboardInterrupt):
        write_audited(db_app, [_intent(ticket["id"])], write_then_die, invocation_id="test")
    assert "a_tag" in zd.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["tags"]
    [row] = _rows(db_app)
    assert (row.ticket_id, row.state) == (ticket["id"], store.INTENDED)


def test_a_conflict_settles_the_row_as_not_applied(
    db_app: Flask, client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    zd.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"priority": "high"}})

    with pytest.raises(TicketConflict):
        write_audited(
            db_app,
            [_intent(ticket["id"])],
            lambda: client.update_ticket(ticket["updated_at"], ticket["id"], {"tags": ["a_tag"]}),
            invocation_id="test",
        )
    [row] = _rows(db_app)
    assert row.state == store.NOT_APPLIED
    assert "409" in (row.api_result or "")
    assert "a_tag" not in zd.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["tags"]


def test_a_permanent_refusal_settles_the_row_with_zendesks_reason(
    db_app: Flask, client: ZendeskClient
) -> None:
    with pytest.raises(ZendeskApiError) as refused:
        write_audited(
            db_app,
            [_intent(987654)],
            lambda: client.update_ticket("2026-01-01T00:00:00Z", 987654, {"tags": ["a_tag"]}),
            invocation_id="test",
        )
    assert refused.value.status == 404
    [row] = _rows(db_app)
    assert row.state == store.NOT_APPLIED
    assert (row.api_result or "").startswith("refused:")
