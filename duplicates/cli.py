"""`flask --app app duplicates scan|sync|undo|feedback`: operator commands of duplicate detection."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

import store
from duplicates.detection import (
    DuplicatesError,
    current_index,
    feedback_counts,
    finish_soft_merges,
    precision_status,
    scan,
    sync_index,
    undo_soft_merge,
)
from logs import get_logger
from mappings import MappingError
from settings import SettingsError
from store import StoreError
from sync import ZendeskError
from webhooks import register_job

FINISH_JOB_ID = "duplicates.finish-merges"
SYNC_JOB_ID = "duplicates.sync"
PRELOAD_JOB_ID = "duplicates.preload"
DEFAULT_SYNC_MINUTES = 15

log = get_logger("cxlayer.duplicates")

FAILURES = (DuplicatesError, ZendeskError, SettingsError, MappingError, StoreError, ValueError)

duplicates_cli = AppGroup("duplicates", help="Possible duplicate tickets: backfill, sync, undo.")


def parse_since(value: str) -> datetime:
    """A date (midnight UTC) or an ISO-8601 time; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date or ISO-8601 time (e.g. 2026-11-01)", param_hint="--since"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _app() -> Flask:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


@duplicates_cli.command("scan")
@click.option("--since", "since", required=True, help="Tickets created from this date on.")
@click.option("--dry-run", is_flag=True, help="Report what would be flagged; write nothing.")
def scan_command(since: str, dry_run: bool) -> None:
    """Flag possible duplicates among existing tickets (safe to run again)."""
    moment = parse_since(since)
    try:
        report = scan(
            _app(),
            moment,
            dry_run=dry_run,
            progress=lambda n: click.progressbar(length=n, label="Scoring tickets"),
        )
    except FAILURES as exc:
        raise click.ClickException(f"scan failed: {exc}") from None
    verb = "would flag" if dry_run else "flagged"
    for ticket_id, original_id, score in report.flagged:
        click.echo(f"#{ticket_id}: {verb} as a possible duplicate of #{original_id} ({score:.2f})")
    click.echo(
        f"{report.examined} ticket(s) examined, {len(report.flagged)} {verb}, "
        f"{report.already_linked} already linked, {len(report.conflicts)} changed during the "
        f"scan, {len(report.errors)} error(s); {report.api_calls} API call(s)"
    )
    for ticket_id, error in report.errors:
        click.echo(f"#{ticket_id}: {error}", err=True)
    if report.errors:
        raise SystemExit(1)


@duplicates_cli.command("sync")
def sync_command() -> None:
    """Update the local ticket index from Zendesk's incremental export."""
    try:
        report = sync_index(_app())
    except FAILURES as exc:
        raise click.ClickException(f"sync failed: {exc}") from None
    click.echo(
        f"{report.seen} ticket(s) read, {report.indexed} indexed, {report.removed} removed, "
        f"{report.pruned} past the retention dropped, {report.feedback} 'not a duplicate' "
        f"recorded, {report.merges_finished} merge(s) finished; {report.api_calls} API call(s)"
    )


@duplicates_cli.command("undo")
@click.argument("ticket_id", type=int)
def undo_command(ticket_id: int) -> None:
    """Reverse the soft merge of TICKET_ID (reopen it, clear the link, remove added CCs)."""
    try:
        result = undo_soft_merge(_app(), ticket_id)
    except FAILURES as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{result.ticket_id}: {result.reason}")


@duplicates_cli.command("feedback")
def feedback_command() -> None:
    """How many flags agents confirmed or rejected, the observed precision, and the flag
    threshold in use."""
    try:
        counts = feedback_counts(_app())
        status = precision_status(_app())
    except FAILURES as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(k) for k in counts)
    for key, value in counts.items():
        click.echo(f"{key.replace('_', ' '):<{width}}  {value}")
    judged = status.confirmed + status.rejected
    if status.observed_precision is None or status.lower_bound is None:
        click.echo("observed precision: no flag judged by agents yet")
    else:
        click.echo(
            f"observed precision: {status.observed_precision:.3f} of {judged} judged flag(s) "
            f"({status.confirmed} confirmed, {status.rejected} rejected); lower bound "
            f"{status.lower_bound:.3f}, target {status.target_precision:.2f}"
        )
    raised = " (raised by agents' feedback)" if status.raised else ""
    click.echo(
        f"flag threshold in use: {status.threshold_in_use:.2f}{raised}; configured "
        f"{status.configured_threshold:.2f}; {status.reason}"
    )


def finish_job(app: Flask) -> None:
    """Scheduled: the original's side of soft merges the event handler has applied."""
    finish_soft_merges(app)


def sync_job(app: Flask) -> None:
    """Scheduled: the index follows the incremental export (changes no webhook reports, such
    as a removed tag or cxlayer's own updates); finishes pending merges too."""
    report = sync_index(app)
    log.info("duplicates index synced", seen=report.seen, feedback=report.feedback)


def preload_job(app: Flask) -> None:
    """At start: load the index in a read-only transaction. Loading 100,000 tickets takes
    minutes; done on the first event instead, it would hold that event's write transaction
    (and, on SQLite, the database's write lock) for as long."""
    with store.session(app, readonly=True) as session:
        index = current_index(app, session)
    log.info("duplicates index loaded", tickets=len(index))


def sync_minutes(app: Flask) -> int:
    """[duplicates] sync_minutes: minutes between scheduled syncs, 0 = off."""
    value = app.config["CXLAYER"].get("duplicates", {}).get("sync_minutes", DEFAULT_SYNC_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"[duplicates] sync_minutes must be a whole number >= 0, got {value!r}")
    return value


def register(app: Flask) -> None:
    """The `duplicates` commands; jobs that complete soft merges every minute and sync the
    index every [duplicates] sync_minutes."""
    app.cli.add_command(duplicates_cli)
    register_job(app, PRELOAD_JOB_ID, preload_job, trigger="date")  # once, at scheduler start
    register_job(app, FINISH_JOB_ID, finish_job, trigger="interval", minutes=1)
    minutes = sync_minutes(app)
    if minutes:
        register_job(app, SYNC_JOB_ID, sync_job, trigger="interval", minutes=minutes)
