"""The service's processes: `flask --app app serve` (web app, inbox workers and scheduler in
one process) and `flask --app app worker` (inbox workers and scheduler only)."""

from __future__ import annotations

from flask import Flask

from service.serve import serve_command
from service.worker import worker_command


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(worker_command)
