"""The only place that talks to Zendesk: the careful client, provisioning, applying actions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the Zendesk client factory and `zendesk` commands (filled in by the sync issue)."""
