"""Receives signed Zendesk webhook events, verifies and stores them in the durable inbox."""

from __future__ import annotations

from flask import Flask

from webhooks import worker
from webhooks.cli import inbox_cli
from webhooks.health import bp as health_bp
from webhooks.views import bp
from webhooks.worker import (
    EventHandler,
    register_job,
    set_event_handler,
    ticket_event,
)

__all__ = ["EventHandler", "init_app", "register_job", "set_event_handler", "ticket_event"]


def init_app(app: Flask) -> None:
    """Register the webhook blueprint, /metrics and /readyz, the default event handler and the
    inbox commands."""
    app.register_blueprint(bp)
    app.register_blueprint(health_bp)
    worker.init_app(app)
    app.cli.add_command(inbox_cli)
