"""The admin console (/console): helpdesk admins sign in (Zendesk OAuth or a break-glass local
admin), edit mappings as versions kept in the database, preview and apply provisioning,
forecast and undo auto-solve, judge duplicate flags, search the audit and retry dead letters.

Server-rendered Flask + Jinja pages, no JavaScript; Flask-WTF CSRF on every state-changing form.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app, redirect, render_template, request, url_for
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

import mappings
from console import auth, views
from console.versions import VersionError, VersionSource, export_directory, import_directory

__all__ = ["init_app"]

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Register the console's pages, its sessions and CSRF, the mapping versions as the
    mappings in force, and `mappings export` / `mappings import`."""
    settings = auth.console_settings(app)
    app.session_interface = auth.ConsoleSessions()
    # Flask has defaults for these (31 days, no SameSite, not Secure): set, not setdefault.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=float(settings.get("session_minutes", 480))
    )
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = str(
        app.config["CXLAYER"].get("service", {}).get("public_url", "")
    ).startswith("https:")
    # CSRF is checked by the console's own hook, not app-wide: Zendesk's webhook POSTs carry a
    # signature, not a form token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's own expiry bounds it
    csrf.init_app(app)
    app.register_blueprint(views.bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("console.home")))
    app.register_error_handler(CSRFError, _csrf_refused)
    mappings.set_source(app, VersionSource(app))
    mappings.mappings_cli.add_command(export_command)
    mappings.mappings_cli.add_command(import_command)


@views.bp.before_request
def _protect() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _csrf_refused(error: CSRFError) -> ResponseReturnValue:
    return render_template("console/error.html", message=f"Refused: {error.description}"), 400


@click.command("export")
@with_appcontext
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(directory: Path) -> None:
    """Write the mappings version in force to DIRECTORY as the four TOML files (for review)."""
    row = export_directory(current_app, directory)
    click.echo(
        f"version {row.id} ({row.author}, {row.created_at:%Y-%m-%d %H:%M} UTC) → {directory}"
    )


@click.command("import")
@with_appcontext
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--author", default="cli", show_default=True, help="Recorded as the version's author."
)
def import_command(directory: Path, author: str) -> None:
    """Validate DIRECTORY's TOML files and store them as the new mappings version in force."""
    try:
        row = import_directory(current_app, directory, author=author)
    except VersionError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(str(exc)) from None
    click.echo(f"version {row.id} saved; every process uses it within a second")
