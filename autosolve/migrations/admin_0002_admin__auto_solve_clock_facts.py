"""admin: the auto-solve clock's facts (comments as first seen) and undo per waiting episode.

Revision ID: admin_0002
Revises: console_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "admin_0002"
down_revision = "console_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweep_comment",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True),
        sa.Column("created_at", UTCDateTime(), primary_key=True),
        sa.Column("author_id", sa.BigInteger(), primary_key=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("auto_reply", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("merge", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("sweep_episode") as batch:
        batch.add_column(
            sa.Column("undone", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sweep_episode") as batch:
        batch.drop_column("undone")
    op.drop_table("sweep_comment")
