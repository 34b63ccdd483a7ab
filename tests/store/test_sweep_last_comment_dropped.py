"""admin_0003 (after console_0002) drops `sweep_last_comment` (no code reads or writes it since
the clock's facts, admin_0002) and its downgrade puts the table back as admin_0001 made it.
Runs on SQLite, and on PostgreSQL with CXLAYER_TEST_DATABASE_URL (`make test-postgres`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect

import store
from store.migrate import alembic_config, current_revisions, head_revisions, upgrade

TABLE = "sweep_last_comment"


def _table(app: Flask) -> list[dict[str, Any]] | None:
    """The table's columns (name, type, nullable, primary key), or None when it is absent."""
    with store.engine(app).connect() as connection:
        found = inspect(connection)
        if TABLE not in found.get_table_names():
            return None
        keys = found.get_pk_constraint(TABLE)["constrained_columns"]
        return [
            {
                "name": c["name"],
                "type": str(c["type"]),
                "nullable": c["nullable"],
                "primary_key": c["name"] in keys,
            }
            for c in found.get_columns(TABLE)
        ]


def _schema_changes(app: Flask) -> list[Any]:
    """Tables or columns the models and the migrated database disagree on."""
    with store.engine(app).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), store.Base.metadata)
    return [
        d
        for d in diff
        if isinstance(d, tuple)
        and d[0] in {"add_table", "remove_table", "add_column", "remove_column"}
    ]


def test_upgrade_drops_the_table_and_downgrade_puts_it_back(
    make_db_app: Callable[..., Flask],
) -> None:
    app = make_db_app(migrate=False)
    upgrade(app, "console_0002")
    made_by_admin_0001 = _table(app)
    assert made_by_admin_0001 is not None
    assert [c["name"] for c in made_by_admin_0001] == [
        "ticket_id",
        "created_at",
        "author_id",
        "author_is_agent",
    ]

    upgrade(app)
    assert current_revisions(app) == head_revisions(app)
    assert _table(app) is None
    assert _schema_changes(app) == []  # the models no longer name it either

    command.downgrade(alembic_config(app), "console_0002")
    assert "admin_0003" not in current_revisions(app)
    assert _table(app) == made_by_admin_0001

    upgrade(app)
    assert _table(app) is None
    assert current_revisions(app) == head_revisions(app)
