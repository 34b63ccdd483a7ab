"""admin: drop `sweep_last_comment` (who spoke last); the clock's facts in `sweep_comment`
replaced it (admin_0002) and nothing reads or writes it since.

Revision ID: admin_0003
Revises: console_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "admin_0003"
down_revision = "console_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("sweep_last_comment")


def downgrade() -> None:
    """The table as admin_0001 created it, empty: its rows were never read after admin_0002."""
    op.create_table(
        "sweep_last_comment",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author_is_agent", sa.Boolean(), nullable=True),
    )
