"""Key/value state shared by areas: get_state/set_state inside a session (JSON values)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from store.db import utcnow
from store.models import APPLIED, INTENDED, AuditEntry, StateEntry

# Well-known keys; areas add theirs here or in their own module (use a dotted area prefix).
WEBHOOK_SIGNING_SECRET = "webhook.signing_secret"  # noqa: S105 - a key name, not a secret
SERVICE_USER_ID = "zendesk.service_user_id"


# Built once: the webhook endpoint reads the signing secret on every request.
_GET = select(StateEntry.key, StateEntry.value).where(StateEntry.key == bindparam("key"))


def get_state(sess: Session, key: str, default: Any = None) -> Any:
    """The stored value of `key`, or `default` when never set."""
    found = sess.execute(_GET, {"key": key}).first()
    return default if found is None else found.value


def set_state(sess: Session, key: str, value: Any) -> None:
    """Create or replace `key` atomically (an upsert, safe between processes)."""
    now = utcnow()
    dialect = sess.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(StateEntry).values(key=key, value=value, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StateEntry.key], set_={"value": value, "updated_at": now}
    )
    sess.execute(stmt)
    sess.expire_all()


def delete_state(sess: Session, key: str) -> None:
    sess.execute(delete(StateEntry).where(StateEntry.key == key))


def record_audit(
    sess: Session,
    *,
    ticket_id: int,
    rule: str,
    action: str,
    reason: str,
    invocation_id: str | None = None,
    before: Any = None,
    after: Any = None,
    api_result: str | None = None,
    state: str = APPLIED,
    ticket_stamp: str | None = None,
) -> AuditEntry:
    """Append one audit row (flushed, so its id is known) for an action the service took.

    `state="intended"` before the Zendesk write (see store.models.AUDIT_STATES); settle it
    with `settle_audit` once the write's outcome is known.
    """
    entry = AuditEntry(
        state=state,
        ticket_stamp=ticket_stamp,
        ticket_id=ticket_id,
        rule=rule,
        action=action,
        reason=reason,
        invocation_id=invocation_id,
        before=before,
        after=after,
        api_result=api_result,
        created_at=utcnow(),
    )
    sess.add(entry)
    sess.flush()
    return entry


def open_intents(sess: Session, invocation_id: str) -> list[AuditEntry]:
    """The `intended` audit rows of one event: a previous attempt died between them and the
    outcome of its Zendesk write."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.invocation_id == invocation_id, AuditEntry.state == INTENDED)
        .order_by(AuditEntry.id)
    )
    return list(sess.scalars(query))


def settle_audit(sess: Session, ids: Iterable[int], state: str, api_result: str) -> None:
    """Record the outcome of the write the rows `ids` announced (only rows still intended)."""
    sess.execute(
        update(AuditEntry)
        .where(AuditEntry.id.in_(list(ids)), AuditEntry.state == INTENDED)
        .values(state=state, api_result=api_result)
    )
