"""Operator commands (flask --app app ...): serving the app and the embedded demo."""

from __future__ import annotations

from flask import Flask

from admin import duplicates_cli, sweep_cli
from admin.cli import serve_command
from admin.worker import worker_command


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(worker_command)
    sweep_cli.register(app)
    duplicates_cli.register(app)
