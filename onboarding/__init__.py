"""Onboarding an account that already has tickets: `flask --app app zendesk adopt`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Adds `adopt` to the `zendesk` command group (sync.cli) once per process."""
    from onboarding.cli import register  # noqa: PLC0415  the CLI needs the group defined first

    register()
