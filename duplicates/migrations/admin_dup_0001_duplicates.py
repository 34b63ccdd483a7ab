"""admin: duplicate detection tables (local ticket index, flags, suppressed pairs, soft merges).

Revision ID: admin_dup_0001
Revises: admin_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "admin_dup_0001"
down_revision = "admin_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dup_ticket",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=True),
        sa.Column("group_name", sa.String(255), nullable=True),
        sa.Column("product", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("indexed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_dup_ticket_created_at", "dup_ticket", ["created_at"])
    op.create_index("ix_dup_ticket_indexed_at", "dup_ticket", ["indexed_at"])
    op.create_table(
        "dup_flag",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("flagged_at", UTCDateTime(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("feedback_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "dup_suppressed_pair",
        sa.Column("low_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("high_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_dup_suppressed_pair_high", "dup_suppressed_pair", ["high_id"])
    op.create_table(
        "dup_soft_merge",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("original_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("native", sa.Boolean(), nullable=False),
        sa.Column("previous_status", sa.String(100), nullable=True),
        sa.Column("previous_category", sa.String(20), nullable=False),
        sa.Column("planned_cc_ids", sa.JSON(), nullable=True),
        sa.Column("added_cc_ids", sa.JSON(), nullable=True),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
        sa.Column("original_done_at", UTCDateTime(), nullable=True),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("undo_result", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("dup_soft_merge")
    op.drop_index("ix_dup_suppressed_pair_high", table_name="dup_suppressed_pair")
    op.drop_table("dup_suppressed_pair")
    op.drop_table("dup_flag")
    op.drop_index("ix_dup_ticket_indexed_at", table_name="dup_ticket")
    op.drop_index("ix_dup_ticket_created_at", table_name="dup_ticket")
    op.drop_table("dup_ticket")
