"""Receives signed Zendesk webhook events, verifies and stores them in the durable inbox."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the webhook blueprint and inbox commands (filled in by the webhooks issue)."""
