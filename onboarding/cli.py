"""`flask --app app zendesk adopt [--dry-run] [--limit N] [--report PATH]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app

from mappings import MappingError
from onboarding.adopt import AdoptError, adopt, default_report_path, report_of
from onboarding.report import write_report
from settings import SettingsError
from store import StoreError, require_current
from sync.cli import zendesk_cli
from sync.http import ZendeskError

FAILURES = (ZendeskError, SettingsError, MappingError, StoreError, AdoptError)


@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Change at most N tickets this run.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path))
def adopt_command(dry_run: bool, limit: int | None, report_path: Path | None) -> None:
    """Bring every unsolved ticket in line with the guide (run after `apply`; safe to repeat)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        require_current(app)
        result = adopt(app, dry_run=dry_run, limit=limit)
    except FAILURES as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    report = report_of(result)
    json_path, html_path = write_report(report, report_path or default_report_path(app, result))
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"{result.listed} unsolved ticket(s) listed; {report['would_change' if dry_run else 'changed']}"
        f" {verb}, {report['left_alone']} left alone (statuses outside the mappings), "
        f"{report['deferred']} deferred, {report['conflicts']} changed meanwhile, "
        f"{report['errors']} error(s); {result.writes} bulk write(s), {result.api_calls} API call(s)"
    )
    click.echo(f"report: {json_path} and {html_path}")
    if report["errors"]:
        sys.exit(1)


def register() -> None:
    if "adopt" not in zendesk_cli.commands:
        zendesk_cli.command("adopt")(adopt_command)
