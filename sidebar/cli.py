"""`flask --app app sidebar package [--output PATH]` and `flask --app app sidebar install`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from settings import SettingsError
from sidebar.package import (
    APP_NAME,
    SERVICE_URL_SETTING,
    build_package,
    package_problems,
    translations,
)
from store import StoreError
from sync import ZendeskError, client_for
from sync.apps import InstallReport, install_app

INSTALLER_EXTENSION = "cxlayer.sidebar_installer"  # `zendesk apply --with-sidebar` calls it
DEFAULT_OUTPUT = Path("dist") / "cxlayer-sidebar.zip"

sidebar_cli = AppGroup("sidebar", help="The agent sidebar app for Zendesk.")


def install(app: Flask) -> InstallReport:
    """Build the package and upload/install it (idempotent); the app's public key is kept."""
    public_url = str(app.config["CXLAYER"]["service"]["public_url"]).rstrip("/")
    zipped = build_package()
    problems = package_problems(zipped)
    if problems:
        raise ZendeskError("the sidebar package is invalid: " + "; ".join(problems))
    with client_for(app) as client, client.operation("sidebar install"):
        return install_app(
            client,
            zipped,
            name=APP_NAME,
            short_description=translations()["app"]["short_description"],
            settings={SERVICE_URL_SETTING: public_url},
        )


@sidebar_cli.command("package")
@click.option(
    "--output", type=click.Path(path_type=Path), default=DEFAULT_OUTPUT, show_default=True
)
def package_command(output: Path) -> None:
    """Build the app zip Zendesk accepts (Admin Center > Apps > Upload private app)."""
    zipped = build_package()
    problems = package_problems(zipped)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(zipped)
    click.echo(f"{output} ({len(zipped)} bytes)")


@sidebar_cli.command("install")
def install_command() -> None:
    """Upload and install the sidebar app in Zendesk; a second run changes nothing."""
    try:
        report = install(current_app._get_current_object())  # type: ignore[attr-defined]
    except (ZendeskError, SettingsError, StoreError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(report.render())


def register(app: Flask) -> None:
    app.cli.add_command(sidebar_cli)
    app.extensions[INSTALLER_EXTENSION] = install
