"""Receives signed Zendesk webhook events, verifies and stores them in the durable inbox."""

from __future__ import annotations

from flask import Flask

from webhooks import worker
from webhooks.cli import inbox_cli
from webhooks.views import bp
from webhooks.worker import (
    EventHandler,
    register_job,
    set_event_handler,
    ticket_event,
)

__all__ = ["EventHandler", "init_app", "register_job", "set_event_handler", "ticket_event"]


def init_app(app: Flask) -> None:
    """Register the webhook blueprint, the default event handler and the inbox commands."""
    app.register_blueprint(bp)
    worker.init_app(app)
    app.cli.add_command(inbox_cli)
