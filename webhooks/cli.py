"""`flask --app app inbox list [--failed]` and `inbox retry ID`: operating the dead letters."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

import store
from store import FAILED, INBOX_STATUSES
from webhooks import inbox

inbox_cli = AppGroup("inbox", help="Webhook events received: list them, requeue dead letters.")

NOTHING_LISTED = "no inbox events"
REQUEUED = "requeued inbox event {id} (ticket {ticket_id}, {kind}, invocation {invocation_id})"


@inbox_cli.command("list")
@click.option("--failed", is_flag=True, help="Only dead-lettered events (retries exhausted).")
@click.option("--status", type=click.Choice(INBOX_STATUSES), help="Only events in this status.")
@click.option("--limit", default=50, show_default=True, help="Newest N events.")
def list_command(failed: bool, status: str | None, limit: int) -> None:
    """Newest events first: id, status, attempts, ticket, kind, received, last error."""
    with store.session(current_app, readonly=True) as sess:
        events = inbox.list_events(sess, FAILED if failed else status, limit)
    if not events:
        click.echo(NOTHING_LISTED)
        return
    click.echo("id\tstatus\tattempts\tticket\tkind\treceived_at\tinvocation_id\tlast_error")
    for e in events:
        error = (e.last_error or "").replace("\n", " ")[:200]
        click.echo(
            f"{e.id}\t{e.status}\t{e.attempts}\t{e.ticket_id or '-'}\t{e.kind}\t"
            f"{e.received_at.isoformat(timespec='seconds')}\t{e.invocation_id}\t{error}"
        )


@inbox_cli.command("retry")
@click.argument("event_id", type=int)
def retry_command(event_id: int) -> None:
    """Requeue event EVENT_ID (usually dead-lettered) with a fresh set of attempts."""
    try:
        with store.session(current_app) as sess:
            event = inbox.retry(sess, event_id)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        REQUEUED.format(
            id=event.id,
            ticket_id=event.ticket_id,
            kind=event.kind,
            invocation_id=event.invocation_id,
        )
    )
