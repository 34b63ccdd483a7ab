"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from mappings import Mappings, load_mappings
from sandbox.testing import SandboxHandle, run_sandbox


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    """Build apps from override dicts, never from the process environment."""

    def factory(**overrides: Any) -> Flask:
        overrides.setdefault("ENVIRON", {})
        overrides.setdefault("INSTANCE_PATH", str(tmp_path / "instance"))
        overrides.setdefault("TESTING", True)
        return create_app(overrides)

    yield factory


@pytest.fixture
def app(make_app: Any) -> Flask:
    application: Flask = make_app()
    return application


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    """The shipped mappings (immutable, so one load serves every test)."""
    return load_mappings()


@pytest.fixture
def zd() -> Iterator[SandboxHandle]:
    """A fresh, empty Zendesk sandbox account on a free loopback port."""
    with run_sandbox() as handle:
        yield handle
