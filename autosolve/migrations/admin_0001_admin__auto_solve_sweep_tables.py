"""admin: auto-solve sweep tables (runs, run tickets, last public comments, episodes, user roles).

Revision ID: admin_0001
Revises: store_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "admin_0001"
down_revision = "store_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep_run",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("examined", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
    )
    op.create_table(
        "sweep_run_ticket",
        sa.Column("run_id", sa.String(100), primary_key=True),
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("clock_start", UTCDateTime(), nullable=True),
        sa.Column("business_days_elapsed", sa.Integer(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("previous_status", sa.String(100), nullable=True),
        sa.Column("write", sa.String(20), nullable=False),
        sa.Column("write_detail", sa.Text(), nullable=True),
        sa.Column("snapshot_stamp", sa.String(100), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("undo_result", sa.Text(), nullable=True),
    )
    op.create_index("ix_sweep_run_ticket_ticket", "sweep_run_ticket", ["ticket_id", "write"])
    op.create_table(
        "sweep_last_comment",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author_is_agent", sa.Boolean(), nullable=True),
    )
    op.create_table(
        "sweep_episode",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True),
        sa.Column("clock_start", UTCDateTime(), nullable=False),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
    )
    op.create_table(
        "sweep_user_role",
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column("is_agent", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sweep_user_role")
    op.drop_table("sweep_episode")
    op.drop_table("sweep_last_comment")
    op.drop_index("ix_sweep_run_ticket_ticket", table_name="sweep_run_ticket")
    op.drop_table("sweep_run_ticket")
    op.drop_table("sweep_run")
