"""Storage: SQLAlchemy engine and session, models, and Alembic migrations."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Create the engine and register `db` commands (filled in by the webhooks issue)."""
