"""The sandbox's state: one SQLite connection shared by all request threads behind one lock."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

# Distinct id ranges per kind make a ticket id passed where a user id belongs fail loudly.
ID_BASE: dict[str, int] = {
    "ticket": 0,
    "user": 1_000_000,
    "organization": 2_000_000,
    "group": 3_000_000,
    "ticket_field": 4_000_000,
    "custom_status": 5_000_000,
    "trigger": 6_000_000,
    "comment": 7_000_000_000,
    "audit": 8_000_000_000,
    "event": 9_000_000_000,
    "field_option": 4_500_000,
    "metric": 9_500_000,
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY,
    created_ts INTEGER NOT NULL,
    updated_ts INTEGER NOT NULL,
    status TEXT NOT NULL,
    custom_status_id INTEGER,
    requester_id INTEGER,
    organization_id INTEGER,
    group_id INTEGER,
    assignee_id INTEGER,
    tags TEXT NOT NULL DEFAULT ' ',
    text TEXT NOT NULL DEFAULT '',
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_updated ON tickets (updated_ts, id);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets (status);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_ticket ON comments (ticket_id, id);
CREATE TABLE IF NOT EXISTS audits (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audits_ts ON audits (ts, id);
CREATE INDEX IF NOT EXISTS audits_ticket ON audits (ticket_id, id);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT,
    role TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_email ON users (email);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS counters (
    kind TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@functools.lru_cache(maxsize=4096)
def _day(days: int) -> str:
    return datetime.fromtimestamp(days * 86400, UTC).strftime("%Y-%m-%dT")


def iso(ts: int | float) -> str:
    """Zendesk's timestamp format: UTC, whole seconds, trailing Z. (Built from a per-day cache:
    the seeder formats hundreds of thousands of timestamps.)"""
    days, rest = divmod(int(ts), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{_day(days)}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def parse_iso(value: str) -> int:
    """Epoch seconds from an ISO 8601 timestamp or date (`2024-01-31`, `...T10:00:00Z`)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


class Store:
    """SQLite state. Every access goes through `tx()`, which holds one re-entrant lock: the
    sandbox favours simple, obviously-correct serialisation over write concurrency."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(SCHEMA)
        self._depth = 0
        # Clock offset lets tests move time forward without patching the stdlib.
        self.clock_offset = 0.0

    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction; nested calls join the outer one."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.db.execute("BEGIN")
            self._depth += 1
            try:
                yield self.db
            except BaseException:
                self._depth -= 1
                if outer:
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.db.execute("COMMIT")

    def next_id(self, kind: str, count: int = 1) -> int:
        """First of `count` fresh ids for `kind`."""
        with self.tx() as db:
            row = db.execute("SELECT value FROM counters WHERE kind = ?", (kind,)).fetchone()
            current = row["value"] if row else ID_BASE.get(kind, 0)
            db.execute(
                "INSERT OR REPLACE INTO counters (kind, value) VALUES (?, ?)",
                (kind, current + count),
            )
            return int(current) + 1

    # Generic documents (organizations, groups, fields, statuses, webhooks, triggers, jobs).
    def put(self, kind: str, doc: dict[str, Any], seq: int | None = None) -> None:
        with self.tx() as db:
            if seq is None:
                row = db.execute(
                    "SELECT seq FROM objects WHERE kind = ? AND id = ?", (kind, str(doc["id"]))
                ).fetchone()
                seq = row["seq"] if row else self.next_id("seq:" + kind)
            db.execute(
                "INSERT OR REPLACE INTO objects (kind, id, seq, doc) VALUES (?, ?, ?, ?)",
                (kind, str(doc["id"]), seq, dumps(doc)),
            )

    def get(self, kind: str, obj_id: object) -> dict[str, Any] | None:
        with self.tx() as db:
            row = db.execute(
                "SELECT doc FROM objects WHERE kind = ? AND id = ?", (kind, str(obj_id))
            ).fetchone()
        return json.loads(row["doc"]) if row else None

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self.tx() as db:
            rows = db.execute(
                "SELECT doc FROM objects WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return [json.loads(r["doc"]) for r in rows]

    def delete(self, kind: str, obj_id: object) -> bool:
        with self.tx() as db:
            cur = db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, str(obj_id)))
        return cur.rowcount > 0

    # Users.
    def put_user(self, doc: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO users (id, email, role, doc) VALUES (?, ?, ?, ?)",
                (doc["id"], (doc.get("email") or "").lower() or None, doc["role"], dumps(doc)),
            )

    def get_user(self, user_id: object) -> dict[str, Any] | None:
        try:
            key = int(str(user_id))
        except ValueError:
            return None
        with self.tx() as db:
            row = db.execute("SELECT doc FROM users WHERE id = ?", (key,)).fetchone()
        return json.loads(row["doc"]) if row else None

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        with self.tx() as db:
            row = db.execute(
                "SELECT doc FROM users WHERE email = ? ORDER BY id LIMIT 1", (email.lower(),)
            ).fetchone()
        return json.loads(row["doc"]) if row else None

    # Tickets.
    def put_ticket(self, doc: dict[str, Any]) -> None:
        tags = " " + " ".join(doc.get("tags") or []) + " "
        text = ((doc.get("subject") or "") + "\n" + (doc.get("description") or "")).lower()
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO tickets (id, created_ts, updated_ts, status,"
                " custom_status_id, requester_id, organization_id, group_id, assignee_id,"
                " tags, text, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc["id"],
                    parse_iso(doc["created_at"]),
                    parse_iso(doc["updated_at"]),
                    doc["status"],
                    doc.get("custom_status_id"),
                    doc.get("requester_id"),
                    doc.get("organization_id"),
                    doc.get("group_id"),
                    doc.get("assignee_id"),
                    tags,
                    text,
                    dumps(doc),
                ),
            )

    def get_ticket(self, ticket_id: object) -> dict[str, Any] | None:
        try:
            key = int(str(ticket_id))
        except ValueError:
            return None
        with self.tx() as db:
            row = db.execute("SELECT doc FROM tickets WHERE id = ?", (key,)).fetchone()
        return json.loads(row["doc"]) if row else None

    def add_comment(self, doc: dict[str, Any], ticket_id: int) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO comments (id, ticket_id, created_ts, doc) VALUES (?, ?, ?, ?)",
                (doc["id"], ticket_id, parse_iso(doc["created_at"]), dumps(doc)),
            )

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.tx() as db:
            rows = db.execute(
                "SELECT doc FROM comments WHERE ticket_id = ? ORDER BY created_ts, id",
                (ticket_id,),
            ).fetchall()
        return [json.loads(r["doc"]) for r in rows]

    def add_audit(self, doc: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO audits (id, ticket_id, ts, doc) VALUES (?, ?, ?, ?)",
                (doc["id"], doc["ticket_id"], parse_iso(doc["created_at"]), dumps(doc)),
            )

    def audits(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.tx() as db:
            rows = db.execute(
                "SELECT doc FROM audits WHERE ticket_id = ? ORDER BY ts, id", (ticket_id,)
            ).fetchall()
        return [json.loads(r["doc"]) for r in rows]
