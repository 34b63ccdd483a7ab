"""Alembic environment: runs migrations on the app's own engine (see store/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import store.models  # noqa: F401 - registers the store's tables on Base.metadata
from store.db import Base

if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `db upgrade`")

engine: Engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode recreates tables when needed.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
