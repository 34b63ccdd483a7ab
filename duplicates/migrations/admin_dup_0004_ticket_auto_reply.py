"""duplicates: Zendesk's auto-reply flag stored on the indexed ticket.

Revision ID: admin_dup_0004
Revises: admin_dup_0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "admin_dup_0004"
down_revision = "admin_dup_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tickets indexed before keep false: their metadata was not kept (the text check still runs).
    with op.batch_alter_table("dup_ticket") as batch:
        batch.add_column(
            sa.Column("auto_reply", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("dup_ticket") as batch:
        batch.drop_column("auto_reply")
