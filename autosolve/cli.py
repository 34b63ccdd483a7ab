"""`flask --app app sweep auto-solve|undo` and the nightly cron job of the auto-solve sweep."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from flask.cli import AppGroup

import metrics
from autosolve.sweep import SweepBusy, SweepError, SweepOptions, run_sweep, undo_run
from logs import get_logger
from mappings import MappingError
from settings import SettingsError
from store import StoreError, require_current
from sync.http import ZendeskError
from webhooks import register_job

log = get_logger("cxlayer.sweep")

JOB_ID = "auto-solve-sweep"
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = SweepOptions.timezone
FAILURES = (SweepError, ZendeskError, SettingsError, MappingError, StoreError, ValueError)


def parse_as_of(value: str, timezone: str) -> datetime:
    """ISO-8601; a time without an offset is read in the sweep's time zone ([sweep] timezone)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time (e.g. 2026-12-07T02:00-05:00)",
            param_hint="--as-of",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def _sweep_settings(app: Flask) -> dict[str, object]:
    return dict(app.config["CXLAYER"].get("sweep", {}))


# An AppGroup runs its commands inside the app context (as `flask` commands expect).
sweep_cli = AppGroup("sweep", help="The auto-solve sweep: run it, forecast it, undo it.")


@sweep_cli.command("auto-solve")
@click.option("--dry-run", is_flag=True, help="Decide and report; write nothing to Zendesk.")
@click.option("--as-of", "as_of", default=None, help="Evaluate as at this ISO-8601 time.")
@click.option("--report", "report", default=None, type=click.Path(dir_okay=False))
@click.option("--limit", default=None, type=click.IntRange(min=1), help="Examine at most N.")
@click.option(
    "--all",
    "full",
    is_flag=True,
    help="Examine every ticket awaiting the requester, not only those due soon or undated "
    "(after changing team calendars or [sweep] days).",
)
def auto_solve_command(
    dry_run: bool, as_of: str | None, report: str | None, limit: int | None, full: bool
) -> None:
    """Remind and auto-solve tickets whose requester stopped answering (future --as-of: dry run)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    timezone = str(_sweep_settings(app).get("timezone", DEFAULT_TIMEZONE))
    moment = parse_as_of(as_of, timezone) if as_of else None
    try:
        require_current(app)
        result = run_sweep(
            app,
            as_of=moment,
            dry_run=dry_run,
            limit=limit,
            report_path=Path(report) if report else None,
            full=full,
        )
    except SweepBusy as exc:
        raise click.ClickException(str(exc)) from None
    except FAILURES as exc:
        raise click.ClickException(f"sweep failed: {exc}") from None
    totals = ", ".join(f"{k} {v}" for k, v in result.report["totals"].items())
    mode = "dry run" if result.report["dry_run"] else "real run"
    click.echo(f"{result.run_id} ({mode}, {result.status}): {totals}")
    listed = "every ticket" if result.listing == "all" else "the tickets due soon or undated"
    click.echo(f"examined {listed} awaiting the requester")
    if result.stop_reason:
        click.echo(f"stopped: {result.stop_reason}; the next run continues")
    click.echo(f"API calls: {result.report['api_calls']}")
    click.echo(f"report: {result.json_path} and {result.html_path}")


@sweep_cli.command("undo")
@click.argument("run_id")
@click.option("--ticket", "ticket", type=int, default=None, help="Only this ticket.")
def undo_command(run_id: str, ticket: int | None) -> None:
    """Reopen what RUN_ID auto-solved (previous status, resolution type cleared, a note)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        results = undo_run(app, run_id, ticket_id=ticket)
    except FAILURES as exc:
        raise click.ClickException(str(exc)) from None
    for item in results:
        click.echo(f"ticket {item.ticket_id}: {item.reason}")
    reopened = sum(1 for r in results if r.reopened)
    click.echo(f"{reopened} of {len(results)} ticket(s) reopened")


def scheduled_sweep(app: Flask) -> None:
    """The cron job: one real sweep; another sweep still running is not an error."""
    try:
        result = run_sweep(app)
    except SweepBusy as exc:
        log.warning("sweep skipped", reason=str(exc))
        return
    for outcome, count in result.report.get("totals", {}).items():
        metrics.SWEEP_TICKETS.labels(outcome).inc(count)


def cron_trigger(app: Flask) -> CronTrigger:
    """[sweep] cron (five-field crontab) in [sweep] timezone; a clear error when invalid."""
    sweep = _sweep_settings(app)
    expression = str(sweep.get("cron", DEFAULT_CRON))
    timezone = str(sweep.get("timezone", DEFAULT_TIMEZONE))
    try:
        return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ZoneInfoNotFoundError:
        raise SettingsError(f"[sweep] timezone {timezone!r} is not a known time zone") from None
    except ValueError as exc:
        raise SettingsError(f"[sweep] cron {expression!r} is invalid: {exc}") from None


def register(app: Flask) -> None:
    """Add the `sweep` commands and the nightly job (run by `worker`/`serve` schedulers)."""
    app.cli.add_command(sweep_cli)
    register_job(app, JOB_ID, scheduled_sweep, trigger=cron_trigger(app))
