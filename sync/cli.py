"""`flask --app app zendesk plan|apply [--prune]`: provision Zendesk from mappings/.

`plan` exits 0 when nothing would change, 2 when changes are pending and 1 on error (like
terraform's -detailed-exitcode), so CI can gate on it.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from logs import get_logger
from mappings import MappingError, current_mappings
from settings import SettingsError
from store import StoreError, require_current
from sync.factory import client_for
from sync.http import ZendeskError
from sync.provisioning import apply, build_plan

EXIT_NO_CHANGES = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

log = get_logger("cxlayer.provisioning")

SIDEBAR_INSTALLER = "cxlayer.sidebar_installer"
FAILURES = (ZendeskError, SettingsError, MappingError, StoreError)


def _public_url() -> str:
    return str(current_app.config["CXLAYER"].get("service", {}).get("public_url", ""))


zendesk_cli = AppGroup("zendesk", help="Provision the Zendesk account from mappings/.")


@zendesk_cli.command("plan")
@click.option("--prune", is_flag=True, help="Also plan removing options missing from mappings.")
def plan_command(prune: bool) -> None:
    """Show what apply would change. Exit 0: none, 2: changes pending, 1: error."""
    try:
        require_current(current_app)
        client = client_for(current_app)
        with client.operation("zendesk plan") as op:
            plan, _actual = build_plan(client, current_mappings(), _public_url(), prune=prune)
    except FAILURES as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(plan.render())
    click.echo(f"({op.calls} API call(s))")
    sys.exit(EXIT_CHANGES if plan.pending else EXIT_NO_CHANGES)


@zendesk_cli.command("apply")
@click.option("--prune", is_flag=True, help="Remove options missing from mappings if unused.")
@click.option("--with-sidebar", is_flag=True, help="Also upload and install the agent sidebar app.")
def apply_command(prune: bool, with_sidebar: bool) -> None:
    """Make Zendesk match mappings/; a second run changes nothing."""
    try:
        require_current(current_app)
        client = client_for(current_app)
        with client.operation("zendesk apply") as op:
            report = apply(client, current_mappings(), _public_url(), prune=prune)
    except FAILURES as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(report.render())
    click.echo(f"({op.calls} API call(s))")
    if with_sidebar:
        # The sidebar package (a layer above sync/) registers its installer on the app.
        installer = current_app.extensions.get(SIDEBAR_INSTALLER)
        try:
            if installer is None:
                raise ZendeskError("the sidebar is not part of this app")
            click.echo(installer(current_app._get_current_object()).render())  # type: ignore[attr-defined]
        except FAILURES as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
    log.info("zendesk apply", changes=len(report.plan.pending), api_calls=op.calls)
