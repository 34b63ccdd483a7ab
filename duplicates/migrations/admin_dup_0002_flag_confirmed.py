"""duplicates: when an agent confirmed a flag (merge, or Resolution type Duplicate).

Revision ID: admin_dup_0002
Revises: admin_dup_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "admin_dup_0002"
down_revision = "admin_dup_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dup_flag") as batch:
        batch.add_column(sa.Column("confirmed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dup_flag") as batch:
        batch.drop_column("confirmed_at")
