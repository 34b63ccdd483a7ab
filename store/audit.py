"""The audit trail: every action the service takes on a ticket, and `flask --app app audit list`."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.db import session
from store.models import AuditEntry

audit_cli = AppGroup("audit", help="What the service changed on tickets, and why.")

NO_ENTRIES = "no audit entries"


def list_audit(
    sess: Session,
    ticket_id: int | None = None,
    invocation_id: str | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first, optionally for one ticket or one webhook invocation."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if ticket_id is not None:
        query = query.where(AuditEntry.ticket_id == ticket_id)
    if invocation_id is not None:
        query = query.where(AuditEntry.invocation_id == invocation_id)
    return list(sess.scalars(query))


def _compact(value: Any) -> str:
    return "-" if value is None else json.dumps(value, sort_keys=True, default=str)


@audit_cli.command("list")
@click.option("--ticket", "ticket_id", type=int, help="Only this ticket.")
@click.option("--invocation", "invocation_id", help="Only actions caused by this webhook event.")
@click.option("--limit", default=50, show_default=True, help="Newest N entries.")
def list_command(ticket_id: int | None, invocation_id: str | None, limit: int) -> None:
    """Newest first: time, ticket, rule, action, before → after, state: API result, reason.

    State is `applied`, `not_applied` (the write never happened or was refused) or `intended`
    (the event's write is under way, or its worker died and the retry will settle it)."""
    with session(current_app, readonly=True) as sess:
        entries = list_audit(sess, ticket_id, invocation_id, limit)
    if not entries:
        click.echo(NO_ENTRIES)
        return
    for e in entries:
        click.echo(
            f"{e.created_at.isoformat(timespec='seconds')}\tticket {e.ticket_id}\t{e.rule}\t"
            f"{e.action}\t{_compact(e.before)} → {_compact(e.after)}\t"
            f"{e.state}: {e.api_result or '-'}\t{e.reason}"
        )
