"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from mappings import Mappings, load_mappings
from sandbox.testing import SandboxHandle, run_sandbox
from settings import ROOT


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


# Browser tests (tests/browser/, tests/sidebar/): pytest-playwright drives Debian's Chromium,
# installed by .ci/chromium.sh when missing; nothing downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, one browser per session for every page test."""
    if not CHROMIUM.exists():
        subprocess.run(["bash", str(ROOT / ".ci" / "chromium.sh")], check=True, timeout=900)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }
