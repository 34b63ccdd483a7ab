"""The support guide as data: statuses, resolution types, teams and products that admins edit."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app

from mappings.loader import (
    DEFAULT_DIR,
    FILES,
    MappingError,
    Problem,
    load_mapping_texts,
    load_mappings,
    read_mapping_texts,
)
from mappings.model import Mappings, Product, ResolutionGroup, ResolutionType, Status, Team

__all__ = [
    "DEFAULT_DIR",
    "FILES",
    "MappingError",
    "Mappings",
    "Problem",
    "Product",
    "ResolutionGroup",
    "ResolutionType",
    "Status",
    "Team",
    "current_mappings",
    "init_app",
    "load_mapping_texts",
    "load_mappings",
    "read_mapping_texts",
    "set_source",
]

EXTENSION = "cxlayer.mappings"
# A callable giving the mappings in force when they are kept elsewhere than the files (the
# console's versions in the database); it returns None to fall back to the files.
SOURCE_EXTENSION = "cxlayer.mappings.source"


def init_app(app: Flask) -> None:
    """Load and validate mappings once; an invalid file stops the app from starting."""
    directory = app.config.get("MAPPINGS_DIR") or DEFAULT_DIR
    app.cli.add_command(mappings_cli)
    try:
        app.extensions[EXTENSION] = load_mappings(directory)
    except MappingError as exc:
        # Under the flask CLI the app must still load so `mappings validate` can report;
        # every command that needs mappings fails on first use. A WSGI server gets the error now.
        if click.get_current_context(silent=True) is None:
            raise
        app.extensions[EXTENSION] = exc


def set_source(app: Flask, source: Callable[[], Mappings | None]) -> None:
    """Let `source` supply the mappings in force (None from it means: the files)."""
    app.extensions[SOURCE_EXTENSION] = source


def current_mappings() -> Mappings:
    """The mappings in force: the registered source's (a stored version), else the files."""
    source = current_app.extensions.get(SOURCE_EXTENSION)
    if source is not None:
        found: Mappings | None = source()
        if found is not None:
            return found
    mappings: Mappings | MappingError = current_app.extensions[EXTENSION]
    if isinstance(mappings, MappingError):
        raise mappings
    return mappings


@click.group("mappings", help="Check the admin-edited files in mappings/.")
def mappings_cli() -> None:
    pass


@mappings_cli.command("validate")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def validate_command(directory: Path | None) -> None:
    """Print OK for valid mappings; otherwise every problem with file, key path and line, exit 1."""
    try:
        load_mappings(directory or DEFAULT_DIR)
    except MappingError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("OK")
