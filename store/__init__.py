"""Storage: SQLAlchemy engine and sessions, the shared tables, and Alembic migrations.

Use `with store.session(app) as s:` for one transaction (commit on success, rollback on
error); `store.engine(app)` for the engine. Areas declare models on `store.Base` in their own
module and add their own Alembic revision (see store/migrate.py for how), applied with
`flask --app app db upgrade`.
"""

from __future__ import annotations

from flask import Flask

from store.audit import audit_cli, list_audit
from store.db import (
    Base,
    StoreError,
    UTCDateTime,
    database_url,
    db_session,
    dispose,
    engine,
    init_engine,
    session,
    utcnow,
)
from store.migrate import db_cli, require_current, upgrade
from store.models import (
    APPLIED,
    AUDIT_STATES,
    DONE,
    FAILED,
    IGNORED,
    INBOX_STATUSES,
    INTENDED,
    NOT_APPLIED,
    PENDING,
    PROCESSING,
    AuditEntry,
    InboxEvent,
    StateEntry,
)
from store.state import (
    SERVICE_USER_ID,
    WEBHOOK_SIGNING_SECRET,
    delete_state,
    get_state,
    open_intents,
    record_audit,
    set_state,
    settle_audit,
)

__all__ = [
    "APPLIED",
    "AUDIT_STATES",
    "DONE",
    "FAILED",
    "IGNORED",
    "INBOX_STATUSES",
    "INTENDED",
    "NOT_APPLIED",
    "PENDING",
    "PROCESSING",
    "SERVICE_USER_ID",
    "WEBHOOK_SIGNING_SECRET",
    "AuditEntry",
    "Base",
    "InboxEvent",
    "StateEntry",
    "StoreError",
    "UTCDateTime",
    "database_url",
    "db_session",
    "delete_state",
    "dispose",
    "engine",
    "get_state",
    "init_app",
    "list_audit",
    "open_intents",
    "record_audit",
    "require_current",
    "session",
    "set_state",
    "settle_audit",
    "upgrade",
    "utcnow",
]


def init_app(app: Flask) -> None:
    """Create the engine (lazily connecting) and register the `db` and `audit` commands."""
    init_engine(app)
    app.cli.add_command(db_cli)
    app.cli.add_command(audit_cli)
