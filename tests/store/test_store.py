"""Storage: engine settings, migrations and their CLI, sessions, state and audit helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

import store
from store.migrate import head_revisions, version_locations


def test_default_database_is_a_sqlite_file_in_a_created_instance_folder(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app(INSTANCE_PATH=str(tmp_path / "fresh" / "instance"))
    assert store.database_url(app) == f"sqlite:///{tmp_path / 'fresh' / 'instance'}/cxlayer.sqlite3"
    assert (tmp_path / "fresh" / "instance").is_dir()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg_3(make_app: Callable[..., Flask], scheme: str) -> None:
    app = make_app(SETTINGS={"database": {"url": f"{scheme}://u:pw@127.0.0.1:1/db"}})
    assert store.database_url(app) == "postgresql+psycopg://u:pw@127.0.0.1:1/db"
    assert store.engine(app).dialect.driver == "psycopg"


def test_unsupported_database_url_fails_without_echoing_the_password(
    make_app: Callable[..., Flask],
) -> None:
    with pytest.raises(store.StoreError, match="unsupported scheme 'mysql'") as info:
        make_app(SETTINGS={"database": {"url": "mysql://user:hunter22@db/x"}})
    assert "hunter22" not in str(info.value)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db_app: Flask) -> None:
    if store.engine(db_app).dialect.name != "sqlite":
        pytest.skip("SQLite pragmas; PostgreSQL has its own MVCC")
    with store.engine(db_app).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_db_upgrade_and_current_commands(make_db_app: Callable[..., Flask]) -> None:
    app = make_db_app(migrate=False)
    heads = ", ".join(sorted(head_revisions(app)))  # other areas add theirs
    runner = app.test_cli_runner()
    before = runner.invoke(args=["db", "current"])
    assert before.exit_code == 0, before.output
    assert before.output.strip() == f"base (empty) (behind; heads are {heads})"
    with pytest.raises(store.StoreError, match="run `flask --app app db upgrade`"):
        store.require_current(app)

    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.strip().endswith(f"database at {heads}")
    assert {"inbox", "audit", "state"} <= set(inspect(store.engine(app)).get_table_names())
    after = runner.invoke(args=["db", "current"])
    assert after.output.strip() == f"{heads} (up to date)"
    store.require_current(app)


def test_downgrade_to_base_removes_the_tables(db_app: Flask) -> None:
    result = db_app.test_cli_runner().invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert "inbox" not in inspect(store.engine(db_app)).get_table_names()


def test_area_migration_folders_are_version_locations(tmp_path: Path) -> None:
    (tmp_path / "sync" / "migrations").mkdir(parents=True)
    (tmp_path / "triggers").mkdir()
    locations = version_locations(tmp_path)
    assert locations[0].parts[-3:] == ("store", "migrations", "versions")
    assert locations[1:] == [tmp_path / "sync" / "migrations"]


def test_state_values_round_trip_and_are_replaced(db_app: Flask) -> None:
    with store.session(db_app) as s:
        assert store.get_state(s, "sync.cursor") is None
        assert store.get_state(s, "sync.cursor", default=0) == 0
        store.set_state(s, "sync.cursor", {"after": "abc", "n": 3})
    with store.session(db_app) as s:
        assert store.get_state(s, "sync.cursor") == {"after": "abc", "n": 3}
        store.set_state(s, "sync.cursor", [1, 2])
        assert store.get_state(s, "sync.cursor") == [1, 2]
    with store.session(db_app) as s:
        assert store.get_state(s, "sync.cursor") == [1, 2]
        assert s.scalar(select(func.count()).select_from(store.StateEntry)) == 1
        store.delete_state(s, "sync.cursor")
    with store.session(db_app) as s:
        assert store.get_state(s, "sync.cursor", "gone") == "gone"


def test_a_failing_session_block_leaves_nothing_behind(db_app: Flask) -> None:
    with pytest.raises(RuntimeError), store.session(db_app) as s:
        store.set_state(s, "half.done", 1)
        raise RuntimeError("boom")
    with store.session(db_app) as s:
        assert store.get_state(s, "half.done") is None


def test_audit_rows_keep_before_after_and_api_result(db_app: Flask) -> None:
    with store.session(db_app) as s:
        entry = store.record_audit(
            s,
            ticket_id=42,
            rule="status_mapping",
            action="set_custom_status",
            reason="on hold with a generic status",
            invocation_id="inv-1",
            before={"custom_status": "on_hold"},
            after={"custom_status": "open_product_development"},
            api_result="200 OK",
        )
        assert entry.id is not None
    with store.session(db_app) as s:
        row = s.scalars(select(store.AuditEntry)).one()
    assert (row.ticket_id, row.rule, row.invocation_id) == (42, "status_mapping", "inv-1")
    assert row.before == {"custom_status": "on_hold"}
    assert row.after == {"custom_status": "open_product_development"}
    assert row.api_result == "200 OK"
    assert row.created_at.tzinfo is UTC


def test_datetimes_come_back_as_aware_utc(db_app: Flask) -> None:
    eastern = timezone(timedelta(hours=-5))
    with store.session(db_app) as s:
        s.add(
            store.InboxEvent(
                invocation_id="i",
                kind="ticket_created",
                payload={},
                received_at=datetime(2026, 1, 2, 7, 0, tzinfo=eastern),
                status=store.PENDING,
                attempts=0,
            )
        )
    with store.session(db_app) as s:
        row = s.scalars(select(store.InboxEvent)).one()
        earlier = s.scalar(
            select(func.count())
            .select_from(store.InboxEvent)
            .where(store.InboxEvent.received_at < datetime(2026, 1, 2, 12, 30, tzinfo=UTC))
        )
    assert row.received_at == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert row.received_at.tzinfo is UTC
    assert earlier == 1


def test_naive_datetimes_are_refused(db_app: Flask) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.session(db_app) as s:
        s.add(store.StateEntry(key="k", value=1, updated_at=datetime(2026, 1, 1)))
        s.flush()


def test_invocation_ids_are_unique(db_app: Flask) -> None:
    def add() -> None:
        with store.session(db_app) as s:
            s.add(store.InboxEvent(invocation_id="dup", kind="k", payload={}, attempts=0))

    add()
    with pytest.raises(IntegrityError):
        add()
    with store.session(db_app) as s:
        assert s.execute(text("SELECT count(*) FROM inbox")).scalar() == 1


def test_an_area_adds_its_own_revision_chained_after_the_head(
    make_db_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """`db revision --area X` writes X/migrations/X_0001_….py after store's head; upgrade runs it."""
    (tmp_path / "demo").mkdir()
    app = make_db_app(MIGRATIONS_ROOT=str(tmp_path))
    [store_head] = head_revisions(app)  # only store's own revisions under this root
    runner = app.test_cli_runner()
    made = runner.invoke(args=["db", "revision", "-m", "demo: widgets", "--area", "demo"])
    assert made.exit_code == 0, made.output
    [path] = (tmp_path / "demo" / "migrations").glob("*.py")
    assert path.name == "demo_0001_demo__widgets.py"
    source = path.read_text()
    assert 'revision = "demo_0001"' in source
    assert f'down_revision = "{store_head}"' in source
    path.write_text(
        source.replace(
            "def upgrade() -> None:\n    pass",
            'def upgrade() -> None:\n    op.create_table("widget", sa.Column("id", sa.Integer, primary_key=True))',
        )
    )
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "database at demo_0001" in upgraded.output
    assert "widget" in inspect(store.engine(app)).get_table_names()
    unknown = runner.invoke(args=["db", "revision", "-m", "x", "--area", "nowhere"])
    assert unknown.exit_code == 2
    assert "no package folder nowhere/" in unknown.output


def test_audit_list_shows_what_changed_newest_first_and_filters(db_app: Flask) -> None:
    runner = db_app.test_cli_runner()
    assert runner.invoke(args=["audit", "list"]).output.strip() == store.audit.NO_ENTRIES
    with store.session(db_app) as s:
        store.record_audit(
            s,
            ticket_id=7,
            rule="product_restriction",
            action="set_field",
            reason="Configuration request is for Lumina only",
            invocation_id="inv-a",
            before={"resolution_type": "configuration_request"},
            after={"resolution_type": None},
            api_result="200",
        )
        store.record_audit(
            s, ticket_id=8, rule="status_mapping", action="add_tags", reason="keep tags in step"
        )
    listed = runner.invoke(args=["audit", "list"]).output.strip().splitlines()
    assert [line.split("\t")[1] for line in listed] == ["ticket 8", "ticket 7"]
    only_7 = runner.invoke(args=["audit", "list", "--ticket", "7"]).output.strip().split("\t")
    assert only_7[1:] == [
        "ticket 7",
        "product_restriction",
        "set_field",
        '{"resolution_type": "configuration_request"} → {"resolution_type": null}',
        "applied: 200",
        "Configuration request is for Lumina only",
    ]
    by_event = runner.invoke(args=["audit", "list", "--invocation", "inv-a"]).output
    assert len(by_event.strip().splitlines()) == 1


def test_readonly_sessions_read_while_a_writer_holds_its_transaction(db_app: Flask) -> None:
    """On SQLite writers take the lock at BEGIN; readers must not queue behind them."""
    with store.session(db_app) as s:
        store.set_state(s, "k", "committed")
    with store.session(db_app) as writer:
        store.set_state(writer, "k", "uncommitted")
        with store.session(db_app, readonly=True) as reader:
            assert store.get_state(reader, "k") == "committed"
    with store.session(db_app, readonly=True) as reader:
        assert store.get_state(reader, "k") == "uncommitted"
