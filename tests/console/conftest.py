"""Console tests on a migrated database (SQLite, or PostgreSQL under `make test-postgres`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = generate_password_hash(PASSWORD)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


@pytest.fixture
def console_app(make_db_app: Callable[..., Flask]) -> Callable[..., Flask]:  # noqa: F811
    def factory(**settings: Any) -> Flask:
        admin = {"password_hash": PASSWORD_HASH}
        return make_db_app(SETTINGS={"admin": admin, **settings})

    return factory


def sign_in(client: FlaskClient, password: str = PASSWORD) -> Any:
    token = csrf_token(client.get("/console/login").text)
    return client.post(
        "/console/login", data={"csrf_token": token, "username": "admin", "password": password}
    )
