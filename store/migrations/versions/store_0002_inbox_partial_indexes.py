"""store: partial indexes on unfinished inbox events (claims stay fast without fresh stats).

Revision ID: store_0002
Revises: store_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "store_0002"
down_revision = "store_0001"
branch_labels = None
depends_on = None

# Only pending/processing rows are ever scanned by claims; done rows pile up until pruned.
UNFINISHED = sa.text("status IN ('pending', 'processing')")


def upgrade() -> None:
    op.drop_index("ix_inbox_ticket_status", table_name="inbox")
    op.drop_index("ix_inbox_status_next_attempt", table_name="inbox")
    op.create_index(
        "ix_inbox_unfinished_id",
        "inbox",
        ["id"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )
    op.create_index(
        "ix_inbox_unfinished_ticket",
        "inbox",
        ["ticket_id", "id"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_status_id", table_name="inbox")
    op.drop_index("ix_inbox_unfinished_ticket", table_name="inbox")
    op.drop_index("ix_inbox_unfinished_id", table_name="inbox")
    op.create_index("ix_inbox_status_next_attempt", "inbox", ["status", "next_attempt_at"])
    op.create_index("ix_inbox_ticket_status", "inbox", ["ticket_id", "status", "id"])
