"""admin_dup_0003 (after admin_0003) adds `dup_flag.evidence`, the sentence pairs a flag's note
showed; flags written before keep NULL (the console computes theirs) and the downgrade drops the
column with the flags kept. Runs on SQLite, and on PostgreSQL with CXLAYER_TEST_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from flask import Flask
from sqlalchemy import MetaData, Table, inspect, select

import store
from duplicates.models import DupFlag
from store.db import UTCDateTime
from store.migrate import alembic_config, current_revisions, head_revisions, upgrade
from tests.store.test_sweep_last_comment_dropped import _schema_changes


def _columns(app: Flask) -> list[str]:
    with store.engine(app).connect() as connection:
        return [c["name"] for c in inspect(connection).get_columns("dup_flag")]


def test_upgrade_adds_the_evidence_column_and_downgrade_drops_it_keeping_the_flags(
    make_db_app: Callable[..., Flask],
) -> None:
    app = make_db_app(migrate=False)
    upgrade(app, "admin_0003")
    assert "evidence" not in _columns(app)
    old = Table("dup_flag", MetaData(), autoload_with=store.engine(app))
    with store.engine(app).begin() as connection:
        at = UTCDateTime().process_bind_param(datetime(2026, 11, 2, tzinfo=UTC), connection.dialect)
        connection.execute(
            old.insert(),
            [
                {"ticket_id": 2, "candidate_id": 1, "score": 0.7, "source": "webhook"}
                | {"flagged_at": at, "applied": True}
            ],
        )

    upgrade(app)
    assert current_revisions(app) == head_revisions(app)
    assert "admin_dup_0004" in current_revisions(app)  # the head after admin_dup_0003
    assert _schema_changes(app) == []
    pairs = [["Excel export fails with a timeout", "the export to Excel still times out"]]
    with store.session(app) as sess:
        assert sess.get(DupFlag, 2).evidence is None  # type: ignore[union-attr]
        sess.add(DupFlag(ticket_id=4, candidate_id=3, score=0.8, source="webhook", evidence=pairs))
    with store.session(app, readonly=True) as sess:
        assert sess.get(DupFlag, 4).evidence == pairs  # type: ignore[union-attr]

    command.downgrade(alembic_config(app), "admin_0003")
    assert "admin_dup_0003" not in current_revisions(app)
    assert "evidence" not in _columns(app)
    with store.engine(app).connect() as connection:
        kept = sorted(connection.execute(select(old.c.ticket_id, old.c.candidate_id)))
    assert kept == [(2, 1), (4, 3)]

    upgrade(app)
    assert current_revisions(app) == head_revisions(app)
    assert "evidence" in _columns(app)
