"""admin_dup_0004 (after admin_dup_0003) adds `dup_ticket.auto_reply`, Zendesk's auto-reply
flag; tickets indexed before read false, and the downgrade drops the column with the tickets
kept. Runs on SQLite, and on PostgreSQL with CXLAYER_TEST_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from flask import Flask
from sqlalchemy import MetaData, Table, inspect, select

import store
from duplicates.models import DupTicket
from store.db import UTCDateTime
from store.migrate import alembic_config, current_revisions, head_revisions, upgrade
from tests.store.test_sweep_last_comment_dropped import _schema_changes


def _columns(app: Flask) -> list[str]:
    with store.engine(app).connect() as connection:
        return [c["name"] for c in inspect(connection).get_columns("dup_ticket")]


def test_upgrade_adds_the_auto_reply_column_and_downgrade_drops_it_keeping_the_tickets(
    make_db_app: Callable[..., Flask],
) -> None:
    app = make_db_app(migrate=False)
    upgrade(app, "admin_dup_0003")
    assert "auto_reply" not in _columns(app)
    old = Table("dup_ticket", MetaData(), autoload_with=store.engine(app))
    with store.engine(app).begin() as connection:
        at = UTCDateTime().process_bind_param(datetime(2026, 11, 2, tzinfo=UTC), connection.dialect)
        connection.execute(
            old.insert(),
            [
                {"id": 1, "requester_id": 5, "status": "open", "created_at": at}
                | {"subject": "Export is blank", "description": "d", "indexed_at": at}
            ],
        )

    upgrade(app)
    assert current_revisions(app) == head_revisions(app)
    assert "admin_dup_0004" in current_revisions(app)
    assert _schema_changes(app) == []
    with store.session(app) as sess:
        assert sess.get(DupTicket, 1).auto_reply is False  # type: ignore[union-attr]
        sess.add(
            DupTicket(
                id=2,
                requester_id=5,
                status="new",
                subject="Automatic reply",
                description="",
                created_at=datetime(2026, 11, 3, tzinfo=UTC),
                auto_reply=True,
            )
        )
    with store.session(app, readonly=True) as sess:
        assert sess.get(DupTicket, 2).auto_reply is True  # type: ignore[union-attr]

    command.downgrade(alembic_config(app), "admin_dup_0003")
    assert "admin_dup_0004" not in current_revisions(app)
    assert "auto_reply" not in _columns(app)
    with store.engine(app).connect() as connection:
        kept = sorted(connection.execute(select(old.c.id, old.c.subject)))
    assert kept == [(1, "Export is blank"), (2, "Automatic reply")]

    upgrade(app)
    assert current_revisions(app) == head_revisions(app)
    assert "auto_reply" in _columns(app)
