"""Alembic, configured in code (no alembic.ini): `flask --app app db upgrade|current|heads`.

Revisions live in store/migrations/versions/ and in any `<area>/migrations/` folder (plain
revision files, no env.py), so each area owns its schema changes. To add one:

    flask --app app db revision -m "sync: ticket cache" --area sync

writes sync/migrations/sync_0001_sync_ticket_cache.py whose down_revision is the current head;
fill in upgrade()/downgrade() with `op.create_table(...)` etc. (plain SQLAlchemy types, or
store.UTCDateTime for timestamps). Keep one linear chain; if two areas branch from the same
parent by accident, `db upgrade` (which upgrades to "heads") applies every head anyway.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import AppGroup

from settings import ROOT
from store.db import StoreError, database_url, engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def version_locations(root: Path = ROOT) -> list[Path]:
    """store's own versions folder, then every area's `migrations/` folder."""
    locations = [MIGRATIONS_DIR / "versions"]
    for folder in sorted(root.glob("*/migrations")):
        if folder.is_dir() and folder.resolve() != MIGRATIONS_DIR:
            locations.append(folder)
    return locations


def source_root(app: Flask) -> Path:
    """Where area packages live (the repo; tests point MIGRATIONS_ROOT at a scratch folder)."""
    return Path(app.config.get("MIGRATIONS_ROOT") or ROOT)


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")  # os.pathsep between version_locations
    config.set_main_option(
        "version_locations", os.pathsep.join(str(p) for p in version_locations(source_root(app)))
    )
    # env.py reads the engine from here instead of a URL in a file.
    config.attributes["engine"] = engine(app)
    return config


def upgrade(app: Flask, revision: str = "heads") -> None:
    """Bring the database to the newest schema (every area's head)."""
    command.upgrade(alembic_config(app), revision)


def current_revisions(app: Flask) -> set[str]:
    # Alembic announces its "Context impl" at INFO on every look; a status check is not news.
    migration_logger = logging.getLogger("alembic.runtime.migration")
    level = migration_logger.level
    migration_logger.setLevel(logging.WARNING)
    try:
        with engine(app).connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        migration_logger.setLevel(level)


def head_revisions(app: Flask) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(app)).get_heads())


def require_current(app: Flask) -> None:
    """Refuse to run workers, serve or a command that needs the database on one that is not
    migrated to the heads: one line naming the command to run. A SQLite file that does not
    exist yet is not created by the check (no empty database left behind)."""
    url = database_url(app)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise StoreError(
            f"the database {url.removeprefix('sqlite:///')} does not exist yet: "
            "run `flask --app app db upgrade`"
        )
    current, heads = current_revisions(app), head_revisions(app)
    if current != heads:
        raise StoreError(
            f"the database schema is at {sorted(current) or 'nothing'}, the code expects "
            f"{sorted(heads)}: run `flask --app app db upgrade`"
        )


db_cli = AppGroup("db", help="Database schema migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION (default: every head)."""
    upgrade(current_app, revision)
    click.echo(f"database at {', '.join(sorted(current_revisions(current_app))) or 'base'}")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Revert migrations down to REVISION (`base` empties the schema)."""
    command.downgrade(alembic_config(current_app), revision)


@db_cli.command("current")
def current_command() -> None:
    """Print the revision(s) the database is at, and whether that is the newest."""
    current, heads = current_revisions(current_app), head_revisions(current_app)
    state = "up to date" if current == heads else f"behind; heads are {', '.join(sorted(heads))}"
    click.echo(f"{', '.join(sorted(current)) or 'base (empty)'} ({state})")


@db_cli.command("heads")
def heads_command() -> None:
    """Print the newest revision of every chain."""
    click.echo("\n".join(sorted(head_revisions(current_app))))


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--area", default="store", help="Package that owns the revision (its migrations/).")
def revision_command(message: str, area: str) -> None:
    """Write an empty revision file chained after the current head."""
    root = source_root(current_app)
    folder = MIGRATIONS_DIR / "versions" if area == "store" else root / area / "migrations"
    if area != "store" and not (root / area).is_dir():
        raise click.BadParameter(f"no package folder {area}/", param_hint="--area")
    folder.mkdir(exist_ok=True)
    config = alembic_config(current_app)  # now includes the (new) folder
    # Readable, ordered ids: <area>_<nnnn> (sync_0001, sync_0002…).
    number = len(list(folder.glob(f"{area}_*.py"))) + 1
    rev_id = f"{area}_{number:04d}"
    slug = "".join(c if c.isalnum() else "_" for c in message.lower()).strip("_")[:40]
    # ConfigParser interpolation: %% is a literal %.
    config.set_main_option("file_template", f"%%(rev)s_{slug}" if slug else "%%(rev)s")
    script = command.revision(config, message=message, version_path=str(folder), rev_id=rev_id)
    click.echo(f"wrote {script.path if script and not isinstance(script, list) else folder}")
