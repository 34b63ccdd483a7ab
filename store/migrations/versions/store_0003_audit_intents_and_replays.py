"""store: audit rows written as intents before the Zendesk write; inbox replay digests.

Revision ID: store_0003
Revises: store_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "store_0003"
down_revision = "store_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this revision recorded changes already made: "applied".
    op.add_column(
        "audit",
        sa.Column("state", sa.String(20), nullable=False, server_default="applied"),
    )
    op.add_column("audit", sa.Column("ticket_stamp", sa.String(40), nullable=True))
    op.create_index("ix_audit_invocation_state", "audit", ["invocation_id", "state"])
    op.add_column("inbox", sa.Column("signature_digest", sa.String(64), nullable=True))
    op.create_index("uq_inbox_signature_digest", "inbox", ["signature_digest"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_inbox_signature_digest", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("signature_digest")
    op.drop_index("ix_audit_invocation_state", table_name="audit")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("ticket_stamp")
        batch.drop_column("state")
