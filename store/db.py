"""Engine and sessions: SQLite in the instance folder by default, PostgreSQL via psycopg 3."""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

EXTENSION = "cxlayer.store"
SQLITE_FILENAME = "cxlayer.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 15_000
READONLY_OPTION = "cxlayer_readonly"


class StoreError(Exception):
    """The database cannot be used as configured (bad URL, schema not migrated)."""


class Base(DeclarativeBase):
    """Declarative base of every table; each area keeps its models in its own module."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite compares datetimes as text: store them without an offset, always in UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_url(app: Flask) -> str:
    """The configured URL, normalised: postgresql:// means psycopg 3; default SQLite file."""
    url = str(app.config["CXLAYER"].get("database", {}).get("url") or "").strip()
    if not url:
        instance = Path(app.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance / SQLITE_FILENAME}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite:")):
        return url
    # Hide any password: the URL is a secret, the scheme is what is wrong.
    raise StoreError(
        f"CXLAYER_DATABASE_URL: unsupported scheme {url.split(':', 1)[0]!r}; "
        "use postgresql://… (psycopg 3) or sqlite:///path"
    )


def _make_engine(app: Flask) -> Engine:
    url = make_url(database_url(app))
    echo = bool(app.config["CXLAYER"].get("database", {}).get("echo", False))
    if url.get_backend_name() != "sqlite":
        # No pre-ping (a round trip per checkout): a connection found dead raises once,
        # SQLAlchemy then discards the pool, and the caller's retry (Zendesk's redelivery,
        # the worker's backoff) gets a fresh connection.
        return create_engine(url, echo=echo, future=True)

    engine = create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": 15}, future=True
    )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy (not pysqlite) decide when transactions begin; see _sqlite_begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # Write transactions take the write lock up front. A deferred transaction that reads
        # and then writes fails at once with SQLITE_BUSY when another writer got in between
        # (busy_timeout does not apply); IMMEDIATE waits its turn instead. This is also what
        # serialises inbox claims between worker processes on SQLite. Read-only sessions
        # (session(readonly=True)) begin deferred: under WAL they never wait for writers.
        readonly = connection.get_execution_options().get(READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def init_engine(app: Flask) -> None:
    engine = _make_engine(app)
    # A forked child (gunicorn --preload, multiprocessing) must not reuse the parent's pooled
    # connections; close=False leaves them to the parent. Weak, so apps can be collected.
    ref = weakref.ref(engine)

    def _after_fork() -> None:
        forked = ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=_after_fork)
    app.extensions[EXTENSION] = {
        "engine": engine,
        "sessionmaker": sessionmaker(engine, expire_on_commit=False),
        "readonly_sessionmaker": sessionmaker(
            engine.execution_options(**{READONLY_OPTION: True}), expire_on_commit=False
        ),
    }


def engine(app: Flask | None = None) -> Engine:
    """The app's engine (one per app, created by store.init_app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        result: Engine = app.extensions[EXTENSION]["engine"]
        return result
    except KeyError:
        raise StoreError("store.init_app(app) was not called") from None


@contextmanager
def session(app: Flask | None = None, *, readonly: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    Objects stay usable after the block (expire_on_commit=False), detached from the session.
    `readonly=True` is for blocks that only read: on SQLite they do not queue behind writers
    (writing in one anyway fails with "database is locked" under contention).
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        factory: sessionmaker[Session] = app.extensions[EXTENSION][
            "readonly_sessionmaker" if readonly else "sessionmaker"
        ]
    except KeyError:
        raise StoreError("store.init_app(app) was not called") from None
    with factory() as sess, sess.begin():
        yield sess


db_session = session


def dispose(app: Flask) -> None:
    """Close pooled connections (tests, forks, shutdown)."""
    ext = app.extensions.get(EXTENSION)
    if ext:
        ext["engine"].dispose()
