"""store: inbox, audit and state tables.

Revision ID: store_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "store_0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("invocation_id", sa.String(200), nullable=False),
        sa.Column("webhook_id", sa.String(200), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("invocation_id", name="uq_inbox_invocation_id"),
    )
    op.create_index("ix_inbox_status_next_attempt", "inbox", ["status", "next_attempt_at"])
    op.create_index("ix_inbox_ticket_status", "inbox", ["ticket_id", "status", "id"])

    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("invocation_id", sa.String(200), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("api_result", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_audit_ticket_id", "audit", ["ticket_id"])
    op.create_index("ix_audit_invocation_id", "audit", ["invocation_id"])
    op.create_index("ix_audit_created_at", "audit", ["created_at"])

    op.create_table(
        "state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("state")
    op.drop_table("audit")
    op.drop_table("inbox")
