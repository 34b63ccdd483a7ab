"""Operator commands (flask --app app ...), the scheduled jobs, the embedded demo, and the
event handler's deciders that keep admin's local records (who spoke last, duplicates)."""

from __future__ import annotations

from flask import Flask

from admin import duplicates_cli, sweep_cli
from admin.cli import serve_command
from admin.duplicates import duplicates_decider
from admin.sweep_events import auto_solve_clock_started, reply_after_auto_solve
from admin.worker import worker_command
from webhooks.handler import register_decider


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(worker_command)
    sweep_cli.register(app)
    duplicates_cli.register(app)
    # The event handler's deciders beside the router, in this order: who spoke last and the
    # reply rule first, so the clock and duplicates see the record current.
    register_decider(app, reply_after_auto_solve)
    register_decider(app, auto_solve_clock_started)
    register_decider(app, duplicates_decider)
