"""console: mapping versions and admins' duplicate verdicts; an index for audit search by rule.

Revision ID: console_0001
Revises: admin_dup_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "console_0001"
down_revision = "admin_dup_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapping_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=True),
    )
    op.create_table(
        "console_duplicate_verdict",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    # Audit search by rule (newest first) stays an index range scan at 100,000s of rows.
    op.create_index("ix_audit_rule_id", "audit", ["rule", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_rule_id", table_name="audit")
    op.drop_table("console_duplicate_verdict")
    op.drop_table("mapping_version")
