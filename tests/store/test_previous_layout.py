"""A database made before the packages were renamed (`admin/` split into `autosolve/` and
`duplicates/`) keeps working: same tables, same Alembic history, rows readable by the moved
models, and `db upgrade` applies whatever came after.

The fixture was made by the previous layout's own code (commit 86f4d92): `flask db upgrade` on
an empty SQLite file, then one row in each job table written through its old models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

import store
from app import create_app
from autosolve.models import SweepEpisode, SweepRun, SweepRunTicket
from duplicates.models import DupFlag, DupSuppressedPair, DupTicket
from store.migrate import current_revisions, head_revisions, upgrade
from store.models import AuditEntry

FIXTURE = Path(__file__).parent / "fixtures" / "previous-layout.sqlite3"
PREVIOUS_HEADS = {"admin_dup_0001"}


def _app(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = tmp_path / "cxlayer.sqlite3"
    shutil.copyfile(FIXTURE, database)
    return create_app(
        {"ENVIRON": {"CXLAYER_DATABASE_URL": f"sqlite:///{database}"}, "TESTING": True}
    )


def test_previous_layout_database_upgrades_and_reads(tmp_path: Path) -> None:
    """The old database is at the old head, upgrades to the current heads, and its rows read back."""
    app = _app(tmp_path)
    assert current_revisions(app) == PREVIOUS_HEADS
    upgrade(app)
    assert current_revisions(app) == head_revisions(app)
    store.require_current(app)  # what serve and worker check before they start
    with store.session(app, readonly=True) as session:
        run = session.scalars(select(SweepRun)).one()
        assert (run.id, run.changed, run.report) == (
            "run-2026-11-27",
            1,
            {"summary": {"solved": 1}},
        )
        assert session.scalars(select(SweepRunTicket.decision)).one() == "solve"
        assert session.scalars(select(SweepEpisode.ticket_id)).one() == 102
        assert session.scalars(select(DupTicket.subject)).one() == "Invoice export fails"
        assert session.scalars(select(DupFlag.candidate_id)).one() == 201
        assert session.scalars(select(DupSuppressedPair.high_id)).one() == 203
        assert session.scalars(select(AuditEntry.rule)).one() == "auto_solve"


def test_moved_models_match_the_migrated_schema(tmp_path: Path) -> None:
    """Every model, wherever it now lives, names a table and columns the migrations created."""
    app = _app(tmp_path)
    upgrade(app)
    with store.engine(app).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), store.Base.metadata)
    table_or_column_changes = [
        d
        for d in diff
        if isinstance(d, tuple)
        and d[0] in {"add_table", "remove_table", "add_column", "remove_column"}
    ]
    assert table_or_column_changes == []
