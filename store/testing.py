"""pytest fixtures for a migrated database: SQLite per test, or PostgreSQL when
CXLAYER_TEST_DATABASE_URL is set (a database created for the session, dropped after).

Use from a conftest: `from store.testing import db_app, make_db_app, test_database_url`
(or `pytest_plugins = ["store.testing"]` in the root conftest).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import store

TEST_DATABASE_ENV = "CXLAYER_TEST_DATABASE_URL"


def _psycopg_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@pytest.fixture(scope="session")
def test_database_url() -> Iterator[str | None]:
    """None on SQLite; on PostgreSQL a fresh database for this test session, dropped after."""
    server_url = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not server_url:
        yield None
        return
    admin_url = make_url(_psycopg_url(server_url))
    name = f"cxlayer_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture
def make_db_app(
    make_app: Callable[..., Flask], test_database_url: str | None
) -> Iterator[Callable[..., Flask]]:
    """Build apps on one database shared by every app of the test, migrated unless migrate=False."""
    apps: list[Flask] = []

    def factory(*, migrate: bool = True, **overrides: Any) -> Flask:
        settings = {k: dict(v) for k, v in overrides.pop("SETTINGS", {}).items()}
        if test_database_url:
            settings.setdefault("database", {})["url"] = test_database_url
        app = make_app(SETTINGS=settings, **overrides)
        apps.append(app)
        if migrate:
            store.upgrade(app)
        return app

    yield factory
    for app in apps:
        store.dispose(app)
    if test_database_url:
        _reset_postgres(test_database_url)


@pytest.fixture
def db_app(make_db_app: Callable[..., Flask]) -> Flask:
    """An app on a freshly migrated, empty database."""
    return make_db_app()
