"""duplicates: the matching sentence pairs the flag note showed, stored on the flag.

Revision ID: admin_dup_0003
Revises: admin_0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "admin_dup_0003"
down_revision = "admin_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing flags keep NULL: their note's sentences were not kept, the console computes them.
    with op.batch_alter_table("dup_flag") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dup_flag") as batch:
        batch.drop_column("evidence")
