"""console: admins' duplicate verdicts become the detector's feedback (dup_flag confirmed_at /
feedback_at, suppressed pair source "admin"); failed local sign-ins for the lockout.

Who gave each verdict stays in the audit (rule `console`, action `duplicate_verdict`).

Revision ID: console_0002
Revises: admin_0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.db import UTCDateTime

revision = "console_0002"
down_revision = "admin_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    flag = sa.table(
        "dup_flag",
        sa.column("ticket_id", sa.BigInteger()),
        sa.column("candidate_id", sa.BigInteger()),
        sa.column("confirmed_at", UTCDateTime()),
        sa.column("feedback_at", UTCDateTime()),
    )
    old = sa.table(
        "console_duplicate_verdict",
        sa.column("ticket_id", sa.BigInteger()),
        sa.column("candidate_id", sa.BigInteger()),
        sa.column("verdict", sa.String()),
        sa.column("recorded_at", UTCDateTime()),
    )
    verdicts = bind.execute(
        sa.select(old.c.ticket_id, old.c.candidate_id, old.c.verdict, old.c.recorded_at)
    ).all()
    for ticket_id, candidate_id, verdict, recorded_at in verdicts:
        column = "confirmed_at" if verdict == "duplicate" else "feedback_at"
        # Only a flag still unjudged takes the admin's word (agents' feedback came first).
        bind.execute(
            flag.update()
            .where(
                flag.c.ticket_id == ticket_id,
                flag.c.candidate_id == candidate_id,
                flag.c.confirmed_at.is_(None),
                flag.c.feedback_at.is_(None),
            )
            .values({column: recorded_at})
        )
    # The old console recorded each "not a duplicate" pair (source "admin") already.
    op.drop_table("console_duplicate_verdict")
    op.create_table(
        "console_signin_failure",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("failed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_console_signin_failure_username", "console_signin_failure", ["username"])
    op.create_index("ix_console_signin_failure_address", "console_signin_failure", ["address"])
    op.create_index("ix_console_signin_failure_failed_at", "console_signin_failure", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_console_signin_failure_failed_at", table_name="console_signin_failure")
    op.drop_index("ix_console_signin_failure_address", table_name="console_signin_failure")
    op.drop_index("ix_console_signin_failure_username", table_name="console_signin_failure")
    op.drop_table("console_signin_failure")
    # The verdicts stay on dup_flag (the detector's feedback); the old table comes back empty.
    op.create_table(
        "console_duplicate_verdict",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
